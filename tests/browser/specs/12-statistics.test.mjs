// The admin page's statistics, in Japanese and English, on a phone-wide
// screen: the period picker (month, fiscal year), the tables and their
// bar plots, small cells shown as "<3", the CSV download; axe finds no
// serious or critical violation and nothing scrolls sideways.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, staffPage, switchLang, checkState, assertClean, waitText, screenshot } from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

for (const lang of ['ja', 'en']) {
  test(`an admin reads the statistics of a month and of a fiscal year (${lang})`, async () => {
    const a = await staffPage(browser, '/admin/#statistics', 'mori', {
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
      // Contacts with other agencies (issue 23): referrals and relay sheets, each a table or a plain "none".
      await waitText(page, '#stats-body h3.stats-group', lang === 'ja' ? '支援機関（者）との連携' : 'Contacts with other support agencies');
      for (const id of ['referrals', 'relays']) {
        assert.equal(await page.locator(`#stats-body [data-table="agencies-${id}"]`).count(), 1, id);
      }
      const note = await page.textContent('#stats-note');
      assert.match(note, /\d{4}-\d{2}/);
      assert.match(note, /<3/);
      // Every cell is a number or "<3".
      const cells = await page.$$eval('#stats-body td.num', (tds) => tds.map((td) => td.textContent));
      assert.ok(cells.length >= 7, JSON.stringify(cells));
      for (const c of cells) assert.match(c, /^(\d+|<3)$/);
      // Every row has a horizontal bar beside its count; "<3" is drawn as such, not as a bar of 0.
      const bars = await page.$$eval('#stats-body tbody tr', (trs) =>
        trs.map((tr) => ({
          count: tr.querySelector('td.num').textContent,
          width: tr.querySelector('td.stats-bar .stats-bar-fill').getBoundingClientRect().width,
          small: tr.querySelector('td.stats-bar .stats-bar-small')?.textContent || null,
        })),
      );
      assert.equal(bars.length, cells.length);
      for (const b of bars) {
        if (b.count === '<3') {
          assert.equal(b.small, '<3');
          assert.ok(b.width > 0, 'a small cell is not drawn as 0');
        } else {
          assert.equal(b.small, null);
          if (b.count === '0') assert.equal(b.width, 0);
          else assert.ok(b.width > 0, JSON.stringify(b));
        }
      }
      // On a phone the tables scroll sideways in their own box instead of squeezing their columns.
      const squeeze = await page.$$eval('#stats-body .table-wrap', (wraps) =>
        wraps.map((w) => ({
          overflow: getComputedStyle(w).overflowX,
          tableWidth: w.querySelector('table').getBoundingClientRect().width,
          narrowest: Math.min(...[...w.querySelectorAll('tbody th')].map((th) => th.getBoundingClientRect().width)),
          scrolls: w.scrollWidth > w.clientWidth,
        })),
      );
      for (const q of squeeze) {
        assert.equal(q.overflow, 'auto');
        assert.ok(q.tableWidth >= 320, `table ${q.tableWidth}px wide`);
        assert.ok(q.narrowest >= 40, `a label column ${q.narrowest}px wide`);
      }
      // No blank blocks: each part of the report follows the one before within a small gap.
      const gaps = await page.$$eval('#stats-body > *', (ts) =>
        ts.slice(1).map((t, i) => t.getBoundingClientRect().top - ts[i].getBoundingClientRect().bottom),
      );
      assert.ok(gaps.length >= 5);
      for (const g of gaps) assert.ok(g < 40, `a ${g}px gap between tables`);
      const shotName = 'stats-phone';
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
      // The tables of the month, scrolled to the bars.
      await page.locator('#stats-body [data-table="who"], #stats-body [data-table="totals"]').first().scrollIntoViewIfNeeded();
      await screenshot(page, lang, shotName);
      assertClean(page, a.context);
    } finally {
      await a.context.close();
    }
  });
}
