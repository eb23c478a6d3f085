// Leaving without a trace: "Quick exit" replaces the page with a neutral
// one (no chat in view, none in the tab's history or storage), and
// "erase this chat" erases it on the server, then clears the tab.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  NEUTRAL_URL,
  launch,
  chattingPair,
  counsellorEnds,
  visitorPage,
  startChat,
  visitorSend,
  counsellorSend,
  waitText,
  assertClean,
  visitorSession,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('quick exit leaves no chat in view, in the history or in the tab', async () => {
  const { c, v } = await chattingPair(browser, 'endo');
  try {
    await counsellorSend(c.page, 'こんにちは');
    await waitText(v.page, '#messages .msg-text', 'こんにちは');
    await visitorSend(v.page, '家族に見られたくない');
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', '家族に見られたくない');
    const historyLength = await v.page.evaluate(() => history.length);

    await v.page.click('#quick-exit');
    await v.page.waitForURL(NEUTRAL_URL);
    // Not in view.
    const body = await v.page.textContent('body');
    assert.ok(!body.includes('家族に見られたくない') && !body.includes('こんにちは'), body);
    // The chat's entry was replaced, not added to: going back does not reach it.
    assert.equal(await v.page.evaluate(() => history.length), historyLength);
    await v.page.goBack();
    assert.ok(!v.page.url().startsWith(BASE), `back went to ${v.page.url()}`);
    await v.page.goForward();
    assert.equal(v.page.url(), NEUTRAL_URL);

    // Nothing left in the tab: the site opened again in it starts afresh.
    await v.page.goto(`${BASE}/`);
    await v.page.waitForSelector('#screen-welcome:not([hidden])');
    assert.equal(await v.page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await v.page.evaluate(() => localStorage.length), 0);
    assert.equal(await v.page.locator('#messages .msg').count(), 0);

    // The counsellor learns the visitor left quickly (the conversation is
    // not ended: issue 19), and ends it with that outcome.
    await waitText(c.page, '.conv-panel:not([hidden]) .conv-meta', '急いで退出');
    await counsellorEnds(c.page, 'visitor_left');
    assertClean(c.page, c.context);
  } finally {
    await v.context.close();
    await c.context.close();
  }
});

test('erase this chat erases it on the server, then clears the view and the tab', async () => {
  const v = await visitorPage(browser);
  try {
    await startChat(v.page, { first_message: '消したい会話' });
    await waitText(v.page, '#messages .msg-text', '消したい会話');
    const session = await visitorSession(v.page);
    await v.page.click('#erase');
    // It asks first: it cannot be undone, and it ends the chat.
    await v.page.waitForSelector('#confirm:not([hidden])');
    await waitText(v.page, '#confirm', '相談員の画面も含めて');
    await v.page.click('#confirm-yes');
    await v.page.waitForSelector('#screen-welcome:not([hidden])');
    await waitText(v.page, '#notice', '相談員の画面からも');
    assert.equal(await v.page.evaluate(() => sessionStorage.getItem('tsunagu.visitor')), null);
    assert.equal(await v.page.locator('#messages .msg').count(), 0);
    assert.ok(!(await v.page.content()).includes('消したい会話'));
    // The server erased it: resuming with the old token is refused as erased.
    const code = await v.page.evaluate(
      ({ conversation_id, token }) =>
        new Promise((resolve) => {
          const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/ws/visitor`);
          ws.onopen = () => ws.send(JSON.stringify({ type: 'resume', conversation_id, token, last_seq: 0 }));
          ws.onmessage = (e) => {
            const m = JSON.parse(e.data);
            if (m.type === 'error' || m.type === 'welcome') {
              ws.close();
              resolve(m.code || m.type);
            }
          };
        }),
      session,
    );
    assert.equal(code, 'conversation_erased');
    await v.page.reload();
    await v.page.waitForSelector('#screen-welcome:not([hidden])');
    assert.equal(await v.page.locator('#messages .msg').count(), 0);
    assertClean(v.page, v.context);
  } finally {
    await v.context.close();
  }
});
