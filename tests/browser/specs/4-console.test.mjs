// The counsellor console at work: the live queue next to two chats, unread
// counts, a notice on each new assignment, reconnection and reload that keep
// every conversation, and an outcome recorded after the visitor ended.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  visitorSend,
  visitorTexts,
  counsellorSend,
  panelTexts,
  panel,
  counsellorEnds,
  waitText,
  axeScan,
  screenshot,
  assertClean,
  openTab,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('the console asks for a login, and says when it is wrong', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(`${BASE}/console`);
    await page.waitForSelector('#login:not([hidden])');
    await axeScan(page, 'ja console login');
    await screenshot(page, 'ja', 'console-0-login');
    await page.fill('#login-username', 'goto');
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-submit');
    await waitText(page, '#login-error', 'ユーザー名またはパスワードが違います');
    assert.ok(await page.locator('#workspace').isHidden());
    await switchLang(page, 'en');
    await waitText(page, '#login-heading', 'Log in');
    await axeScan(page, 'en console login, with an error');
    await screenshot(page, 'en', 'console-0-login');
  } finally {
    await context.close();
  }
});

async function tabs(page) {
  return page.locator('#conv-list .conv-tab-label').allTextContents();
}

test('the console works a queue and two chats, and keeps them through reconnects', async () => {
  const c = await counsellorPage(browser, 'fujita');
  const visitors = [];
  try {
    await waitQueueEmpty(c.page);
    await c.page.fill('#capacity', '2');
    await c.page.locator('#capacity').blur();
    await setAvailable(c.page, true);
    await waitText(c.page, '#active-count', '0 / 2');

    // Two visitors are assigned at once; a third waits in the queue.
    const answers = [
      { who: 'self', age_band: 'teens', topic: 'school', first_message: '学校に行けていません' },
      { who: 'family_apart', age_band: 'thirties', topic: 'work', first_message: '離れて住む弟のことです' },
      { who: 'supporter', topic: 'other', first_message: '支援機関の者です。相談先を知りたいです。' },
    ];
    for (const [i, a] of answers.entries()) {
      const v = await visitorPage(browser);
      visitors.push(v);
      await startChat(v.page, a);
      if (i < 2) {
        await c.page.waitForFunction((n) => document.querySelectorAll('#conv-list li').length === n, i + 1);
        await waitText(c.page, '#notices', '新しい相談が割り当てられました');
      }
    }
    const [v1, v2, v3] = visitors;
    await waitText(c.page, '#active-count', '2 / 2');
    await waitText(c.page, '#queue-list .qi-first', '支援機関の者です');
    await waitText(c.page, '#queue-list .qi-prechat', '支援者・関係機関');
    await waitText(c.page, '#queue-list .qi-wait', '待ち時間 1分未満');
    await waitText(c.page, '#queue-count', '1人');
    await waitText(v3.page, '#queue-position', '1番目');
    // A counsellor is taking chats, so the waiting visitor gets an estimate, not "nobody".
    await v3.page.waitForFunction(() => /約\d+分|まもなく/.test(document.querySelector('#queue-estimate').textContent));

    // The first assignment was opened; a message in the other one is counted unread.
    const [first, second] = await tabs(c.page);
    assert.deepEqual(await panelTexts(c.page), ['学校に行けていません']);
    await visitorSend(v2.page, '聞こえていますか');
    await waitText(c.page, '#conv-list .badge.unread', '未読');
    // first message + this one (the badge can show before the second arrives)
    await c.page.waitForFunction(() => /^\(2\) /.test(document.title));
    await counsellorSend(c.page, 'はじめまして');
    await waitText(v1.page, '#messages .msg-text', 'はじめまして');

    await axeScan(c.page, 'ja console with queue and two chats');
    await screenshot(c.page, 'ja', 'console-2-queue-two-chats');
    await switchLang(c.page, 'en');
    await waitText(c.page, '#queue-count', '1 waiting');
    await waitText(c.page, '#queue-list .qi-prechat', 'A supporter or agency');
    await axeScan(c.page, 'en console with queue and two chats');
    await screenshot(c.page, 'en', 'console-2-queue-two-chats');
    await switchLang(c.page, 'ja');

    // Opening the other chat clears its unread count.
    await c.page.click(`#conv-list button:has-text("${second}")`);
    await c.page.waitForFunction(() => !document.querySelector('#conv-list .badge.unread'));
    assert.deepEqual(await panelTexts(c.page), ['離れて住む弟のことです', '聞こえていますか']);
    await panel(c.page).locator('.note-form textarea').fill('弟さん30代。仕事のこと。');
    await panel(c.page).locator('.note-form button').click();
    await waitText(c.page, '.conv-panel:not([hidden]) .notes', '弟さん30代');

    // The counsellor's connection drops; the visitor writes meanwhile; on
    // return the console says `hello` with what it has and gets only the rest.
    await c.context.setOffline(true);
    await c.page.waitForSelector('#conn-status[data-state="offline"]', { state: 'attached' });
    await visitorSend(v2.page, '接続が切れている間のメッセージ');
    // Stored (sent), but not delivered: nobody's console has it yet.
    await v2.page.locator('#messages .msg-own[data-status="sent"]', { hasText: '接続が切れている間' }).waitFor();
    await c.context.setOffline(false);
    await c.page.waitForSelector('#conn-status[data-state="open"]', { state: 'attached' });
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', '接続が切れている間のメッセージ');
    await c.page.waitForTimeout(500);
    assert.deepEqual(await panelTexts(c.page), ['離れて住む弟のことです', '聞こえていますか', '接続が切れている間のメッセージ']);
    // Ordered by need: the second visitor has had no reply, the first has.
    assert.deepEqual(await tabs(c.page), [second, first]);

    // A reload of the console brings every conversation back with its history and notes.
    await c.page.reload();
    await c.page.waitForSelector('#workspace:not([hidden])');
    await c.page.waitForFunction(() => document.querySelectorAll('#conv-list li').length === 2);
    await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden])').length === 1);
    assert.deepEqual(await tabs(c.page), [second, first]);
    // The one waiting for a reply is the one opened.
    assert.equal(await panel(c.page).locator('h2').textContent(), second);
    await c.page.click(`#conv-list button:has-text("${second}")`);
    await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .msg-text').length === 3);
    await waitText(c.page, '.conv-panel:not([hidden]) .notes', '弟さん30代');
    await c.page.click(`#conv-list button:has-text("${first}")`);
    assert.deepEqual(await panelTexts(c.page), ['学校に行けていません', 'はじめまして']);
    assert.ok(await c.page.locator('#available').isChecked(), 'availability survives a reload');

    // The visitor ends first; the counsellor records the outcome with the same `end`.
    await v2.page.click('#end-chat');
    await v2.page.click('#confirm-yes');
    await waitText(v2.page, '#ended-by', 'あなたがチャットを終えました');
    // One banner: the freed place may already have gone to the waiting visitor,
    // whose assignment then covers this notice; it is one click away ("ほか1件").
    await waitText(c.page, '#notices', '相談者がチャットを終えました');
    assert.equal(await c.page.locator('#notices .notice').count(), 1);
    if (!(await c.page.locator('#notices .notice-text').textContent()).includes('相談者がチャットを終えました')) {
      await c.page.click('#notices .notice-more');
      await waitText(c.page, '#notices .notice-history:not([hidden]) li', '相談者がチャットを終えました');
    }
    await c.page.click(`#conv-list button:has-text("${second}")`);
    await openTab(c.page, 'end');
    await waitText(c.page, '.conv-panel:not([hidden]) .end-state', '結果を記録してください');
    await panel(c.page).locator('.end-outcome').selectOption('information_given');
    await panel(c.page).locator('.end-form button').click();
    await waitText(c.page, '.conv-panel:not([hidden]) .end-state', '記録した結果：情報提供');
    await panel(c.page).locator('.close-conv').click();

    // The freed place goes to the visitor who was waiting, with a notice.
    await waitText(v3.page, '#chat-heading', '藤田さん');
    await c.page.waitForFunction(() => document.querySelectorAll('#conv-list li').length === 2);
    await waitQueueEmpty(c.page);
    await waitText(c.page, '#notices', '新しい相談が割り当てられました');

    // Finish both.
    await c.page.click(`#conv-list button:has-text("${first}")`);
    await counsellorEnds(c.page, 'listened');
    await c.page.waitForFunction(() => document.querySelectorAll('#conv-list li').length === 1);
    await c.page.click('#conv-list button');
    assert.deepEqual(await panelTexts(c.page), ['支援機関の者です。相談先を知りたいです。']);
    await counsellorEnds(c.page, 'referred');
    await c.page.waitForSelector('#convs-empty:not([hidden])');
    await setAvailable(c.page, false);
    assert.deepEqual(await visitorTexts(v1.page), ['学校に行けていません', 'はじめまして']);

    // Log out: the console goes back to the login form, and the socket is refused without a session.
    await c.page.click('#logout');
    await c.page.waitForSelector('#login:not([hidden])');
    const me = await c.page.evaluate(() => fetch('/api/me').then((r) => r.status));
    assert.equal(me, 401);

    for (const v of visitors) assertClean(v.page, v.context);
    assertClean(c.page, c.context);
  } finally {
    for (const v of visitors) await v.context.close();
    await c.context.close();
  }
});

test('a console whose session ends elsewhere goes back to the login form', async () => {
  const c = await counsellorPage(browser, 'goto');
  try {
    // Logged out from another tab of the same browser: the server closes this
    // console's socket at its next heartbeat (1008), and the console asks to log in.
    const r = await c.context.request.post(`${BASE}/api/logout`);
    assert.equal(r.status(), 204);
    await c.page.waitForSelector('#login:not([hidden])', { timeout: 15_000 });
    await waitText(c.page, '#login-error', 'ログインの有効期限が切れました');
    assertClean(c.page, c.context);
  } finally {
    await c.context.close();
  }
});
