// The directory of partner services on the admin page (issue 23), in
// Japanese and English: an entry without any offer is refused with a
// clear message naming the field, and nothing is stored; an admin adds a
// partner with two offers and an age band and sees it listed in words;
// edits its contact; deletes it after a confirmation (which can be
// declined). The page's list matches GET /api/partners each time. At
// 360 px nothing scrolls sideways. Axe clean; screenshots admin-partners*.
// Each language run uses its own names and deletes what it added.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  staffPage,
  switchLang,
  waitText,
  axeScan,
  screenshot,
  assertClean,
  assertNoHorizontalScroll,
  expectRefused,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const COPY = {
  ja: {
    nav: '連携先',
    badField: '「提供する支援」を確かめてください',
    added: 'を追加しました',
    saved: 'を保存しました',
    deleted: 'を削除しました',
    offers: ['医療', '福祉'],
    age: '20代',
    relays: '受け付ける',
    formEdit: '連携先を編集',
    confirm: 'を連携先から削除しますか',
  },
  en: {
    nav: 'Partner services',
    badField: 'Please check “What they offer”',
    added: 'added',
    saved: 'saved',
    deleted: 'deleted',
    offers: ['Medical', 'Welfare'],
    age: '20s',
    relays: 'Accepted',
    formEdit: 'Edit partner',
    confirm: 'from the partners?',
  },
};

/** The directory as the server has it (the page's own cookie). */
const listed = (page) =>
  page.evaluate(async () => {
    const r = await fetch('/api/partners');
    return (await r.json()).partners;
  });

/** The cards' ids, in the page's order. */
const cardIds = (page) => page.$$eval('#partners-list > li', (els) => els.map((e) => e.dataset.partner));

