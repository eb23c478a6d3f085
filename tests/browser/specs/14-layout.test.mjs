// The visitor's chat as a messenger on a phone (issue 19, part C), in
// Japanese and English, at 360x740 and 1280x800, light and dark:
// - the start button is inside the first screen of the welcome page;
// - the message area is at least 55 % of the viewport while waiting,
//   while chatting and with the handoff card open; with the keyboard open
//   (360x420) the last message and the composer are in view;
// - a counsellor joining shows a join line and the site's greeting, and a
//   hidden tab's title says so (and comes back when the tab is seen);
// - sound and notification only when the visitor turns them on;
// - 「接続が戻りました」 clears itself; the newest delivery line is not
//   clipped; the text size is kept on the device.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  counsellorPage,
  phonePage,
  visitorPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  visitorSend,
  counsellorSend,
  counsellorOffers,
  counsellorEnds,
  waitText,
  axeScan,
  assertNoHorizontalScroll,
  screenshot,
  assertClean,
} from '../lib/harness.mjs';

const COPY = {
  ja: {
    joined: (name) => `${name}さんが入りました`,
    greeting: 'つながりました。',
    greetingLabel: 'お知らせ',
    unread: '新しいメッセージ',
    appName: 'つなぐ',
    back: '接続が戻りました',
    position: '番目',
    line: '1番目（1人待ち）・いまは相談員がいません',
    notification: '新しいメッセージがあります',
    larger: '特大',
    normal: '標準',
  },
  en: {
    joined: (name) => `${name} joined`,
    greeting: 'You are connected.',
    greetingLabel: 'From the site',
    unread: 'New message',
    appName: 'Tsunagu',
    back: 'Connected again',
    position: 'Your place in the queue',
    line: 'Place 1 of 1 · no one free now',
    notification: 'You have a new message',
    larger: 'Largest',
    normal: 'Standard',
  },
};

/** The share of the viewport's height the message area has. */
const MIN_SHARE = 0.55;

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Pretend the tab is in the background (another app in front) or back in front. */
async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true });
    Object.defineProperty(document, 'hidden', { value: h, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** Geometry of the chat: the log, the composer, the viewport, whether the page itself scrolls. */
async function chatGeometry(page) {
  // Two frames: the layout and the log's scroll have settled.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate(() => {
    const rect = (el) => {
      const r = el.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, height: r.height };
    };
    const log = document.querySelector('#messages');
    const last = [...log.querySelectorAll('.msg, .msg-system')].at(-1);
    const lastStatus = [...log.querySelectorAll('.msg-own .msg-status')].at(-1);
    return {
      viewport: window.innerHeight,
      log: rect(log),
      last: last ? rect(last) : null,
      lastStatus: lastStatus ? rect(lastStatus) : null,
      composer: rect(document.querySelector('#composer-text')),
      send: rect(document.querySelector('#composer button[type="submit"]')),
      pageScrolls: document.documentElement.scrollHeight > window.innerHeight + 1,
    };
  });
}

function assertShare(g, label) {
  const share = g.log.height / g.viewport;
  assert.ok(share >= MIN_SHARE, `${label}: the message area is ${Math.round(g.log.height)} px of ${g.viewport} (${(share * 100).toFixed(1)} %)`);
  assert.ok(g.log.top >= 0 && g.log.bottom <= g.viewport + 0.5, `${label}: the message area is inside the viewport ${JSON.stringify(g.log)}`);
  assert.ok(g.composer.bottom <= g.viewport + 0.5 && g.send.bottom <= g.viewport + 0.5, `${label}: the composer is in view`);
  console.log(`# ${label}: message area ${Math.round(g.log.height)}/${g.viewport} px = ${(share * 100).toFixed(1)} %`);
  return share;
}

/** Inside the log's box (to the half pixel). */
function inLog(g, r) {
  return r.top >= g.log.top - 0.5 && r.bottom <= g.log.bottom + 0.5;
}

