// The consented handoff to a first consultation, in Japanese and English:
// the counsellor offers, the visitor sees the summary word for word, asks
// for a change, agrees to a scope, books a slot (a wrong phone number is
// refused next to its field), both sides see the booking, the PIN and the
// reference show once and survive a reload without the PIN, the calendar
// file downloads; withdrawing takes it all back. Declining leaves nothing
// for intake. Each state is scanned with axe and screenshotted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  chattingPair,
  switchLang,
  panel,
  waitText,
  axeScan,
  checkState,
  screenshot,
  assertClean,
  counsellorEnds,
  handoffFixture,
  intakeBookings,
  createSlot,
  tomorrowInJapan,
  counsellorOffers,
  visitorConsents,
  visitorBooks,
  expectRefused,
} from '../lib/harness.mjs';

const XSS = '<img src=x onerror=alert(1)>';

const COPY = {
  ja: {
    username: 'joh',
    hour: 10,
    place: '本館2階 相談室A（ja）',
    summary: `20代の息子さんについて、お母さまからのご相談です。\n3年ほど家から出ていません。${XSS}`,
    revised: '20代の息子さんについて、お母さまからのご相談です。\n3年ほど家から出ていません。本人はまだ来所を迷っています。',
    recipient: 'ひきこもり地域支援センター 初回相談の受付担当',
    retention: '365日間',
    offered: '提案済み（第1版）',
    changeRequested: '修正を求めています',
    revisedState: '提案済み（第2版）',
    consented: '同意あり（まとめ・チャットの記録・連絡先）',
    visitorConsented: '同意しました',
    invalid: '電話番号（例：090-1234-5678）',
    booked: '予約しました',
    when: '10:00〜11:00',
    kind: 'センターに来所',
    pinOnce: '一度だけ表示',
    pinGone: '予約したときに一度だけ表示しました',
    consoleBooked: '予約あり：',
    withdrawn: '何も渡されていません',
    consoleWithdrawn: '同意を取り消しました',
    declined: '今回は何も渡していません',
    consoleDeclined: '見送りました',
  },
  en: {
    username: 'kondo',
    hour: 11,
    place: 'Main building, room A (en)',
    summary: `A mother writing about her son in his twenties.\nHe has not left home for about three years. ${XSS}`,
    revised: 'A mother writing about her son in his twenties.\nHe has not left home for about three years. He is unsure about coming in.',
    recipient: "the Hikikomori Support Centre's intake staff",
    retention: '365 days',
    offered: 'Offered (version 1)',
    changeRequested: 'asks for changes',
    revisedState: 'Offered (version 2)',
    consented: 'Consented (the summary, the chat transcript, contact details)',
    visitorConsented: 'You agreed',
    invalid: 'Please check the phone number',
    booked: 'Your consultation is booked',
    when: '11:00–12:00 (Japan time)',
    kind: 'At the centre',
    pinOnce: 'shown only this once',
    pinGone: 'The PIN was shown once',
    consoleBooked: 'Booked: ',
    withdrawn: 'Nothing is passed on',
    consoleWithdrawn: 'withdrew their consent',
    declined: 'Nothing was passed on',
    consoleDeclined: 'declined this time',
  },
};

const f = handoffFixture();

/** The summaries intake can see now. */
async function intakeSummaries() {
  return (await intakeBookings(f.intake)).map((b) => b.summary);
}

/** Both pages in `lang` (a chat always starts on the Japanese page). */
async function inLanguage(pair, lang) {
  await switchLang(pair.c.page, lang);
  await switchLang(pair.v.page, lang);
}

