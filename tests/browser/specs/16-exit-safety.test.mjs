// Issue 19: the quick exit that protects, and safety information where it
// is needed. The quick exit (button, Shift three times, Escape twice)
// leaves nothing in view, history or storage, and the counsellor's console
// shows "left quickly" while the conversation stays open. A flagged word
// written while waiting, and another written mid-chat, each show the
// visitor the safety panel (with the shipped defaults: 119, 110 and the
// national lines; never a diagnosis) and alert the counsellor and the
// supervisor. Every conversation is ended and every alert acknowledged
// before a test ends, so later spec files find an empty queue and floor.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  NEUTRAL_URL,
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  visitorSend,
  visitorSession,
  counsellorSend,
  counsellorEnds,
  panel,
  waitText,
  checkState,
  assertClean,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The visitor's page has gone for the neutral one and left nothing behind. */
async function leftWithoutTrace(v, historyLength, words) {
  await v.page.waitForURL(NEUTRAL_URL);
  const body = await v.page.textContent('body');
  for (const w of words) assert.ok(!body.includes(w), `"${w}" still in view: ${body}`);
  assert.equal(await v.page.evaluate(() => history.length), historyLength, 'the chat was replaced in the history, not added to');
  await v.page.goBack();
  assert.ok(!v.page.url().startsWith(BASE), `back went to ${v.page.url()}`);
  await v.page.goto(`${BASE}/`);
  await v.page.waitForSelector('#screen-welcome:not([hidden])');
  assert.equal(await v.page.evaluate(() => sessionStorage.length), 0);
  assert.equal(await v.page.evaluate(() => localStorage.length), 0);
  assert.equal(await v.page.locator('#messages .msg').count(), 0);
}

/** The console shows this conversation as "left quickly", still open (not ended). */
async function consoleShowsLeftQuickly(c, id, { meta, notice }) {
  await c.page.locator(`#conv-list li`).filter({ hasText: meta }).first().waitFor();
  const p = panel(c.page);
  await waitText(c.page, '.conv-panel:not([hidden]) .conv-meta', meta);
  assert.equal(await p.locator('.conv-meta').getAttribute('data-left-quickly'), 'true');
  await waitText(c.page, '#notices', notice);
  assert.ok(await p.locator('.composer').isVisible(), 'the conversation is still open: the composer is there');
  assert.ok(await p.locator('.close-conv').isHidden(), 'not ended');
  // It is this visitor's conversation that shows it.
  await waitText(c.page, '.conv-panel:not([hidden]) h2', `#${id.replace(/-/g, '').slice(-4)}`);
}

test('quick exit by the button mid-chat: nothing left on the phone, "left quickly" on the console (ja)', async () => {
  const c = await counsellorPage(browser, 'ikeda');
  const v = await visitorPage(browser);
  try {
    await waitQueueEmpty(c.page);
    await setAvailable(c.page, true);
    await startChat(v.page);
    await waitText(v.page, '#chat-heading', '池田');
    await c.page.waitForSelector('.conv-panel:not([hidden])');
    const id = (await visitorSession(v.page)).conversation_id;
    await counsellorSend(c.page, 'こんにちは');
    await waitText(v.page, '#messages .msg-text', 'こんにちは');
    await visitorSend(v.page, '家族に見られたくない');
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', '家族に見られたくない');
    const historyLength = await v.page.evaluate(() => history.length);

    // The quick exit goes as a beacon, which outlives the page (a frame on
    // the socket can be lost as the navigation closes it).
    const beacons = [];
    v.page.on('request', (r) => {
      if (r.url().endsWith('/api/visitor/leave-quickly')) beacons.push(r.method());
    });
    await v.page.click('#quick-exit');
    await leftWithoutTrace(v, historyLength, ['家族に見られたくない', 'こんにちは']);
    assert.deepEqual(beacons, ['POST']);

    await consoleShowsLeftQuickly(c, id, { meta: '急いで退出', notice: '相談者が急いで退出しました' });
    assert.doesNotMatch(await panel(c.page).innerText(), /相談者がチャットを終えました/);
    await checkState(c.page, 'ja', 'console: the visitor left quickly', 'exit-console-left-quickly');

    // The counsellor decides when it ends.
    await counsellorEnds(c.page, 'visitor_left');
    assertClean(c.page, c.context);
  } finally {
    await v.context.close();
    await c.context.close();
  }
});

