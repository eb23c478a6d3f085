// The admin page in sections (issue 20): a menu of plain links, the URL's
// fragment choosing the section (a reload keeps it, the back button goes
// back), the keyboard moving through it and the focus landing on the
// chosen section's heading; at 360 px the menu wraps and nothing scrolls
// sideways. And the floor section: admins have no console, so this is
// where they see the empty-floor alert: on the floor server (the alert
// fires after 2 s there), with the counsellor away the floor shows the
// current episode; when they become available it shows as cleared, with
// how long it lasted. Japanese and English, axe clean.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  staffPage,
  counsellorPage,
  setAvailable,
  switchLang,
  checkState,
  assertClean,
  assertNoHorizontalScroll,
  screenshot,
  axeScan,
  PASSWORD,
  FLOOR_BASE,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const COPY = {
  ja: { current: /空席アラート発生中：.*から対応できる相談員がいません/, cleared: '相談員が対応可能に', none: '0人', nav: ['フロアの状況', '統計', '操作の記録', 'アカウント', '定型文', '連携先', '初回相談の枠'] },
  en: { current: /Empty-floor alert now: no counsellor has been available since/, cleared: 'a counsellor became available', none: '0', nav: ['Floor', 'Statistics', 'Audit log', 'Accounts', 'Canned replies', 'Partner services', 'Consultation slots'] },
};

/** Press "refresh" until `ready()` holds in the page (the floor is re-read on demand). */
async function refreshUntil(page, ready, arg, label) {
  const until = Date.now() + 15_000;
  for (;;) {
    await page.click('#floor-refresh');
    await page.waitForTimeout(400);
    if (await page.evaluate(ready, arg)) return;
    assert.ok(Date.now() < until, `floor: ${label}`);
  }
}

const shown = (page) => page.$$eval('.admin-section', (els) => els.filter((e) => !e.hidden).map((e) => e.dataset.section));
// The hash changes at once; the section follows on the \`hashchange\` event.
const waitShown = (page, section) =>
  page.waitForFunction((s) => [...document.querySelectorAll('.admin-section')].filter((e) => !e.hidden).map((e) => e.dataset.section).join() === s, section);