async function lightAndDark(page, lang, label, shot) {
  await axeScan(page, `${lang} ${label} (light)`);
  await assertNoHorizontalScroll(page, `${lang} ${label}`);
  await screenshot(page, lang, shot);
  await page.emulateMedia({ colorScheme: 'dark' });
  await axeScan(page, `${lang} ${label} (dark)`);
  await screenshot(page, lang, `${shot}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

for (const [lang, username, name] of [
  ['ja', 'aoki', '青木'],
  ['en', 'baba', '馬場'],
]) {
  test(`the welcome page's start button is on the first screen (${lang})`, async () => {
    const v = await visitorPage(browser);
    try {
      await switchLang(v.page, lang);
      await waitText(v.page, '#screen-welcome .alternatives', '0120-279-338');
      for (const viewport of [{ width: 360, height: 740 }, { width: 1280, height: 800 }]) {
        await v.page.setViewportSize(viewport);
        await v.page.evaluate(() => window.scrollTo(0, 0));
        const box = await v.page.locator('#start-button').boundingBox();
        assert.ok(box && box.y >= 0 && box.y + box.height <= viewport.height, `${lang} ${viewport.width}x${viewport.height}: start button at ${JSON.stringify(box)}`);
        console.log(`# ${lang} ${viewport.width}x${viewport.height}: start button bottom at ${Math.round(box.y + box.height)} px`);
        // The emergency numbers are still on the page, right under it.
        await waitText(v.page, '#screen-welcome .emergency', '119');
        const emergency = await v.page.locator('#screen-welcome .emergency').boundingBox();
        assert.ok(emergency.y > box.y, 'the emergency numbers follow the start button');
      }
      await v.page.setViewportSize({ width: 360, height: 740 });
      await lightAndDark(v.page, lang, 'welcome', 'layout-welcome');

      // The text size: chosen once, applied at once, kept on the device.
      await v.page.click('#settings summary');
      const before = await v.page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
      await v.page.locator('#settings .radio-chip', { hasText: COPY[lang].larger }).click();
      const after = await v.page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
      assert.ok(after >= before * 1.3, `text size ${before} -> ${after}`);
      assert.equal(await v.page.evaluate(() => localStorage.getItem('tsunagu.text_size')), 'larger');
      await v.page.reload();
      await v.page.waitForSelector('#start-button:not([disabled])');
      assert.equal(await v.page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize)), after);
      assert.ok(await v.page.locator('#settings input[value="larger"]').isChecked());
      await v.page.evaluate(() => window.scrollTo(0, 0));
      await axeScan(v.page, `${lang} welcome, largest text`);
      await screenshot(v.page, lang, 'layout-welcome-text-larger');
      const box = await v.page.locator('#start-button').boundingBox();
      console.log(`# ${lang} largest text: start button bottom at ${Math.round(box.y + box.height)} px`);
      assertClean(v.page, v.context);
    } finally {
      await v.context.close();
    }
  });

  test(`the booking look-up page, which shares the visitor's stylesheet, passes axe in dark mode too (${lang})`, async () => {
    const b = await phonePage(browser, '/booking/');
    try {
      await b.page.waitForFunction(() => document.getElementById('lookup-submit').textContent.length > 0);
      await switchLang(b.page, lang);
      await lightAndDark(b.page, lang, 'booking look-up', 'layout-booking-lookup');
      assertClean(b.page, b.context);
    } finally {
      await b.context.close();
    }
  });

  test(`waiting, joining in a hidden tab, chatting, the keyboard, the handoff card and a reconnect (${lang})`, async () => {
    const copy = COPY[lang];
    const c = await counsellorPage(browser, username);
    const sockets = [];
    const v = await visitorPage(browser, {
      beforeGoto: async (page) => {
        // A stand-in for the browser's notifications that records what the page does with them.
        await page.addInitScript(() => {
          window.__notes = [];
          window.__asked = 0;
          class FakeNotification {
            constructor(title, options) {
              window.__notes.push({ title, body: options?.body ?? '' });
            }
            close() {}
          }
          FakeNotification.permission = 'default';
          FakeNotification.requestPermission = async () => {
            window.__asked += 1;
            FakeNotification.permission = 'granted';
            return 'granted';
          };
          Object.defineProperty(window, 'Notification', { value: FakeNotification, configurable: true, writable: true });
        });
        await page.routeWebSocket(/\/ws\/visitor$/, (ws) => {
          const server = ws.connectToServer();
          sockets.push({ ws, server });
        });
      },
    });
    try {
      await switchLang(c.page, lang);
      await switchLang(v.page, lang);
      await waitQueueEmpty(c.page);
      await setAvailable(c.page, false);

      // ---- waiting: one line of queue information, expandable
      await startChat(v.page);
      await waitText(v.page, '#queue-position', copy.position);
      await waitText(v.page, '#wait-line', copy.line);
      const summary = await v.page.locator('#wait-info summary').boundingBox();
      assert.ok(summary.height <= 48, `the waiting line is one line (${summary.height} px)`);
      const cut = await v.page.$eval('#wait-line', (e) => e.scrollWidth > e.clientWidth + 1);
      assert.equal(cut, false, 'the short line fits 360 px whole');
      assert.ok(!(await v.page.locator('#wait-hint').isVisible()), 'the hints are folded away');
      await v.page.click('#wait-info summary');
      assert.ok(await v.page.locator('#wait-hint').isVisible(), 'the hints open under the line');
      assert.ok(await v.page.locator('#queue-estimate').isVisible(), 'the full estimate opens under the line');
      await screenshot(v.page, lang, 'layout-waiting-open');
      await v.page.click('#wait-info summary');
      await visitorSend(v.page, lang === 'ja' ? '待っている間に書きます' : 'Writing while I wait');
      await v.page.waitForSelector('#messages .msg-own[data-status="sent"]');
      assertShare(await chatGeometry(v.page), `${lang} 360x740 waiting`);
      await lightAndDark(v.page, lang, 'waiting', 'layout-waiting');

      // ---- alerts are off until the visitor turns them on; only then is permission asked
      assert.equal(await v.page.isChecked('#alerts-toggle'), false);
      assert.equal(await v.page.evaluate(() => window.__asked), 0);
      await v.page.click('#settings summary');
      await v.page.check('#alerts-toggle');
      await v.page.waitForFunction(() => window.__asked === 1);
      await v.page.click('#settings summary');

      // ---- matched while the tab is hidden: join line, greeting, title, notification
      await setHidden(v.page, true);
      await setAvailable(c.page, true);
      await waitText(v.page, '#messages .msg-system', copy.joined(name));
      await waitText(v.page, '#messages .msg-greeting', copy.greeting);
      await waitText(v.page, '#messages .msg-greeting-label', copy.greetingLabel);
      await v.page.waitForFunction((u) => document.title.includes(u), copy.unread);
      assert.match(await v.page.title(), /^\(1\) /);
      const notes = await v.page.evaluate(() => window.__notes);
      assert.equal(notes.length, 1, JSON.stringify(notes));
      assert.equal(notes[0].title, copy.notification);
      // A counsellor's message while still hidden: counted, and the notification never carries its words.
      const secret = lang === 'ja' ? 'ひみつの返事' : 'a private reply';
      await counsellorSend(c.page, secret);
      await v.page.waitForFunction(() => document.title.startsWith('(2) ') || window.__notes.length === 2);
      await v.page.waitForFunction(() => window.__notes.length === 2);
      assert.ok((await v.page.evaluate(() => JSON.stringify(window.__notes))).indexOf(secret) < 0, 'no message text in a notification');
      await setHidden(v.page, false);
      await v.page.waitForFunction((n) => document.title === n, copy.appName);
      await screenshot(v.page, lang, 'layout-joined');

      // ---- chatting: the log keeps its share; the newest delivery line is not clipped
      for (let i = 1; i <= 6; i++) {
        await counsellorSend(c.page, lang === 'ja' ? `相談員の${i}通目です。ゆっくりで大丈夫です。` : `Counsellor's message ${i}. Take your time.`);
        await visitorSend(v.page, lang === 'ja' ? `わたしの${i}通目` : `My message ${i}`);
      }
      await v.page.waitForSelector('#messages .msg-own[data-status="delivered"] >> nth=6');
      let g = await chatGeometry(v.page);
      assertShare(g, `${lang} 360x740 chatting`);
      assert.ok(g.pageScrolls === false, 'the page itself does not scroll; the log does');
      assert.ok(inLog(g, g.lastStatus), `the newest delivery line is whole: ${JSON.stringify({ log: g.log, status: g.lastStatus })}`);
      await lightAndDark(v.page, lang, 'chatting', 'layout-chatting');

      // ---- the keyboard open: 360x420; the last message and the composer stay in view
      await v.page.setViewportSize({ width: 360, height: 420 });
      await v.page.focus('#composer-text');
      g = await chatGeometry(v.page);
      assert.ok(inLog(g, g.last), `the last message is in view at 360x420: ${JSON.stringify({ log: g.log, last: g.last })}`);
      assert.ok(g.composer.bottom <= g.viewport + 0.5 && g.send.bottom <= g.viewport + 0.5, 'the composer is in view at 360x420');
      console.log(`# ${lang} 360x420 (keyboard): message area ${Math.round(g.log.height)} px, last message ${Math.round(g.last.height)} px`);
      await screenshot(v.page, lang, 'layout-keyboard');

      // ---- the largest text: the log still has the larger part of the screen
      await v.page.setViewportSize({ width: 360, height: 740 });
      await v.page.click('#settings summary');
      await v.page.locator('#settings .radio-chip', { hasText: copy.larger }).click();
      await v.page.click('#settings summary');
      g = await chatGeometry(v.page);
      const largest = g.log.height / g.viewport;
      console.log(`# ${lang} 360x740 chatting, largest text: message area ${Math.round(g.log.height)}/${g.viewport} px = ${(largest * 100).toFixed(1)} %`);
      // Every text scales (as a zoom would), the buttons too: less than at the standard size, still the largest part.
      await screenshot(v.page, lang, 'layout-chatting-text-larger');
      assert.ok(largest >= 0.4, `largest text: ${largest}`);
      assert.ok(inLog(g, g.lastStatus), 'largest text: the newest delivery line is whole');
      // On a phone the character count shows only once the text nears the limit.
      assert.ok(await v.page.locator('#composer-count').isHidden(), 'no count under an empty composer at 360 px');
      await v.page.fill('#composer-text', 'あ'.repeat(1700));
      await v.page.locator('#composer-count').waitFor();
      await v.page.fill('#composer-text', '');
      assert.ok(await v.page.locator('#composer-count').isHidden(), 'the count goes again with the text');
      await v.page.click('#settings summary');
      await v.page.locator('#settings .radio-chip', { hasText: copy.normal }).click();
      await v.page.click('#settings summary');

      // ---- a desk: 1280x800
      await v.page.setViewportSize({ width: 1280, height: 800 });
      g = await chatGeometry(v.page);
      assertShare(g, `${lang} 1280x800 chatting`);
      await lightAndDark(v.page, lang, 'desk', 'layout-desk');
      await v.page.setViewportSize({ width: 360, height: 740 });

      // ---- the handoff card opens in the log: the log keeps its share, the card's top is shown
      await counsellorOffers(c.page, lang === 'ja' ? 'センターでの初回の面談をご案内します。' : 'A first meeting at the centre.');
      await v.page.waitForSelector('#messages > #handoff:not([hidden])');
      g = await chatGeometry(v.page);
      assertShare(g, `${lang} 360x740 handoff card open`);
      const cardTop = await v.page.evaluate(() => document.querySelector('#handoff').getBoundingClientRect().top);
      assert.ok(cardTop >= g.log.top - 0.5 && cardTop < g.log.bottom, 'the card is shown from its top');
      await lightAndDark(v.page, lang, 'handoff card', 'layout-handoff');
      // Later messages come under the card, as in a messenger.
      await counsellorSend(c.page, lang === 'ja' ? 'ご案内の後のひとこと' : 'A word after the offer');
      await v.page.waitForFunction(() => {
        const card = document.querySelector('#handoff');
        const last = [...document.querySelectorAll('#messages .msg')].at(-1);
        return last && card.compareDocumentPosition(last) & Node.DOCUMENT_POSITION_FOLLOWING;
      });
      // The visitor is reading the card: the log does not jump; a button says something new is below.
      await v.page.waitForSelector('#jump-new:not([hidden])');
      g = await chatGeometry(v.page);
      assert.ok(!inLog(g, g.last), 'the log stayed on the card');
      await axeScan(v.page, `${lang} new message below`);
      await screenshot(v.page, lang, 'layout-new-below');
      await v.page.click('#jump-new');
      await v.page.waitForSelector('#jump-new', { state: 'hidden' });
      g = await chatGeometry(v.page);
      assert.ok(inLog(g, g.last), 'after the button, the newest message is in view');

      // ---- a dropped socket: 「接続が戻りました」 appears, then clears itself within a few seconds
      const dropped = sockets.at(-1);
      await dropped.ws.close({ code: 1012, reason: 'server restarting; reconnect and resume' });
      dropped.server.close();
      await waitText(v.page, '#conn-text', copy.back, 15_000);
      const shownAt = Date.now();
      await screenshot(v.page, lang, 'layout-reconnected');
      await v.page.waitForFunction(() => document.querySelector('#conn-text').textContent === '', null, { timeout: 8000 });
      const gone = Date.now() - shownAt;
      assert.ok(gone <= 6000, `the banner cleared after ${gone} ms`);
      console.log(`# ${lang} reconnect banner cleared after ~${gone} ms`);

      // The counsellor closes the chat while the visitor is in another app: the title says so.
      await setHidden(v.page, true);
      await counsellorEnds(c.page);
      await v.page.waitForSelector('#ended-panel:not([hidden])', { state: 'attached' });
      await v.page.waitForFunction((u) => document.title.includes(u), copy.unread);
      await setHidden(v.page, false);
      await v.page.waitForFunction((n) => document.title === n, copy.appName);
      await v.page.waitForSelector('#ended-panel:not([hidden])');
      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });
}
