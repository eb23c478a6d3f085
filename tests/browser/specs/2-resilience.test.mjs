// No word lost: a reload mid-chat shows the whole history of the same
// conversation; messages written offline are sent when the connection
// returns, and the counsellor gets each once, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  chattingPair,
  counsellorEnds,
  visitorSend,
  visitorTexts,
  counsellorSend,
  panelTexts,
  waitText,
  visitorSession,
  assertClean,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a visitor who reloads mid-chat sees the full history of the same conversation', async () => {
  const { c, v, conversation } = await chattingPair(browser, 'chiba', { first_message: '最初のメッセージです' });
  try {
    await counsellorSend(c.page, '相談員の一通目');
    await waitText(v.page, '#messages .msg-text', '相談員の一通目');
    await visitorSend(v.page, '相談者の返事');
    await v.page.waitForSelector('#messages .msg-own[data-status="delivered"] >> nth=1');
    await counsellorSend(c.page, '相談員の二通目');
    await waitText(v.page, '#messages .msg-text', '相談員の二通目');
    // A draft the visitor has not sent yet survives the reload too.
    await v.page.fill('#composer-text', 'まだ送っていない下書き');
    await v.page.waitForTimeout(400);

    const expected = ['最初のメッセージです', '相談員の一通目', '相談者の返事', '相談員の二通目'];
    assert.deepEqual(await visitorTexts(v.page), expected);

    await v.page.reload();
    await v.page.waitForSelector('#screen-chat:not([hidden])');
    await v.page.waitForFunction((n) => document.querySelectorAll('#messages .msg').length >= n, expected.length);
    assert.deepEqual(await visitorTexts(v.page), expected);
    await waitText(v.page, '#chat-heading', '千葉さん');
    assert.equal((await visitorSession(v.page)).conversation_id, conversation);
    assert.equal(await v.page.inputValue('#composer-text'), 'まだ送っていない下書き');
    // Own messages come back in their state, from the server's record.
    await v.page.waitForSelector('#messages .msg-own[data-status="delivered"] >> nth=1');

    // The conversation goes on, and the counsellor saw no message twice.
    await visitorSend(v.page, '再読み込みのあと');
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', '再読み込みのあと');
    assert.deepEqual(await panelTexts(c.page), [...expected, '再読み込みのあと']);
    // The console showed the visitor leave and come back.
    await waitText(c.page, '.conv-panel:not([hidden]) .conv-meta', 'オンライン');

    await counsellorEnds(c.page);
    assertClean(v.page, v.context);
    assertClean(c.page, c.context);
  } finally {
    await v.context.close();
    await c.context.close();
  }
});

test('messages written offline are sent on return, each once and in order', async () => {
  const { c, v } = await chattingPair(browser, 'doi');
  try {
    await counsellorSend(c.page, 'どうぞ');
    await waitText(v.page, '#messages .msg-text', 'どうぞ');

    await v.context.setOffline(true);
    await v.page.waitForSelector('#conn-status[data-state="offline"]');
    await waitText(v.page, '#conn-text', 'オフライン');
    await visitorSend(v.page, 'オフラインで一通目');
    await visitorSend(v.page, 'オフラインで二通目');
    // Both wait, marked as such, and are kept in this tab in case it is reloaded.
    await v.page.waitForSelector('#messages .msg-own[data-status="queued"] >> nth=1');
    const kept = (await visitorSession(v.page)).outbox.map((o) => o.text);
    assert.deepEqual(kept, ['オフラインで一通目', 'オフラインで二通目']);
    // Nothing reached the counsellor meanwhile.
    await c.page.waitForTimeout(500);
    assert.deepEqual(await panelTexts(c.page), ['どうぞ']);
    await waitText(c.page, '.conv-panel:not([hidden]) .conv-meta', 'オフライン');

    await v.context.setOffline(false);
    await v.page.waitForSelector('#messages .msg-own[data-status="delivered"] >> nth=1');
    await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .msg-text').length >= 3);
    // Give any duplicate time to show up before counting.
    await c.page.waitForTimeout(700);
    assert.deepEqual(await panelTexts(c.page), ['どうぞ', 'オフラインで一通目', 'オフラインで二通目']);
    assert.deepEqual((await visitorSession(v.page)).outbox, []);
    assert.deepEqual(await visitorTexts(v.page), ['どうぞ', 'オフラインで一通目', 'オフラインで二通目']);

    // Sequence numbers on both sides are consecutive: nothing skipped, nothing doubled.
    const seqs = (page, sel) => page.locator(sel).evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
    assert.deepEqual(await seqs(c.page, '.conv-panel:not([hidden]) .msg'), [1, 2, 3]);
    assert.deepEqual(await seqs(v.page, '#messages .msg'), [1, 2, 3]);

    await counsellorEnds(c.page);
    assertClean(v.page, v.context);
    assertClean(c.page, c.context);
  } finally {
    await v.context.close();
    await c.context.close();
  }
});
