// Outside opening hours the visitor page says the chat is closed, when it
// opens next (Japan time), why, and where to turn now; it offers no start
// form. A visitor whose page still showed the form when the chat closed
// gets the same screen from the server's `closed` answer.
//
// Runs against run.sh's second server (TSUNAGU_CLOSED_URL), whose schedule
// is Monday to Friday 9:00-17:00 with a one-off closure from yesterday to
// tomorrow, so it is closed at any hour the tests run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLOSED_BASE,
  launch,
  closedVisitorPage,
  switchLang,
  waitText,
  axeScan,
  assertNoHorizontalScroll,
  screenshot,
  assertClean,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// "11月25日(火) 9:00" / "Tue 25 Nov, 9:00 (Japan time)"
const JA_WHEN = /次の受付開始：\d{1,2}月\d{1,2}日\([月火水木金]\) 9:00/;
const EN_WHEN = /Opens next: (Mon|Tue|Wed|Thu|Fri) \d{1,2} [A-Z][a-z]{2}, 9:00 \(Japan time\)/;

test('closed hours: the closed screen with the next opening and the alternatives, no start form', async () => {
  const info = await (await fetch(`${CLOSED_BASE}/api/info`)).json();
  assert.equal(info.hours.accepting, false, 'the closed-hours server is closed');
  assert.ok(info.hours.next_opening, 'and knows when it opens next');

  const { context, page } = await closedVisitorPage(browser);
  try {
    await page.waitForSelector('#closed-panel:not([hidden])');
    assert.ok(await page.locator('#start-form').isHidden(), 'no start form while closed');
    assert.ok(await page.locator('#start-button').isHidden());
    await waitText(page, '#closed-heading', '受付時間外');
    assert.match(await page.locator('#closed-next').textContent(), JA_WHEN);
    assert.equal(await page.locator('#closed-reason').textContent(), '本日は臨時のお休みです。');
    // The round-the-clock services, right there, with their numbers as links.
    const alternatives = page.locator('.emergency .alternatives');
    assert.ok(await alternatives.isVisible());
    await waitText(page, '.emergency .alternatives', 'よりそいホットライン');
    assert.equal(await alternatives.locator('a[href="tel:0120279338"]').count(), 1);
    await assertNoHorizontalScroll(page, 'ja closed screen at 360 px');
    await axeScan(page, 'ja closed screen');
    await screenshot(page, 'ja', 'visitor-closed');

    // "Check again" asks the server again and keeps the screen while closed.
    await page.click('#closed-check');
    await page.waitForFunction(() => !document.querySelector('#closed-check').disabled);
    assert.ok(await page.locator('#closed-panel').isVisible());
    assert.ok(await page.locator('#start-form').isHidden());
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'closed-check', 'focus stays on the button');

    await switchLang(page, 'en');
    await waitText(page, '#closed-heading', 'The chat is closed right now');
    assert.match(await page.locator('#closed-next').textContent(), EN_WHEN);
    assert.equal(await page.locator('#closed-reason').textContent(), 'Closed today.');
    await waitText(page, '.emergency .alternatives', 'Yorisoi Hotline');
    await assertNoHorizontalScroll(page, 'en closed screen at 360 px');
    await axeScan(page, 'en closed screen');
    await screenshot(page, 'en', 'visitor-closed');
    assertClean(page, context);
  } finally {
    await context.close();
  }
});

test('a start refused as closed (the page still showed the form) turns into the closed screen', async () => {
  const { context, page } = await closedVisitorPage(browser, {});
  try {
    // The page loaded while the chat was still open: /api/info said so.
    await page.route('**/api/info', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.hours = { status: 'open', accepting: true, timezone: 'Asia/Tokyo', schedule: body.hours.schedule };
      await route.fulfill({ response, json: body });
    });
    await page.reload();
    await page.waitForSelector('#start-button:not([disabled])');
    assert.ok(await page.locator('#closed-panel').isHidden());
    await page.unroute('**/api/info');

    await page.click('#prechat summary');
    await page.fill('#pc-first', 'きょうは話せますか');
    await page.click('#start-button');
    // The server answers `closed`: the closed screen, with the next opening from the answer.
    await page.waitForSelector('#closed-panel:not([hidden])');
    assert.match(await page.locator('#closed-next').textContent(), JA_WHEN);
    assert.ok(await page.locator('#start-form').isHidden());
    assert.ok(await page.locator('#screen-chat').isHidden(), 'no chat was started');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tsunagu.visitor')), null, 'nothing kept');
    await page.waitForFunction(() => document.activeElement?.id === 'closed-heading');
    // Then the full facts from /api/info: the reason too.
    await waitText(page, '#closed-reason', '臨時のお休み');
    await assertNoHorizontalScroll(page, 'closed after start at 360 px');
    await axeScan(page, 'ja closed after a refused start');
    await screenshot(page, 'ja', 'visitor-closed-after-start');
    assertClean(page, context);
  } finally {
    await context.close();
  }
});