for (const lang of ['ja', 'en']) {
  test(`admin page sections and the floor's empty-floor episodes (${lang})`, async () => {
    assert.ok(FLOOR_BASE, 'TSUNAGU_FLOOR_URL is set by tests/browser/run.sh');
    const copy = COPY[lang];
    const c = await counsellorPage(browser, 'kanshi.c', { base: FLOOR_BASE });
    const a = await staffPage(browser, '/admin/', 'kanshi.admin', {
      base: FLOOR_BASE,
      beforeLogin: (page) => switchLang(page, lang),
    });
    try {
      await switchLang(c.page, lang);
      const page = a.page;
      // ---- no fragment: the floor, first in the menu, and only it
      assert.deepEqual(await shown(page), ['floor']);
      const links = page.locator('.admin-nav a');
      assert.deepEqual((await links.allTextContents()).map((s) => s.trim()), copy.nav);
      assert.equal(await links.first().getAttribute('aria-current'), 'page');
      assert.equal(await page.locator('.admin-nav a[aria-current]').count(), 1);

      // ---- nobody available: the episode is shown as current
      await setAvailable(c.page, false);
      await refreshUntil(page, () => !document.getElementById('floor-current').hidden, null, 'the current episode');
      assert.match(await page.textContent('#floor-current'), copy.current);
      assert.equal((await page.textContent('#floor-now [data-floor="available"]')).trim(), copy.none);
      const open = page.locator('#floor-episodes-body tr').first();
      assert.equal(await open.getAttribute('data-state'), 'open');
      await checkState(page, lang, 'admin floor, an episode now', '33-admin-floor-current');

      // ---- a counsellor available: cleared, with how long it lasted
      await setAvailable(c.page, true);
      const id = await open.getAttribute('data-episode');
      await refreshUntil(
        page,
        (ep) => document.getElementById('floor-current').hidden && document.querySelector(`#floor-episodes-body tr[data-episode="${ep}"]`)?.dataset.state === 'cleared',
        id,
        'the episode cleared',
      );
      const cells = await page.locator(`#floor-episodes-body tr[data-episode="${id}"] td`).allTextContents();
      assert.ok(cells[2].includes(copy.cleared), cells.join(' | '));
      assert.ok(cells[3].trim().length > 0, `a duration: ${cells.join(' | ')}`);
      assert.ok(!(await page.locator('body').innerText()).includes('kanshi.c'), 'no person is named');
      await checkState(page, lang, 'admin floor, the episode cleared', '33-admin-floor-cleared');

      // ---- the keyboard: Tab to the next link, Enter; the focus lands on its heading
      await links.first().focus();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#statistics');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => location.hash === '#statistics');
      await waitShown(page, 'stats');
      assert.deepEqual(await shown(page), ['stats']);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'stats-heading');
      assert.equal(await page.locator('.admin-nav a[href="#statistics"]').getAttribute('aria-current'), 'page');
      // A reload keeps the section; the back button returns to the floor.
      await page.reload();
      await page.waitForSelector('#workspace:not([hidden])');
      assert.deepEqual(await shown(page), ['stats']);
      await page.goBack();
      await page.waitForFunction(() => location.hash === '');
      await waitShown(page, 'floor');
      assert.deepEqual(await shown(page), ['floor']);
      // Every section by its link, each axe clean.
      for (const [frag, section] of [['audit-log', 'audit'], ['staff-accounts', 'accounts'], ['canned-replies', 'canned'], ['partners', 'partners'], ['appointment-slots', 'slots'], ['statistics', 'stats']]) {
        await page.click(`.admin-nav a[href="#${frag}"]`);
        await page.waitForFunction((f) => location.hash === `#${f}`, frag);
        await waitShown(page, section);
        assert.deepEqual(await shown(page), [section]);
        await axeScan(page, `${lang} admin section ${section}`);
      }
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      assert.ok(height < 4_000, `one section is not the whole page: ${height}px`);
      await screenshot(page, lang, '33-admin-statistics-section');

      // ---- a phone: the menu wraps inside the width, nothing scrolls sideways
      await page.setViewportSize({ width: 360, height: 740 });
      await page.click('.admin-nav a[href="#floor"]');
      await page.waitForFunction(() => location.hash === '#floor');
      await waitShown(page, 'floor');
      for (const box of await page.$$eval('.admin-nav a', (as) => as.map((el) => el.getBoundingClientRect().toJSON()))) {
        assert.ok(box.right <= 360 && box.left >= 0, `a menu link outside the screen: ${JSON.stringify(box)}`);
        assert.ok(box.height >= 40, `a menu link is a real target: ${JSON.stringify(box)}`);
      }
      await assertNoHorizontalScroll(page, `${lang} admin floor at 360 px`);
      await checkState(page, lang, 'admin floor on a phone', '33-admin-floor-360');

      // ---- the floor is for admins and supervisors only
      const sup = await browser.newContext();
      try {
        const login = await sup.request.post(`${FLOOR_BASE}/api/login`, { data: { username: 'kanshi', password: PASSWORD } });
        assert.equal(login.status(), 200);
        const r = await sup.request.get(`${FLOOR_BASE}/api/floor`);
        assert.equal(r.status(), 200);
        assert.ok((await r.json()).episodes.some((e) => e.alert_id === id));
      } finally {
        await sup.close();
      }
      assert.equal((await c.context.request.get(`${FLOOR_BASE}/api/floor`)).status(), 403);
      assertClean(page, a.context);
    } finally {
      await setAvailable(c.page, false).catch(() => {});
      await a.context.close();
      await c.context.close();
    }
  });
}
