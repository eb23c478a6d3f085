// A visitor and a counsellor complete a conversation, in Japanese and in
// English: welcome, waiting (no counsellor available: said honestly),
// chatting (typing, delivered, a private note, markup shown as text),
// ended. Each state is screenshotted, scanned with axe and checked for
// horizontal scrolling at 360 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  visitorPage,
  counsellorPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  visitorSend,
  visitorTexts,
  panel,
  counsellorSend,
  panelTexts,
  waitText,
  axeScan,
  assertNoHorizontalScroll,
  screenshot,
  assertClean,
  visitorSession,
  openTab,
} from '../lib/harness.mjs';

const XSS = '<img src=x onerror=alert(1)>';

const COPY = {
  ja: {
    first: '息子のことで相談したいです',
    waiting: '待っている間に書きました',
    hello: 'こんにちは。お話を聞かせてください。',
    reply: `ありがとうございます ${XSS}`,
    note: '母親から。息子20代。',
    noCounsellor: 'いまは対応できる相談員がいません',
    position: '1番目',
    delivered: '届きました',
    typing: '相談者が入力しています',
    ended: '相談は終了しました',
    endedBy: '相談員がチャットを終えました',
    recorded: '記録した結果：傾聴',
  },
  en: {
    first: 'I would like to talk about my son',
    waiting: 'Written while waiting',
    hello: 'Hello. Please tell me about it.',
    reply: `Thank you ${XSS}`,
    note: 'Mother writing. Son in his twenties.',
    noCounsellor: 'No counsellor is available right now',
    position: '1 of 1',
    delivered: 'Delivered',
    typing: 'The visitor is typing',
    ended: 'The chat has ended',
    endedBy: 'The counsellor ended the chat',
    recorded: 'Outcome recorded: Listened',
  },
};

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

