// The partner services a counsellor refers a visitor to (issue 23), in the
// console's end form, in Japanese and English. An admin adds two partners
// through the API (one for teens only, one for every age). A teenage
// visitor's counsellor chooses the outcome "referred": the box 「紹介先」
// lists both, with their kinds, area and contact, and a filter by kind;
// one is ticked and the chat ended; the admin's monthly report then counts
// that partner's kinds in `referrals_by_offer`. A visitor in their thirties
// sees only the every-age partner (the box shown by ticking "referred to
// another agency"). An empty directory says so. The list scrolls inside
// the form at 1280 x 800. Axe clean; screenshots console-refer*.
// The partners added are deleted at the end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  panel,
  openTab,
  waitText,
  axeScan,
  screenshot,
  assertClean,
  staffApi,
} from '../lib/harness.mjs';

// The admin of the partner directory (spec 36), and this spec's own
// counsellor (tests/browser/run.sh).
const ADMIN = 'renkei';
const COUNSELLOR = 'shokai';

let browser;
let admin;
const added = [];
before(async () => {
  browser = await launch();
  admin = await staffApi(browser, ADMIN);
});
after(async () => {
  // Whatever happened, the partners this file added are gone.
  for (const id of added) await admin?.request.delete(`${BASE}/api/partners/${id}`).catch(() => {});
  await admin?.close();
  await browser?.close();
});

const tag = Date.now().toString(36);
const TEENS = {
  name_ja: `八王子ユースサポート（試験 ${tag}）`,
  name_en: `Hachioji Youth Support (test ${tag})`,
  offers: ['education', 'child_family'],
  area: '八王子市',
  age_bands: ['teens'],
  contact: '042-000-2222（平日 10:00〜18:00）',
};
const EVERY_AGE = {
  name_ja: `多摩こころの診療所（試験 ${tag}）`,
  // No English name: the English console shows the Japanese one.
  offers: ['medical', 'family_class'],
  contact: '042-000-3333',
  note_ja: '初診は予約制です。',
};

async function addPartner(body) {
  const r = await admin.request.post(`${BASE}/api/partners`, { data: body });
  assert.equal(r.status(), 201, `add partner: ${await r.text()}`);
  const p = await r.json();
  const id = p.partner_id ?? p.partner?.partner_id;
  assert.ok(id, JSON.stringify(p));
  added.push(id);
  return id;
}

async function directory() {
  const r = await admin.request.get(`${BASE}/api/partners`);
  assert.equal(r.status(), 200);
  return (await r.json()).partners;
}

/** The admin report of this month (Japan time). */
async function referralsByOffer() {
  const period = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(new Date()).slice(0, 7);
  const r = await admin.request.get(`${BASE}/api/admin/report?period=${period}`);
  assert.equal(r.status(), 200, await r.text());
  return (await r.json()).referrals_by_offer || {};
}

const box = (page) => panel(page).locator('.refer-box');
const names = (page) => box(page).locator('.refer-name').allTextContents();

/** The form fits the 1280 x 800 window: the page does not scroll, and the list scrolls inside the form. */
async function assertFits(page, label) {
  const m = await page.evaluate(() => {
    const list = document.querySelector('.conv-panel:not([hidden]) .refer-list');
    return {
      page: document.documentElement.scrollHeight,
      client: document.documentElement.clientHeight,
      listMax: getComputedStyle(list).maxHeight,
      listOverflow: getComputedStyle(list).overflowY,
    };
  });
  assert.ok(m.page <= m.client, `${label}: the page is ${m.page}px tall in ${m.client}px`);
  assert.equal(m.listOverflow, 'auto', label);
  assert.notEqual(m.listMax, 'none', label);
}

/** End the open conversation with the form as it is (confirming if asked), then close its tab. */
async function endIt(page) {
  const p = panel(page);
  await p.locator('.end-form button[type="submit"]').click();
  await page.waitForFunction(
    () => document.querySelector('#end-confirm[open]') || document.querySelector('.conv-panel:not([hidden]) .close-conv:not([hidden])'),
  );
  if (await page.locator('#end-confirm[open]').isVisible()) await page.locator('#end-confirm .end-confirm-yes').click();
  await p.locator('.close-conv').waitFor();
  await p.locator('.close-conv').click();
}

async function newVisitor(c, age_band, first_message) {
  const v = await visitorPage(browser);
  await startChat(v.page, { age_band, first_message });
  await c.page.waitForSelector('.conv-panel:not([hidden])');
  await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', first_message);
  return v;
}