test('quick exit from the keyboard: Shift three times, and Escape twice (en)', async () => {
  const c = await counsellorPage(browser, 'ono');
  try {
    await switchLang(c.page, 'en');
    await waitQueueEmpty(c.page);
    await setAvailable(c.page, true);
    for (const [keys, times] of [['Shift', 3], ['Escape', 2]]) {
      const v = await visitorPage(browser);
      try {
        await switchLang(v.page, 'en');
        await startChat(v.page);
        await waitText(v.page, '#chat-heading', '小野');
        await c.page.waitForSelector('.conv-panel:not([hidden])');
        const id = (await visitorSession(v.page)).conversation_id;
        await visitorSend(v.page, `private words ${keys}`);
        await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', `private words ${keys}`);
        if (keys === 'Shift') await checkState(v.page, 'en', 'visitor chatting', 'exit-visitor-chatting');
        const historyLength = await v.page.evaluate(() => history.length);
        // Focus in the composer, as when someone walks in mid-sentence.
        await v.page.focus('#composer-text');
        for (let i = 0; i < times; i += 1) await v.page.keyboard.press(keys);
        await leftWithoutTrace(v, historyLength, [`private words ${keys}`]);
        await consoleShowsLeftQuickly(c, id, { meta: 'Left quickly', notice: 'the visitor left quickly' });
        if (keys === 'Shift') await checkState(c.page, 'en', 'console: the visitor left quickly', 'exit-console-left-quickly');
        await counsellorEnds(c.page, 'visitor_left');
      } finally {
        await v.context.close();
      }
    }
    assertClean(c.page, c.context);
  } finally {
    await c.context.close();
  }
});