for (const lang of ['ja', 'en']) {
  test(`partner services: refused without an offer, added, listed, edited, deleted (${lang})`, async () => {
    const copy = COPY[lang];
    const tag = `${lang}-${Date.now().toString(36)}`;
    const name = { ja: `八王子こころクリニック（試験 ${tag}）`, en: `Hachioji Kokoro Clinic (test ${tag})` };
    const contact = '042-000-0000（平日 9:00〜17:00）';
    const contact2 = '042-000-1111 / https://example.jp/kokoro';
    const a = await staffPage(browser, '/admin/#partners', 'renkei');
    const page = a.page;
    try {
      await switchLang(page, lang);
      await page.locator('#section-partners:not([hidden])').waitFor();
      assert.equal((await page.locator('.admin-nav a[aria-current="page"]').textContent()).trim(), copy.nav);
      assert.ok(await page.locator('.partners-intro').isVisible());
      const before = await listed(page);

      // ---- no offer ticked: refused, the field named, the focus on its first box, nothing stored
      await page.fill('#partner-name-ja', name.ja);
      await page.fill('#partner-contact', contact);
      await page.click('#partners-submit');
      await page.locator('#partners-error:not([hidden])').waitFor();
      await waitText(page, '#partners-error', copy.badField);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'partner-offer-medical');
      expectRefused(page, 400, 1);
      assert.deepEqual(await listed(page), before, 'nothing stored');
      assert.equal(await page.locator('#partners-list > li', { hasText: name.ja }).count(), 0);
      await axeScan(page, `${lang} partners: refused entry`);
      await screenshot(page, lang, 'admin-partners-refused');

      // ---- two offers, one age band, relays accepted: added and listed in words
      await page.fill('#partner-name-en', name.en);
      await page.check('#partner-offer-medical');
      await page.check('#partner-offer-welfare');
      await page.check('#partner-age-twenties');
      await page.fill('#partner-area', lang === 'ja' ? '八王子市' : 'Hachioji City');
      await page.fill('#partner-note-ja', '初診は予約制です。\n家族だけの相談もできます。');
      await page.fill('#partner-note-en', 'First visits by appointment.');
      await page.check('#partner-relays');
      await page.click('#partners-submit');
      const card = page.locator('#partners-list > li', { hasText: name.ja });
      await card.waitFor();
      await waitText(page, '#partners-status', copy.added);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'partners-status');
      assert.ok(await page.locator('#partners-error').isHidden());
      // The form is empty again for the next one.
      assert.equal(await page.inputValue('#partner-name-ja'), '');
      assert.equal(await page.isChecked('#partner-offer-medical'), false);
      assert.deepEqual((await card.locator('.tag').allTextContents()).map((s) => s.trim()), copy.offers);
      const text = await card.innerText();
      assert.ok(text.includes(name.en), text);
      assert.ok(text.includes(copy.age), text);
      assert.ok(text.includes(contact), text);
      assert.equal((await card.locator('.partner-relays').textContent()).trim(), copy.relays);
      let server = await listed(page);
      let mine = server.find((p) => p.name_ja === name.ja);
      assert.ok(mine, 'stored');
      assert.deepEqual(mine.offers, ['medical', 'welfare']);
      assert.deepEqual(mine.age_bands, ['twenties']);
      assert.equal(mine.contact, contact);
      assert.equal(mine.name_en, name.en);
      assert.equal(mine.accepts_relays, true);
      assert.deepEqual(await cardIds(page), server.map((p) => p.partner_id), 'the page lists what the server has');
      await page.evaluate(() => window.scrollTo(0, 0));
      await axeScan(page, `${lang} partners: one added`);
      await screenshot(page, lang, 'admin-partners');

      // ---- edit its contact: the form is filled, the focus on its heading; saved
      await card.locator('.partner-edit').click();
      assert.equal(await page.evaluate(() => document.activeElement.id), 'partners-form-heading');
      await waitText(page, '#partners-form-heading', copy.formEdit);
      assert.equal(await page.inputValue('#partner-name-ja'), name.ja);
      assert.equal(await page.isChecked('#partner-offer-welfare'), true);
      assert.equal(await page.isChecked('#partner-age-twenties'), true);
      assert.ok(await page.locator('#partners-cancel').isVisible());
      await axeScan(page, `${lang} partners: editing`);
      await screenshot(page, lang, 'admin-partners-edit');
      await page.fill('#partner-contact', contact2);
      await page.click('#partners-submit');
      await waitText(page, '#partners-status', copy.saved);
      await waitText(page, `#partners-list > li[data-partner="${mine.partner_id}"] .partner-contact`, contact2);
      assert.ok(await page.locator('#partners-cancel').isHidden());
      server = await listed(page);
      mine = server.find((p) => p.partner_id === mine.partner_id);
      assert.equal(mine.contact, contact2);
      assert.deepEqual(mine.offers, ['medical', 'welfare'], 'the rest unchanged');
      assert.deepEqual(await cardIds(page), server.map((p) => p.partner_id));

      // ---- a phone: nothing scrolls sideways, the form and the card fit
      await page.setViewportSize({ width: 360, height: 740 });
      await page.evaluate(() => window.scrollTo(0, 0));
      await assertNoHorizontalScroll(page, `${lang} partners at 360 px`);
      for (const sel of ['#partners-form', `#partners-list > li[data-partner="${mine.partner_id}"]`]) {
        const box = await page.locator(sel).evaluate((e) => e.getBoundingClientRect().toJSON());
        assert.ok(box.left >= 0 && box.right <= 360, `${sel} fits: ${JSON.stringify(box)}`);
      }
      await axeScan(page, `${lang} partners at 360 px`);
      await screenshot(page, lang, 'admin-partners-360');
      await page.setViewportSize({ width: 1280, height: 800 });

      // ---- delete: a confirmation first (declined, then accepted)
      await card.locator('.partner-delete').click();
      const confirm = card.locator('.confirm');
      await confirm.waitFor();
      await waitText(page, `#partners-list > li[data-partner="${mine.partner_id}"] .confirm`, copy.confirm);
      assert.ok((await page.evaluate(() => document.activeElement.className)).includes('partner-delete-no'));
      await axeScan(page, `${lang} partners: confirm delete`);
      await card.scrollIntoViewIfNeeded();
      await screenshot(page, lang, 'admin-partners-delete');
      await card.locator('.partner-delete-no').click();
      await confirm.waitFor({ state: 'detached' });
      assert.ok(await page.evaluate(() => document.activeElement.classList.contains('partner-delete')), 'the focus back on "delete"');
      assert.ok((await listed(page)).some((p) => p.partner_id === mine.partner_id), 'declining keeps it');
      await card.locator('.partner-delete').click();
      await card.locator('.partner-delete-yes').click();
      await card.waitFor({ state: 'detached' });
      await waitText(page, '#partners-status', copy.deleted);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'partners-status');
      server = await listed(page);
      assert.ok(!server.some((p) => p.partner_id === mine.partner_id), 'deleted on the server');
      assert.deepEqual(await cardIds(page), server.map((p) => p.partner_id));
      if (server.length === 0) assert.ok(await page.locator('#partners-none').isVisible());
      assertClean(page, a.context);
    } finally {
      // Whatever happened, this run's entries are gone.
      await page
        .evaluate(async (t) => {
          const r = await fetch('/api/partners');
          for (const p of r.ok ? (await r.json()).partners : []) {
            if (p.name_ja.includes(t)) await fetch(`/api/partners/${p.partner_id}`, { method: 'DELETE' });
          }
        }, tag)
        .catch(() => {});
      await a.context.close();
    }
  });
}