test('the end form names the partner services that fit the visitor (ja, en)', async () => {
  const c = await counsellorPage(browser, COUNSELLOR);
  const visitors = [];
  try {
    await waitQueueEmpty(c.page);
    await setAvailable(c.page, true);
    const report0 = await referralsByOffer();

    // ---- ja: a teenage visitor; the directory may still be empty
    const v1 = await newVisitor(c, 'teens', '学校に行けていません。どこに相談できますか');
    visitors.push(v1);
    await openTab(c.page, 'end');
    assert.ok(await box(c.page).isHidden(), 'no box before a referral');
    const emptyAtFirst = (await directory()).length === 0;
    await panel(c.page).locator('.end-outcome').selectOption('referred');
    await box(c.page).waitFor();
    if (emptyAtFirst) {
      await waitText(c.page, '.conv-panel:not([hidden]) .refer-empty', '連携先がまだ登録されていません。管理者に登録を依頼してください。');
      await axeScan(c.page, 'ja console refer: empty directory');
      await screenshot(c.page, 'ja', 'console-refer-empty');
    }
    // Another outcome hides it; choosing "referred" again loads the list afresh.
    await panel(c.page).locator('.end-outcome').selectOption('listened');
    await box(c.page).waitFor({ state: 'hidden' });

    const teensId = await addPartner(TEENS);
    const everyId = await addPartner(EVERY_AGE);
    await panel(c.page).locator('.end-outcome').selectOption('referred');
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-box legend', '紹介先（連携先から選ぶ）');
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-name', TEENS.name_ja);
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-name', EVERY_AGE.name_ja);
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-intro', '10代');
    const teens = box(c.page).locator(`.refer-item[data-partner="${teensId}"]`);
    const teensText = await teens.innerText();
    for (const part of ['支援：教育・学び直し・子ども・家庭', '地域：八王子市', `連絡先：${TEENS.contact}`]) {
      assert.ok(teensText.includes(part), `${part} in ${teensText}`);
    }
    const everyText = await box(c.page).locator(`.refer-item[data-partner="${everyId}"]`).innerText();
    assert.ok(everyText.includes('地域：問わない'), everyText);
    assert.ok(everyText.includes('初診は予約制です。'), everyText);
    // Each a labelled checkbox, its details described; the box a fieldset with a legend.
    const pick = c.page.getByLabel(TEENS.name_ja, { exact: true });
    assert.equal(await pick.getAttribute('type'), 'checkbox');
    assert.ok(await pick.getAttribute('aria-describedby'));
    assert.equal(await box(c.page).evaluate((e) => e.tagName), 'FIELDSET');

    // The filter by kind keeps the partners of that kind.
    const filter = c.page.getByLabel('種類で絞り込む（任意）');
    await filter.selectOption('medical');
    await c.page.waitForFunction((n) => !document.querySelector('.conv-panel:not([hidden]) .refer-box').textContent.includes(n), TEENS.name_ja);
    assert.deepEqual(await names(c.page), [EVERY_AGE.name_ja]);
    await filter.selectOption('');
    await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .refer-item').length >= 2);

    // Ticked with the keyboard.
    await pick.focus();
    await c.page.keyboard.press('Space');
    assert.ok(await pick.isChecked());
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-count', '1件を選んでいます');
    await assertFits(c.page, 'ja refer');
    await axeScan(c.page, 'ja console refer');
    await screenshot(c.page, 'ja', 'console-refer');

    // The frame the console sends names the partner.
    const frames = [];
    await c.page.evaluate(() => {
      const send = WebSocket.prototype.send;
      window.__sent = [];
      WebSocket.prototype.send = function (d) {
        window.__sent.push(String(d));
        return send.call(this, d);
      };
    });
    await endIt(c.page);
    frames.push(...(await c.page.evaluate(() => window.__sent)));
    const end = frames.map((f) => JSON.parse(f)).find((f) => f.type === 'end');
    assert.deepEqual(end.referred_to, [teensId], JSON.stringify(end));
    assert.equal(end.outcome, 'referred');

    // The admin's report counts the teens partner's kinds.
    await c.page.waitForTimeout(300);
    let report = await referralsByOffer();
    for (const k of TEENS.offers) assert.ok(k in report, `${k} in ${JSON.stringify(report)}`);
    for (const k of EVERY_AGE.offers) {
      if (!(k in report0)) assert.ok(!(k in report), `${k} not counted yet: ${JSON.stringify(report)}`);
    }

    // ---- en: a visitor in their thirties sees only the every-age partner
    await switchLang(c.page, 'en');
    const v2 = await newVisitor(c, 'thirties', 'My brother has not left his room for years');
    visitors.push(v2);
    await openTab(c.page, 'end');
    await panel(c.page).locator('.end-outcome').selectOption('information_given');
    assert.ok(await box(c.page).isHidden());
    await c.page.getByLabel('Referred to another agency').check();
    await box(c.page).waitFor();
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-box legend', 'Referred to (from the partner directory)');
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-name', EVERY_AGE.name_ja);
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-intro', '30s');
    const shown = await names(c.page);
    assert.ok(shown.includes(EVERY_AGE.name_ja), 'name_ja when there is no English name');
    assert.ok(!shown.some((n) => n.includes(tag) && n !== EVERY_AGE.name_ja), `only the every-age partner: ${shown}`);
    const enText = await box(c.page).locator(`.refer-item[data-partner="${everyId}"]`).innerText();
    for (const part of ['Offers: Medical', 'Area: any', `Contact: ${EVERY_AGE.contact}`]) {
      assert.ok(enText.includes(part), `${part} in ${enText}`);
    }
    await c.page.getByLabel(EVERY_AGE.name_ja, { exact: true }).check();
    await waitText(c.page, '.conv-panel:not([hidden]) .refer-count', '1 chosen');
    await assertFits(c.page, 'en refer');
    await axeScan(c.page, 'en console refer');
    await screenshot(c.page, 'en', 'console-refer');
    await endIt(c.page);
    await c.page.waitForTimeout(300);
    report = await referralsByOffer();
    for (const k of [...TEENS.offers, ...EVERY_AGE.offers]) assert.ok(k in report, `${k} in ${JSON.stringify(report)}`);

    await setAvailable(c.page, false);
    for (const v of visitors) assertClean(v.page, v.context);
    assertClean(c.page, c.context);
  } finally {
    for (const v of visitors) await v.context.close();
    await c.context.close();
  }
});
