// The empty-floor alert (issue 20), on the floor server (the alert fires
// after 2 s there). With every counsellor away the supervisor's console
// shows the banner (once), on a laptop and on a phone; when the
// counsellor becomes available it shows as cleared; acknowledging it
// takes it away on every supervisor's console. Then the same in English.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  counsellorPage,
  setAvailable,
  switchLang,
  axeScan,
  screenshot,
  assertClean,
  assertNoHorizontalScroll,
  FLOOR_BASE,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const BANNER = '#floor-alerts:not([hidden]) .floor-alert';

async function bannerText(page) {
  return (await page.locator('#floor-alert-list .floor-alert').first().innerText()).replace(/\s+/g, ' ');
}

async function check(page, lang, label, shot) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await axeScan(page, `${lang} ${label}`);
  await assertNoHorizontalScroll(page, `${lang} ${label}`);
  await screenshot(page, lang, shot);
}

test('empty floor: the supervisor sees the alert, sees it clear, and acknowledges it (ja, en; 1280 and 360 px)', async () => {
  assert.ok(FLOOR_BASE, 'TSUNAGU_FLOOR_URL is set by tests/browser/run.sh');
  const sup = await counsellorPage(browser, 'hanada', { base: FLOOR_BASE });
  const phone = await counsellorPage(browser, 'hirose', { base: FLOOR_BASE, viewport: { width: 360, height: 740 } });
  const c = await counsellorPage(browser, 'hoshi', { base: FLOOR_BASE });
  const opened = [sup, phone, c];
  try {
    for (const lang of ['ja', 'en']) {
      for (const p of opened) await switchLang(p.page, lang);
      await setAvailable(c.page, false);
      // Nobody available: after 2 s the banner, on both supervisors' consoles.
      await sup.page.waitForSelector(`${BANNER}:not(.cleared)`);
      await phone.page.waitForSelector(`${BANNER}:not(.cleared)`);
      const raised = await bannerText(sup.page);
      assert.match(raised, lang === 'ja' ? /空席アラート：.*対応できる相談員がいません/ : /Empty floor: no counsellor has been available since/);
      assert.equal(await sup.page.locator('#floor-alert-list .floor-alert').count(), 1, 'one banner per episode');
      assert.ok(await c.page.locator('#floor-alerts').isHidden(), 'a counsellor has no floor alert');
      // The banner is above the work, in view without scrolling.
      const box = await sup.page.locator('#floor-alerts').boundingBox();
      assert.ok(box && box.y < 200, `banner near the top: ${JSON.stringify(box)}`);
      await check(sup.page, lang, 'floor alert raised', '22-floor-alert');
      await check(phone.page, lang, 'floor alert raised (phone)', '22-floor-alert-phone');

      // Still raised once: a second later, the same one banner.
      await sup.page.waitForTimeout(1_000);
      assert.equal(await sup.page.locator('#floor-alert-list .floor-alert').count(), 1);

      // A counsellor becomes available: shown as cleared, still there until acknowledged.
      await setAvailable(c.page, true);
      await sup.page.waitForSelector(`${BANNER}.cleared`);
      await phone.page.waitForSelector(`${BANNER}.cleared`);
      assert.match(await bannerText(sup.page), lang === 'ja' ? /に解消：相談員が対応できるようになりました/ : /Cleared at .*: a counsellor is available/);
      await check(sup.page, lang, 'floor alert cleared', '22-floor-alert-cleared');

      // Acknowledged on the laptop: gone from both consoles.
      await sup.page.locator('#floor-alert-list .ack-floor-alert').first().click();
      await sup.page.waitForSelector('#floor-alerts', { state: 'hidden' });
      await phone.page.waitForSelector('#floor-alerts', { state: 'hidden' });
    }
    await setAvailable(c.page, false);
    for (const p of opened) assertClean(p.page, p.context);
  } finally {
    for (const p of opened) await p.context.close();
  }
});
