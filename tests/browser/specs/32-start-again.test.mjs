// Issue 27: a `start` whose `welcome` is lost. The connection drops after
// the page sent `start` (and the server made the conversation) but before
// the `welcome` reached the page. The page comes back by itself and sends
// the same start with the same `idempotency_key`; the server answers with
// the conversation the first start made. One conversation results: the
// same id and resume token, one queue entry, one chat for the counsellor.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  waitQueueEmpty,
  waitText,
  visitorSession,
  counsellorEnds,
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

test('a start whose welcome was lost is sent again with its key and makes one conversation', async () => {
  const c = await counsellorPage(browser, 'keiyaku');
  // Every visitor socket goes through this route. The first one passes the
  // page's frames to the server, keeps the server's `welcome` from the
  // page, and then drops (as a network drop: 1006 on the page).
  const sockets = [];
  const sent = [];
  const welcomes = [];
  let dropFirst;
  const dropped = new Promise((resolve) => {
    dropFirst = resolve;
  });
  const v = await visitorPage(browser, {
    beforeGoto: (page) =>
      page.routeWebSocket(/\/ws\/visitor$/, (ws) => {
        const n = sockets.length;
        const server = ws.connectToServer();
        sockets.push({ ws, server });
        ws.onMessage((m) => {
          sent.push({ socket: n, frame: JSON.parse(m) });
          server.send(m);
        });
        server.onMessage((m) => {
          const frame = JSON.parse(m);
          if (frame.type === 'welcome') welcomes.push({ socket: n, frame });
          if (n === 0) {
            // Nothing from the server reaches the page on this socket:
            // the conversation is made, its welcome is lost.
            if (frame.type === 'welcome') dropFirst();
            return;
          }
          ws.send(m);
        });
      }),
  });
  try {
    await waitQueueEmpty(c.page);
    await v.page.click('#prechat summary');
    await v.page.selectOption('#pc-who', 'self');
    await v.page.fill('#pc-first', '眠れない日が続いています');
    await v.page.click('#start-button');
    await dropped;
    await sockets[0].ws.close({ code: 1006, reason: '' });
    sockets[0].server.close();

    // The page reconnects by itself and the same start takes up the same
    // conversation: the waiting screen, no error, the token kept.
    await v.page.waitForSelector('#screen-chat:not([hidden])');
    await v.page.waitForFunction(() => {
      try {
        return Boolean(JSON.parse(sessionStorage.getItem('tsunagu.visitor'))?.token);
      } catch {
        return false;
      }
    });
    assert.equal(await v.page.isHidden('#start-error'), true, 'no error shown for a start that was taken up');
    const starts = sent.filter((s) => s.frame.type === 'start');
    assert.deepEqual(
      starts.map((s) => s.socket),
      [0, 1],
      'one start on the dropped socket, the same start once on the new one',
    );
    const key = starts[0].frame.idempotency_key;
    assert.match(key, /^[A-Za-z0-9_-]{22,64}$/);
    assert.equal(starts[1].frame.idempotency_key, key, 'the retried start carries the same key');
    assert.deepEqual(starts[1].frame.pre_chat, starts[0].frame.pre_chat);
    assert.equal(starts[1].frame.first_message, '眠れない日が続いています');
    assert.equal(welcomes.length, 2);
    const [lost, taken] = welcomes.map((w) => w.frame);
    assert.equal(taken.conversation_id, lost.conversation_id, 'the same conversation, not a second one');
    assert.equal(taken.resume_token, lost.resume_token, 'the first start made the token the page now holds');
    const session = await visitorSession(v.page);
    assert.equal(session.conversation_id, lost.conversation_id);
    assert.equal(session.token, lost.resume_token);
    // The first message is shown once.
    await waitText(v.page, '#messages .msg-text', '眠れない日が続いています');
    assert.equal(await v.page.locator('#messages .msg').count(), 1);
    await checkState(v.page, 'ja', 'waiting after a start sent again', 'start-again-waiting');

    // The counsellor's queue holds one visitor, who becomes one chat.
    await c.page.waitForFunction(() => document.querySelectorAll('#queue-list li').length === 1);
    await c.page.waitForTimeout(500);
    assert.equal(await c.page.locator('#queue-list li').count(), 1, 'one queue entry');
    await setAvailable(c.page, true);
    await waitText(v.page, '#chat-heading', '契約さん');
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', '眠れない日が続いています');
    await waitQueueEmpty(c.page);
    assert.equal(await c.page.locator('.conv-panel').count(), 1, 'one chat for the counsellor');
    // Later sockets only resume: no third start.
    assert.equal(sent.filter((s) => s.frame.type === 'start').length, 2);

    await counsellorEnds(c.page);
    await setAvailable(c.page, false);
    assertClean(v.page, v.context);
    assertClean(c.page, c.context);
  } finally {
    await v.context.close();
    await c.context.close();
  }
});