for (const lang of ['ja', 'en']) {
  const copy = COPY[lang];

  test(`a counsellor offers, the visitor consents, books, and withdraws (${lang})`, async () => {
    const { ms } = tomorrowInJapan(copy.hour);
    await createSlot(f.admin, { starts_at: ms, place: copy.place, capacity: 2 });
    const pair = await chattingPair(f.browser, copy.username);
    const { c, v } = pair;
    try {
      await inLanguage(pair, lang);

      // ---- the offer, word for word, with its terms; nothing ticked
      await counsellorOffers(c.page, copy.summary, { transcript: true });
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-state', copy.offered);
      await v.page.waitForSelector('#offer-form:not([hidden])');
      assert.equal(await v.page.locator('#offer-summary').textContent(), copy.summary);
      assert.equal(await v.page.locator('#offer-summary img').count(), 0);
      await waitText(v.page, '#offer-recipient', copy.recipient);
      await waitText(v.page, '#offer-retention', copy.retention);
      assert.equal(await v.page.isChecked('#offer-transcript'), false);
      assert.equal(await v.page.isChecked('#offer-contact'), false);
      await checkState(v.page, lang, 'visitor handoff offer', 'visitor-5-handoff-offer');

      // ---- asking for a change; the revised text replaces the old one
      await v.page.click('#offer-change');
      await v.page.waitForSelector('#handoff[data-state="change_requested"]');
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-state', copy.changeRequested);
      assert.equal(await panel(c.page).locator('.handoff-form textarea').inputValue(), copy.summary);
      await counsellorOffers(c.page, copy.revised, { transcript: true });
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-state', copy.revisedState);
      await v.page.waitForSelector('#offer-form:not([hidden])');
      await v.page.waitForFunction((s) => document.getElementById('offer-summary').textContent === s, copy.revised);

      // ---- consent with the transcript and contact details
      await visitorConsents(v.page, { transcript: true, contact: true });
      await waitText(v.page, '#handoff-status', copy.visitorConsented);
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-state', copy.consented);
      // No revision while the consent stands (the hand-on tab is open: the state shows, the form does not).
      assert.ok(await panel(c.page).locator('.handoff-state').isVisible());
      assert.ok(await panel(c.page).locator('.handoff-form').isHidden());
      await v.page.locator('#slot-list .slot', { hasText: copy.place }).waitFor();
      await checkState(v.page, lang, 'visitor booking form', 'visitor-6-booking');

      // ---- a phone number that is not one: said next to the field, nothing booked
      await v.page.locator('#slot-list .slot', { hasText: copy.place }).locator('input').check();
      await v.page.check('#contact-phone');
      await v.page.fill('#contact-value', '123');
      await v.page.click('#booking-submit');
      await waitText(v.page, '#contact-error', copy.invalid);
      assert.equal(await v.page.evaluate(() => document.activeElement.id), 'contact-value');
      assert.ok(await v.page.locator('#booked').isHidden());
      await checkState(v.page, lang, 'visitor booking, wrong phone number', 'visitor-6-booking-error');

      // ---- booked: date, place, reference, the PIN once, the calendar file
      await visitorBooks(v.page, copy.place, { kind: 'phone', value: '090-1234-5678', name: lang === 'ja' ? 'たろう' : 'Taro' });
      await waitText(v.page, '#booked-heading', copy.booked);
      await waitText(v.page, '#booked-when', copy.when);
      await waitText(v.page, '#booked-kind', copy.kind);
      await waitText(v.page, '#booked-place', copy.place);
      const reference = await v.page.locator('#booked-reference').textContent();
      const pin = await v.page.locator('#booked-pin').textContent();
      assert.match(reference, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
      assert.match(pin, /^\d{6}$/);
      await waitText(v.page, '#booked-pin-note', copy.pinOnce);
      const [download] = await Promise.all([v.page.waitForEvent('download'), v.page.click('#booked-calendar')]);
      assert.equal(download.suggestedFilename(), `${reference}.ics`);
      const ics = readFileSync(await download.path(), 'utf8');
      assert.ok(ics.includes('BEGIN:VCALENDAR') && ics.includes(reference), ics);
      await checkState(v.page, lang, 'visitor booked', 'visitor-7-booked');

      // The counsellor sees the booking (and never the reference).
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-booked', `${copy.consoleBooked}`);
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-booked', copy.place);
      assert.ok(!(await panel(c.page).textContent()).includes(reference));
      await axeScan(c.page, `${lang} console handoff booked`);
      await screenshot(c.page, lang, 'console-2-handoff-booked');
      assert.ok((await intakeSummaries()).includes(copy.revised));

      // ---- a reload keeps the booking; the PIN is not shown again
      await v.page.reload();
      await v.page.waitForSelector('#booked:not([hidden])');
      await waitText(v.page, '#booked-reference', reference);
      await waitText(v.page, '#booked-pin-note', copy.pinGone);
      assert.ok(await v.page.locator('#booked-pin').isHidden());
      assert.ok(!(await v.page.content()).includes(pin));
      assert.ok(!JSON.stringify(await v.page.evaluate(() => ({ ...sessionStorage }))).includes(pin));

      // ---- withdraw, after a confirm step: intake sees nothing any more
      await v.page.click('#withdraw');
      await v.page.waitForSelector('#withdraw-confirm:not([hidden])');
      assert.equal(await v.page.evaluate(() => document.activeElement.id), 'withdraw-no');
      await v.page.click('#withdraw-yes');
      await v.page.waitForSelector('#handoff[data-state="withdrawn"]');
      await waitText(v.page, '#handoff-status', copy.withdrawn);
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-state', copy.consoleWithdrawn);
      assert.ok(!(await intakeSummaries()).includes(copy.revised));
      await checkState(v.page, lang, 'visitor withdrawn', 'visitor-8-withdrawn');
      // A new offer is possible again.
      assert.ok(await panel(c.page).locator('.handoff-form').isVisible());

      await counsellorEnds(c.page, 'handoff_agreed');
      // The wrong phone number's refusal (a 400) is the one failed request the browser logs.
      expectRefused(v.page, 400, 1);
      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });

  test(`declining passes nothing on (${lang})`, async () => {
    const pair = await chattingPair(f.browser, copy.username);
    const { c, v } = pair;
    try {
      await inLanguage(pair, lang);
      const summary = `${copy.summary} (decline)`;
      await counsellorOffers(c.page, summary);
      await v.page.waitForSelector('#offer-form:not([hidden])');
      // The transcript was not offered: there is nothing to tick for it.
      assert.ok(await v.page.locator('#offer-transcript-field').isHidden());
      await v.page.click('#offer-decline');
      await v.page.waitForSelector('#handoff[data-state="declined"]');
      await waitText(v.page, '#handoff-status', copy.declined);
      assert.ok(await v.page.locator('#booking-form').isHidden());
      await waitText(c.page, '.conv-panel:not([hidden]) .handoff-state', copy.consoleDeclined);
      assert.ok(!(await intakeSummaries()).includes(summary));
      await checkState(v.page, lang, 'visitor declined', 'visitor-9-declined');
      // Still there after a reload, calmly.
      await v.page.reload();
      await v.page.waitForSelector('#handoff[data-state="declined"]');
      await waitText(v.page, '#handoff-status', copy.declined);
      await counsellorEnds(c.page, 'listened');
      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });
}