test('a flagged word while waiting and another mid-chat: the safety panel for the visitor, alerts for the counsellor and supervisor', async () => {
  const sup = await counsellorPage(browser, 'kubo');
  const c = await counsellorPage(browser, 'ikeda');
  const opened = [sup, c];
  try {
    await waitQueueEmpty(c.page);
    await setAvailable(c.page, false);

    // Waiting (ja, on a phone): the panel comes unasked, with 119/110 and the lines.
    const a = await visitorPage(browser);
    opened.push(a);
    await startChat(a.page);
    const idA = (await visitorSession(a.page)).conversation_id;
    assert.ok(await a.page.locator('#safety').isHidden(), 'no panel before anything flagged');
    await visitorSend(a.page, 'もう消えたい。死にたい');
    await a.page.waitForSelector('#safety:not([hidden])');
    assert.equal(await a.page.locator('#safety-emergency a[href="tel:119"]').count(), 1);
    assert.equal(await a.page.locator('#safety-emergency a[href="tel:110"]').count(), 1);
    await waitText(a.page, '#safety-lines', 'よりそいホットライン');
    await waitText(a.page, '#safety-lines', '24時間子供SOSダイヤル');
    const panelText = await a.page.locator('#safety').innerText();
    assert.doesNotMatch(panelText, /リスク|自傷|自殺|判定|緊急度|設定されていません/);
    // Still waiting, and told their place as before.
    await waitText(a.page, '#queue-position', '番目');
    await checkState(a.page, 'ja', 'visitor waiting with the safety panel', 'safety-waiting');
    // On the phone the open panel leaves the composer, 119 and the newest message in view.
    const inView = await a.page.evaluate(() => {
      const box = (sel) => document.querySelector(sel).getBoundingClientRect();
      const vh = window.innerHeight;
      const msgs = document.querySelectorAll('#messages .msg');
      const last = msgs[msgs.length - 1].getBoundingClientRect();
      const log = box('#messages');
      return {
        composer: box('#composer-text').bottom <= vh,
        emergency: box('#safety-emergency a[href="tel:119"]').bottom <= vh,
        lastMessage: last.top < log.bottom && last.bottom > log.top,
        log: Math.round(log.height),
      };
    });
    console.log(`# 360x740 with the safety panel open: log ${inView.log} px`);
    assert.deepEqual(
      { composer: inView.composer, emergency: inView.emergency, lastMessage: inView.lastMessage },
      { composer: true, emergency: true, lastMessage: true },
    );
    // The supervisor is alerted; the counsellor's queue marks the visitor urgent.
    const alertA = sup.page.locator(`#alerts .alert-item[data-conversation="${idA}"]`);
    await alertA.waitFor();
    await c.page.locator(`#queue-list li[data-conversation="${idA}"][data-risk="urgent"]`).waitFor();
    // Made smaller: a compact line that stays, and opens again.
    await a.page.click('#safety-collapse');
    await a.page.waitForSelector('#safety-expand:not([hidden])');
    assert.ok(await a.page.locator('#safety-full').isHidden());
    await checkState(a.page, 'ja', 'visitor waiting with the compact safety line', 'safety-waiting-compact');
    // A reload keeps it (the server sends it again).
    await a.page.reload();
    await a.page.waitForSelector('#safety:not([hidden]) #safety-expand:not([hidden])');
    await a.page.click('#safety-expand');
    await a.page.waitForSelector('#safety-full:not([hidden])');
    // This visitor leaves the queue (later tests need it empty).
    await a.page.click('#end-chat');
    await a.page.click('#confirm-yes');
    await a.page.waitForSelector('#ended-panel:not([hidden])');

    // Mid-chat (en): nothing before; the flagged words bring the panel.
    await setAvailable(c.page, true);
    const b = await visitorPage(browser, { viewport: { width: 1280, height: 800 } });
    opened.push(b);
    await switchLang(b.page, 'en');
    await startChat(b.page);
    const idB = (await visitorSession(b.page)).conversation_id;
    await waitText(b.page, '#chat-heading', '池田');
    await c.page.locator(`#conv-list li`).nth(0).waitFor();
    await visitorSend(b.page, 'hello');
    await waitText(c.page, '.conv-panel .msg-text', 'hello');
    assert.ok(await b.page.locator('#safety').isHidden());
    await visitorSend(b.page, "I don't want to live anymore");
    await b.page.waitForSelector('#safety:not([hidden])');
    await waitText(b.page, '#safety', 'Yorisoi Hotline');
    assert.doesNotMatch(await b.page.locator('#safety').innerText(), /risk|suicid|self-harm|urgent|none configured/i);
    await checkState(b.page, 'en', 'visitor mid-chat with the safety panel', 'safety-mid-chat');
    // The counsellor: the conversation turns urgent; the supervisor: an alert.
    await c.page.waitForFunction(() => [...document.querySelectorAll('#conv-list li')].some((li) => li.querySelector('.badge.risk-urgent')));
    await waitText(c.page, '#notices', '自動判定でリスクが「緊急」に上がりました');
    const alertB = sup.page.locator(`#alerts .alert-item[data-conversation="${idB}"]`);
    await alertB.waitFor();
    await checkState(sup.page, 'ja', 'floor with a mid-chat alert', 'safety-floor-alert');
    await checkState(c.page, 'ja', 'console with a visitor flagged mid-chat', 'safety-console-urgent');

    // Acknowledge both alerts; end the chat.
    for (const alert of [alertA, alertB]) {
      await alert.locator('.ack-alert').click();
      await alert.waitFor({ state: 'detached' });
    }
    await counsellorEnds(c.page, 'listened');
    for (const o of opened) assertClean(o.page, o.context);
  } finally {
    for (const o of opened) await o.context.close();
  }
});
