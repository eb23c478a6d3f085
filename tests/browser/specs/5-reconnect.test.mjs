// The visitor page when the server drops its socket: after a close code
// that means "come back" (1012, service restart) it reconnects by itself
// with backoff and resumes from the last sequence number it has; after
// one that does not (1008) it says so and reconnects on request. Nothing
// written by either side is lost or doubled.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  waitQueueEmpty,
  startChat,
  visitorSend,
  visitorTexts,
  counsellorSend,
  panelTexts,
  counsellorEnds,
  waitText,
  assertClean,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a dropped visitor socket is resumed from the last sequence number', async () => {
  const c = await counsellorPage(browser, 'goto');
  // Every visitor socket goes through this route, which records what the
  // page sends and lets the test close the socket as the server would.
  const sockets = [];
  const frames = [];
  const v = await visitorPage(browser, {
    beforeGoto: (page) =>
      page.routeWebSocket(/\/ws\/visitor$/, (ws) => {
        const server = ws.connectToServer();
        sockets.push({ ws, server });
        ws.onMessage((m) => {
          frames.push(JSON.parse(m));
          server.send(m);
        });
      }),
  });
  try {
    await waitQueueEmpty(c.page);
    await setAvailable(c.page, true);
    await startChat(v.page, { first_message: 'はじめまして' });
    await waitText(v.page, '#chat-heading', '後藤さん');
    await counsellorSend(c.page, '一通目');
    await waitText(v.page, '#messages .msg-text', '一通目');
    await visitorSend(v.page, '返事');
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', '返事');
    assert.equal(sockets.length, 1);

    // "Service restart": the page must come back by itself and resume.
    const dropped = sockets[0];
    await dropped.ws.close({ code: 1012, reason: 'server restarting; reconnect and resume' });
    dropped.server.close();
    await waitText(c.page, '.conv-panel:not([hidden]) .conv-meta', 'オフライン');
    await counsellorSend(c.page, '切れている間の二通目');
    await v.page.waitForFunction(() => document.querySelector('#conn-status').dataset.state === 'open');
    await waitText(v.page, '#messages .msg-text', '切れている間の二通目');
    assert.equal(sockets.length, 2);
    const resumes = frames.filter((f) => f.type === 'resume');
    assert.equal(resumes.length, 1);
    assert.equal(resumes[0].last_seq, 3, 'resumed after the last message it had (1: first, 2: counsellor, 3: own)');
    assert.deepEqual(await visitorTexts(v.page), ['はじめまして', '一通目', '返事', '切れている間の二通目']);

    // A policy close is not retried blindly: the page says so, and the visitor reconnects.
    await sockets[1].ws.close({ code: 1008, reason: 'policy' });
    sockets[1].server.close();
    await v.page.waitForSelector('#conn-retry:not([hidden])');
    await waitText(v.page, '#conn-text', '接続が終わりました');
    // Written while closed: kept and sent on return.
    await visitorSend(v.page, '閉じている間に書いた');
    await counsellorSend(c.page, '三通目');
    await v.page.waitForTimeout(300);
    assert.equal(sockets.length, 2, 'no reconnect after 1008 without the visitor asking');
    await v.page.click('#conn-retry');
    await waitText(v.page, '#messages .msg-text', '三通目');
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', '閉じている間に書いた');
    await c.page.waitForTimeout(500);
    // It had 1-4; the counsellor's 5 came while it was away; its own message is stored after, as 6.
    assert.equal(frames.filter((f) => f.type === 'resume').at(-1).last_seq, 4);
    const all = ['はじめまして', '一通目', '返事', '切れている間の二通目', '三通目', '閉じている間に書いた'];
    assert.deepEqual(await panelTexts(c.page), all);
    assert.deepEqual(await visitorTexts(v.page), all);
    // The visitor acknowledged what it displays (the last ack may still be
    // on its way on a loaded machine: wait for it, up to 5 s).
    const acked = () => frames.filter((f) => f.type === 'ack').map((f) => f.seq);
    for (let i = 0; i < 50 && !(acked().at(-1) >= 6); i++) await v.page.waitForTimeout(100);
    const acks = acked();
    assert.ok(acks.includes(2) && acks.at(-1) >= 6, `acks: ${acks}`);

    await counsellorEnds(c.page);
    await setAvailable(c.page, false);
    assertClean(v.page, v.context);
    assertClean(c.page, c.context);
  } finally {
    await v.context.close();
    await c.context.close();
  }
});
