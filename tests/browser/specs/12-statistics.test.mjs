// The admin page's statistics, in Japanese and English, on a phone-wide
// screen: the period picker (month, fiscal year), the tables and their
// bar plots, small cells shown as "<3", the CSV download; axe finds no
// serious or critical violation and nothing scrolls sideways.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, staffPage, switchLang, checkState, assertClean, waitText } from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

for (const lang of ['ja', 'en']) {
  test(`an admin reads the statistics of a month and of a fiscal year (${lang})`, async () => {
    const a = await staffPage(browser, '/admin/', 'mori', {
      viewport: { width: 360, height: 740 },
      beforeLogin: (page) => switchLang(page, lang),
    });
    try {
      const { page } = a;
      // This month's report is shown on entering.
      await page.waitForSelector('#stats-body [data-table="totals"] table');
      // How visitors left (issue 19): left quickly and erased are exits of their own.
      await page.waitForSelector('#stats-body [data-table="exit"] table');
      await waitText(page, '#stats-body [data-table="exit"] h3', lang === 'ja' ? '相談者の退出のしかた' : 'How the visitor left');
      const note = await page.textContent('#stats-note');
      assert.match(note, /\d{4}-\d{2}/);
      assert.match(note, /<3/);
      // Every cell is a number or "<3".
      const cells = await page.$$eval('#stats-body td.num', (tds) => tds.map((td) => td.textContent));
      assert.ok(cells.length >= 7, JSON.stringify(cells));
      for (const c of cells) assert.match(c, /^(\d+|<3)$/);
      assert.ok((await page.locator('#stats-body svg.stats-chart').count()) >= 2);
      // The fiscal year (April-March).
      await page.selectOption('#stats-kind', 'fy');
      assert.ok(await page.locator('#stats-sub-field').isHidden());
      await page.click('#stats-show');
      await page.waitForFunction(() => /FY\d{4}/.test(document.getElementById('stats-note').textContent));
      const href = await page.getAttribute('#stats-csv', 'href');
      assert.match(href, /period=FY\d{4}&format=csv$/);
      const csv = await page.request.get(new URL(href, page.url()).toString());
      assert.equal(csv.status(), 200);
      assert.match(csv.headers()['content-disposition'], /^attachment/);
      assert.match(await csv.text(), /^table,category,count\r\n/);
      await page.locator('#stats-heading').scrollIntoViewIfNeeded();
      await checkState(page, lang, 'admin statistics', 'admin-5-statistics');
      assertClean(page, a.context);
    } finally {
      await a.context.close();
    }
  });
}
