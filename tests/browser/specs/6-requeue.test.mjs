// A counsellor whose connection stays away past the grace period loses the
// conversation back to the queue (at its front). The visitor is told they
// are waiting again; the console says the chat went back; when the
// counsellor returns, the chat is assigned again with its whole history.

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
  axeScan,
  assertClean,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a conversation taken back to the queue shows as waiting, then continues', async () => {
  const { c, v } = await chattingPair(browser, 'hara', { first_message: '話を聞いてほしい' });
  try {
    await counsellorSend(c.page, 'はい、聞いています');
    await waitText(v.page, '#messages .msg-text', 'はい、聞いています');

    // The counsellor's network goes for longer than the grace period (3 s in the test config).
    await c.context.setOffline(true);
    await waitText(v.page, '#chat-heading', '相談員を待っています', 15_000);
    await waitText(v.page, '#queue-position', '1番目');
    // Told gently what happened.
    await waitText(v.page, '#notice', '相談員の接続が切れてしまいました');
    await axeScan(v.page, 'visitor back in the queue');
    // Still writing while waiting again.
    await visitorSend(v.page, 'まだいます');
    await v.page.locator('#messages .msg-own[data-status="sent"]', { hasText: 'まだいます' }).waitFor();

    // Back: the chat is assigned to the counsellor again and the console has it whole.
    // (Whether the console first hears it went back to the queue depends on
    // whether the matcher re-assigns it before or after the console's `hello`.)
    await c.context.setOffline(false);
    await waitText(v.page, '#chat-heading', '原さん');
    assert.ok(await v.page.locator('#notice').isHidden(), 'the requeue notice goes once matched again');
    await c.page.waitForSelector('.conv-panel:not([hidden])');
    await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .msg-text').length === 3);
    assert.deepEqual(await panelTexts(c.page), ['話を聞いてほしい', 'はい、聞いています', 'まだいます']);
    await counsellorSend(c.page, 'おかえりなさい');
    await waitText(v.page, '#messages .msg-text', 'おかえりなさい');
    assert.deepEqual(await visitorTexts(v.page), ['話を聞いてほしい', 'はい、聞いています', 'まだいます', 'おかえりなさい']);

    await counsellorEnds(c.page);
    assertClean(v.page, v.context);
    assertClean(c.page, c.context);
  } finally {
    await v.context.close();
    await c.context.close();
  }
});