for (const [lang, username] of [
  ['ja', 'aoki'],
  ['en', 'baba'],
]) {
  test(`a visitor and a counsellor complete a conversation (${lang})`, async () => {
    const copy = COPY[lang];
    const c = await counsellorPage(browser, username);
    const v = await visitorPage(browser);
    try {
      await switchLang(c.page, lang);
      await switchLang(v.page, lang);
      await waitQueueEmpty(c.page);

      // ---- welcome
      const welcome = v.page.locator('#screen-welcome');
      assert.ok(await welcome.isVisible());
      // The deployment's hours and round-the-clock services come from /api/info.
      await waitText(v.page, '#hours', lang === 'ja' ? '月曜日から金曜日' : 'Monday to Friday');
      await waitText(v.page, '#screen-welcome .alternatives', '0120-279-338');
      await waitText(v.page, '#screen-welcome .emergency', '119');
      await axeScan(v.page, `${lang} visitor welcome`);
      await assertNoHorizontalScroll(v.page, `${lang} welcome`);
      await screenshot(v.page, lang, 'visitor-1-welcome');
      await v.page.click('#prechat summary');
      await axeScan(v.page, `${lang} visitor welcome, questions open`);
      await v.page.click('#prechat summary');

      // ---- waiting: the counsellor is away, so nobody can take the chat
      await startChat(v.page, {
        who: 'family_together',
        age_band: 'twenties',
        topic: 'family',
        first_message: `${copy.first} ${XSS}`,
      });
      await waitText(v.page, '#queue-position', copy.position);
      await waitText(v.page, '#queue-estimate', copy.noCounsellor);
      // Writing while waiting works (`send` while queued).
      await visitorSend(v.page, copy.waiting);
      await v.page.waitForSelector('#messages .msg-own[data-status="sent"] >> nth=1');
      await axeScan(v.page, `${lang} visitor waiting`);
      await assertNoHorizontalScroll(v.page, `${lang} waiting`);
      await screenshot(v.page, lang, 'visitor-2-waiting');

      // The counsellor sees the visitor in the queue: answers and first message, as text.
      await waitText(c.page, '#queue-list .qi-first', copy.first);
      const queued = c.page.locator('#queue-list .queue-item').first();
      assert.ok((await queued.locator('.qi-first').textContent()).includes(XSS));
      assert.equal(await c.page.locator('#queue-list img').count(), 0);
      const prechat = await queued.locator('.qi-prechat').textContent();
      assert.ok(prechat.includes(lang === 'ja' ? '家族（一緒に住んでいる）' : 'Family, living with them'), prechat);

      // ---- matched
      await setAvailable(c.page, true);
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      await waitText(c.page, '#notices', lang === 'ja' ? '新しい相談が割り当てられました' : 'New conversation assigned');
      await waitText(v.page, '#chat-heading', lang === 'ja' ? '青木さん' : '馬場');
      // Everything the visitor wrote before the match reaches the counsellor, in order.
      await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .msg-text').length >= 2);
      assert.deepEqual(await panelTexts(c.page), [`${copy.first} ${XSS}`, copy.waiting]);

      // ---- chatting
      await counsellorSend(c.page, copy.hello);
      await waitText(v.page, '#messages .msg-other .msg-text', copy.hello);
      // The visitor acknowledged it: the counsellor sees it delivered.
      await panel(c.page).locator('.msg-own[data-status="delivered"]').waitFor();
      // And the counsellor's console acknowledged the visitor's messages.
      await v.page.waitForSelector('#messages .msg-own[data-status="delivered"]');

      // Typing indicator, visitor -> counsellor.
      await v.page.locator('#composer-text').pressSequentially('…', { delay: 20 });
      await waitText(c.page, '.conv-panel:not([hidden]) .typing', copy.typing);
      await v.page.fill('#composer-text', '');

      // And counsellor -> visitor.
      await panel(c.page).locator('.composer textarea').pressSequentially('…', { delay: 20 });
      await waitText(v.page, '#typing', lang === 'ja' ? '相談員が入力しています' : 'The counsellor is typing');
      await panel(c.page).locator('.composer textarea').fill('');

      // Markup is shown as text on both sides and never runs.
      await visitorSend(v.page, copy.reply);
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', copy.reply);
      await waitText(v.page, '#messages .msg-own .msg-text', copy.reply);
      assert.equal(await v.page.locator('#messages img').count(), 0);
      assert.equal(await panel(c.page).locator('.messages img').count(), 0);
      await counsellorSend(c.page, XSS);
      await waitText(v.page, '#messages .msg-other .msg-text', XSS);
      assert.equal(await v.page.locator('#messages img').count(), 0);

      // A private note stays with the counsellor.
      await panel(c.page).locator('.note-form textarea').fill(copy.note);
      await panel(c.page).locator('.note-form button').click();
      await waitText(c.page, '.conv-panel:not([hidden]) .notes', copy.note);
      assert.equal(await panel(c.page).locator('.note-form textarea').inputValue(), '');

      await v.page.waitForSelector('#messages .msg-own[data-status="delivered"] >> nth=2');
      await axeScan(v.page, `${lang} visitor chatting`);
      await assertNoHorizontalScroll(v.page, `${lang} chatting`);
      await screenshot(v.page, lang, 'visitor-3-chatting');
      await axeScan(c.page, `${lang} console chatting`);
      await screenshot(c.page, lang, 'console-1-chatting');

      // ---- the counsellor ends with an outcome (the counsellor wrote last: no question asked)
      await openTab(c.page, 'end');
      await panel(c.page).locator('.end-outcome').selectOption('listened');
      await panel(c.page).locator('.end-form button').click();
      await waitText(c.page, '.conv-panel:not([hidden]) .end-state', copy.recorded);
      assert.ok(await c.page.locator('#end-confirm[open]').count() === 0, 'no confirmation after a reply');
      await waitText(v.page, '#chat-heading', copy.ended);
      await waitText(v.page, '#ended-by', copy.endedBy);
      assert.ok(await v.page.locator('#composer').isHidden());
      assert.ok(!(await v.page.content()).includes(copy.note), 'the note reached the visitor');
      await axeScan(v.page, `${lang} visitor ended`);
      await assertNoHorizontalScroll(v.page, `${lang} ended`);
      await screenshot(v.page, lang, 'visitor-4-ended');

      // The whole history is still there for the visitor to reread.
      assert.deepEqual(await visitorTexts(v.page), [`${copy.first} ${XSS}`, copy.waiting, copy.hello, copy.reply, XSS]);
      // Only sessionStorage holds the chat, and never the text of sent messages.
      const session = await visitorSession(v.page);
      assert.deepEqual(session.outbox, []);
      assert.equal(await v.page.evaluate(() => localStorage.length), 0);

      await c.page.click('.conv-panel:not([hidden]) .close-conv');
      await c.page.waitForSelector('#convs-empty:not([hidden])');
      await setAvailable(c.page, false);

      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });
}

test('the visitor page works with the keyboard alone, and a waiting visitor can leave', async () => {
  const v = await visitorPage(browser, { viewport: { width: 1024, height: 768 } });
  try {
    // The first stops are the language switch and the quick exit.
    await v.page.keyboard.press('Tab');
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'lang-switch');
    await v.page.keyboard.press('Tab');
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'quick-exit');
    // On to the start button; Enter starts the chat.
    for (let i = 0; i < 30; i += 1) {
      if ((await v.page.evaluate(() => document.activeElement.id)) === 'start-button') break;
      await v.page.keyboard.press('Tab');
    }
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'start-button');
    await v.page.keyboard.press('Enter');
    await v.page.waitForSelector('#screen-chat:not([hidden])');
    // Focus moved to the new screen's heading, from where Tab reaches the message field.
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'chat-heading');
    for (let i = 0; i < 5; i += 1) {
      if ((await v.page.evaluate(() => document.activeElement.id)) === 'composer-text') break;
      await v.page.keyboard.press('Tab');
    }
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'composer-text');
    await v.page.keyboard.type('キーボードだけで書きました');
    await v.page.keyboard.press('Control+Enter');
    await v.page.waitForSelector('#messages .msg-own[data-status="sent"]');
    // Stop waiting: the button asks first and puts focus on the safe choice.
    await v.page.focus('#end-chat');
    await v.page.keyboard.press('Enter');
    await v.page.waitForSelector('#confirm:not([hidden])');
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'confirm-no');
    await v.page.keyboard.press('Shift+Tab');
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'confirm-yes');
    await v.page.keyboard.press('Enter');
    await waitText(v.page, '#ended-by', 'あなたがチャットを終えました');
    assert.equal(await v.page.evaluate(() => document.activeElement.id), 'chat-heading');
    assertClean(v.page, v.context);
  } finally {
    await v.context.close();
  }
});
