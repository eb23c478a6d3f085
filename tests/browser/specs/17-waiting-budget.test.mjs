// What a waiting visitor may write (issue 18): past the budget of
// messages while nobody has read them yet, a send is refused and the page
// says calmly, in Japanese and in English, that the messages are waiting
// to be read; nothing is lost from what was sent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, visitorPage, startChat, visitorSend, checkState, assertClean, switchLang } from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The documented default of `limits.waiting_messages_per_conversation`. */
const BUDGET = 30;

test('past the waiting budget a send is refused and the page explains it calmly', async () => {
  const { page, context } = await visitorPage(browser);
  try {
    await startChat(page);
    for (let i = 1; i <= BUDGET; i++) {
      await visitorSend(page, `待っている間のメッセージ ${i}`);
    }
    // Every message within the budget is stored.
    await page.waitForFunction(
      (n) => document.querySelectorAll('#messages .msg[data-status="sent"], #messages .msg[data-status="delivered"]').length >= n,
      BUDGET,
      { timeout: 20_000 },
    );
    await visitorSend(page, 'もうひとつ');
    await page.waitForSelector('#notice:not([hidden])');
    const ja = await page.textContent('#notice');
    await page.waitForSelector('#messages .msg[data-status="failed"]');
    const failed = await page.locator('#messages .msg[data-status="failed"]').textContent();
    const stored = await page.locator('#messages .msg[data-status="sent"]').count();
    assert.equal(stored, BUDGET, 'what was sent within the budget stays sent');
    console.log(`ja notice: ${ja}; last message: ${failed}`);
    assert.match(ja, /相談員が読むのを待っています/);
    assert.match(failed, /相談員が読むのを待っています/);
    await checkState(page, 'ja', 'waiting budget spent', 'visitor-waiting-budget');
    await switchLang(page, 'en');
    const en = await page.textContent('#notice');
    console.log(`en notice: ${en}`);
    assert.match(en, /waiting to be read/);
    await checkState(page, 'en', 'waiting budget spent', 'visitor-waiting-budget');
    assertClean(page, context);
  } finally {
    await context.close();
  }
});
