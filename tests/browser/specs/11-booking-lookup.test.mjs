// A booking looked up later on /booking/, in Japanese and English: a
// visitor books through the API after consenting in a chat (their
// confirmation points to /booking/), then on a phone: a wrong PIN is
// refused, the right one shows the booking in Japan time, the calendar
// file downloads, cancelling takes a confirm step and shows the cancelled
// state, which a new look-up confirms. Too many tries on one reference
// say how long to wait. Keyboard order and visible focus on the form;
// axe, 360 px and a screenshot on each state.
//
// The server allows 5 tries per reference a minute (burst 5): each
// language has its own booking and uses exactly 5 (wrong PIN, right PIN,
// calendar, cancel, look-up again). run.sh lifts the per-address limit,
// since every test comes from 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BASE,
  NEUTRAL_URL,
  phonePage,
  chattingPair,
  switchLang,
  waitText,
  checkState,
  assertClean,
  expectRefused,
  counsellorEnds,
  handoffFixture,
  intakeBookings,
  createSlot,
  tomorrowInJapan,
  counsellorOffers,
  visitorConsents,
  visitorSession,
} from '../lib/harness.mjs';

const COPY = {
  ja: {
    hour: 13,
    place: '本館2階 相談室B（予約の確認 ja）',
    name: 'はなこ',
    when: '13:00〜14:00',
    kind: 'センターに来所',
    contact: 'メール',
    linkNote: 'このページで予約番号とPINを入力',
    notFound: '予約が見つかりません。予約番号とPINを',
    booked: 'この予約は有効です。',
    calendarDone: 'カレンダーのファイルをダウンロードしました。',
    cancelledNow: '予約を取り消しました。',
    cancelled: 'この予約は取り消されています。',
    deleted: '（取り消し済み・連絡先は削除）',
    withdrawnNow: '同意を取り消しました。センターには何も渡りません。',
    rateLimited: /試した回数が多すぎます。\d+秒ほど待って/,
    locked: /ロックされました。予約はそのまま残っています/,
  },
  en: {
    hour: 14,
    place: 'Main building, room B (lookup en)',
    name: 'Hana',
    when: '14:00–15:00 (Japan time)',
    kind: 'At the centre',
    contact: 'E-mail',
    linkNote: 'enter the reference and PIN on this page',
    notFound: 'No booking matches this reference and PIN.',
    booked: 'This booking is in place.',
    calendarDone: 'The calendar file was downloaded.',
    cancelledNow: 'The booking is cancelled.',
    cancelled: 'This booking has been cancelled.',
    deleted: '(cancelled; name and contact details deleted)',
    withdrawnNow: 'Your consent is withdrawn: nothing goes to the centre',
    rateLimited: /Too many tries\. Please wait about \d+ seconds/,
    locked: /locked after too many wrong PINs\. The booking itself still stands/,
  },
};

const f = handoffFixture();

/** References of the bookings intake sees now (those in force). */
async function intakeReferences() {
  return (await intakeBookings(f.intake)).map((b) => b.reference);
}

/**
 * A chat in which the visitor consents (contact details included) and
 * books through the API; their confirmation links to /booking/. Returns
 * the reference and the PIN.
 */
async function bookThroughApi(lang, copy) {
  const slot = await createSlot(f.admin, { starts_at: tomorrowInJapan(copy.hour).ms, place: copy.place, capacity: 2 });
  const { c, v } = await chattingPair(f.browser, 'sato');
  try {
    await counsellorOffers(c.page, `予約の確認のテスト（${lang}）`);
    await visitorConsents(v.page, { contact: true });
    const { conversation_id, token } = await visitorSession(v.page);
    const r = await v.context.request.post(`${BASE}/api/handoff/book`, {
      data: { conversation_id, token, slot_id: slot.slot_id, name: copy.name, contact: { kind: 'email', value: 'hana@example.jp' } },
    });
    assert.equal(r.status(), 201, await r.text());
    const { booking, pin } = await r.json();
    // The chat's confirmation names the look-up page, whole, to write down.
    await switchLang(v.page, lang);
    await v.page.waitForSelector('#booked:not([hidden])');
    await waitText(v.page, '#booked-lookup', copy.linkNote);
    assert.equal(await v.page.locator('#booked-lookup-link').textContent(), `${BASE}/booking/`);
    assert.equal(await v.page.getAttribute('#booked-lookup-link', 'href'), '/booking/');
    // With the optional statistics fields of the end dialog, once.
    await counsellorEnds(c.page, 'handoff_agreed', { withdrawal: 'under_three_years', severity: 'state_2', referral: true });
    assertClean(v.page, v.context);
    return { reference: booking.reference, pin };
  } finally {
    await v.context.close();
    await c.context.close();
  }
}

/** /booking/ on a phone, in `lang`. */
async function lookupPage(lang) {
  const opened = await phonePage(f.browser, '/booking/');
  await opened.page.waitForFunction(() => document.getElementById('lookup-submit').textContent.length > 0);
  await switchLang(opened.page, lang);
  return opened;
}

/** The focused element's id, and whether its focus can be seen (an outline). */
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return { id: el.id, visible: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
  });
}

async function submitted(page, submit) {
  const [response] = await Promise.all([page.waitForResponse((r) => r.url() === `${BASE}/api/booking`), submit()]);
  return response.status();
}

for (const lang of ['ja', 'en']) {
  const copy = COPY[lang];

  test(`a booking is looked up, its calendar file downloaded, and cancelled (${lang})`, async () => {
    const { reference, pin } = await bookThroughApi(lang, copy);
    assert.ok((await intakeReferences()).includes(reference));

    const { context, page } = await lookupPage(lang);
    try {
      assert.equal(await page.getAttribute('#lookup-pin', 'inputmode'), 'numeric');
      assert.equal(await page.getAttribute('#lookup-pin', 'autocomplete'), 'off');
      assert.equal(await page.getAttribute('#lookup-reference', 'autocomplete'), 'off');
      await checkState(page, lang, 'booking look-up form', 'booking-0-form');

      // ---- keyboard: the top bar, then the form in reading order, focus always visible
      await page.focus('#lang-switch');
      for (const id of ['quick-exit', 'lookup-reference', 'lookup-pin', 'lookup-submit']) {
        await page.keyboard.press('Tab');
        assert.deepEqual(await focused(page), { id, visible: true });
      }

      // ---- a wrong PIN: said plainly, nothing shown (typed, sent with Enter)
      await page.focus('#lookup-reference');
      await page.keyboard.type(reference.toLowerCase().replace('-', ''));
      await page.fill('#lookup-pin', pin === '000000' ? '111111' : '000000');
      assert.equal(await submitted(page, () => page.press('#lookup-pin', 'Enter')), 404);
      await waitText(page, '#lookup-error', copy.notFound);
      assert.equal((await focused(page)).id, 'lookup-reference');
      assert.ok(await page.locator('#booking').isHidden());
      await checkState(page, lang, 'booking look-up, wrong PIN', 'booking-3-error');

      // ---- the right PIN (full-width digits, as a Japanese keyboard may type them)
      const wide = [...pin].map((d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0)).join('');
      await page.fill('#lookup-pin', lang === 'ja' ? wide : pin);
      assert.equal(await submitted(page, () => page.click('#lookup-submit')), 200);
      await page.waitForSelector('#booking[data-state="booked"]');
      assert.equal((await focused(page)).id, 'booking-heading');
      assert.ok(await page.locator('#lookup-form').isHidden());
      await waitText(page, '#booking-state', copy.booked);
      assert.equal(await page.locator('#booking-reference').textContent(), reference);
      await waitText(page, '#booking-when', copy.when);
      assert.equal(await page.locator('#booking-kind').textContent(), copy.kind);
      assert.equal(await page.locator('#booking-place').textContent(), copy.place);
      assert.equal(await page.locator('#booking-name').textContent(), copy.name);
      assert.equal(await page.locator('#booking-contact').textContent(), copy.contact);
      // The PIN is nowhere on the page or in storage; only the language is kept.
      assert.ok(!(await page.content()).includes(pin));
      const kept = Object.keys(await page.evaluate(() => ({ ...sessionStorage })));
      assert.ok(kept.every((k) => k === 'tsunagu.lang'), JSON.stringify(kept));
      await checkState(page, lang, 'booking found', 'booking-1-found');

      // ---- the calendar file
      const [download, response] = await Promise.all([
        page.waitForEvent('download'),
        page.waitForResponse((r) => r.url() === `${BASE}/api/booking/calendar`),
        page.click('#booking-calendar'),
      ]);
      assert.equal(response.status(), 200);
      assert.match(response.headers()['content-type'], /^text\/calendar/);
      // What is read is the file saved from the page's Blob of that answer
      // (Playwright gives an empty body for the answer itself here).
      assert.equal(download.suggestedFilename(), `${reference}.ics`);
      const ics = readFileSync(await download.path(), 'utf8');
      assert.ok(ics.includes('BEGIN:VCALENDAR') && ics.includes(reference), ics);
      await waitText(page, '#booking-done', copy.calendarDone);

      // ---- cancel: a confirm step (going back keeps it), then the cancelled state
      await page.click('#booking-cancel');
      await page.waitForSelector('#cancel-confirm:not([hidden])');
      assert.equal((await focused(page)).id, 'cancel-no');
      await page.keyboard.press('Enter');
      assert.ok(await page.locator('#cancel-confirm').isHidden());
      assert.equal((await focused(page)).id, 'booking-cancel');
      await page.click('#booking-cancel');
      await page.click('#cancel-yes');
      await page.waitForSelector('#booking[data-state="cancelled"]');
      await waitText(page, '#booking-state', copy.cancelledNow);
      assert.ok(await page.locator('#booking-actions').isHidden());
      assert.equal((await focused(page)).id, 'booking-heading');
      assert.ok(!(await intakeReferences()).includes(reference));
      // The name and contact were deleted with the cancellation (issue 18).
      await waitText(page, '#booking-name', copy.deleted);
      await waitText(page, '#booking-contact', copy.deleted);
      assert.ok(!(await page.content()).includes(copy.name));
      await checkState(page, lang, 'booking cancelled', 'booking-2-cancelled');

      // ---- a new look-up says so too (the fifth and last try on this reference)
      await page.click('#lookup-again');
      assert.equal((await focused(page)).id, 'lookup-reference');
      assert.equal(await page.inputValue('#lookup-pin'), '');
      await page.fill('#lookup-reference', reference);
      await page.fill('#lookup-pin', pin);
      assert.equal(await submitted(page, () => page.click('#lookup-submit')), 200);
      await page.waitForSelector('#booking[data-state="cancelled"]');
      await waitText(page, '#booking-state', copy.cancelled);
      await waitText(page, '#booking-name', copy.deleted);
      await waitText(page, '#booking-contact', copy.deleted);

      expectRefused(page, 404, 1);
      assertClean(page, context);
    } finally {
      await context.close();
    }
  });

  test(`the consent behind a booking is withdrawn from the look-up page (${lang})`, async () => {
    const { reference, pin } = await bookThroughApi(lang, { ...copy, hour: copy.hour + 2 });
    assert.ok((await intakeReferences()).includes(reference));
    const { context, page } = await lookupPage(lang);
    try {
      await page.fill('#lookup-reference', reference);
      await page.fill('#lookup-pin', pin);
      assert.equal(await submitted(page, () => page.click('#lookup-submit')), 200);
      await page.waitForSelector('#booking[data-state="booked"]');
      await page.click('#booking-withdraw');
      await page.waitForSelector('#cancel-confirm:not([hidden])');
      assert.equal((await focused(page)).id, 'cancel-no');
      await checkState(page, lang, 'withdraw consent, confirm step', 'booking-5-withdraw-confirm');
      await page.click('#cancel-yes');
      await page.waitForSelector('#booking[data-state="cancelled"]');
      await waitText(page, '#booking-state', copy.withdrawnNow);
      assert.ok(!(await intakeReferences()).includes(reference), 'intake no longer sees it');
      await checkState(page, lang, 'consent withdrawn', 'booking-6-withdrawn');
      assertClean(page, context);
    } finally {
      await context.close();
    }
  });

  test(`too many wrong PINs on one reference lock it and say so, and quick exit leaves (${lang})`, async () => {
    // A reference nobody has: wrong PINs count against it all the same
    // (limits.booking_pin_failures = 5 in this server's settings).
    const reference = lang === 'ja' ? 'ZZZZ-JJJ2' : 'ZZZZ-EEE2';
    const { context, page } = await lookupPage(lang);
    try {
      for (let i = 0; i < 5; i += 1) {
        const r = await context.request.post(`${BASE}/api/booking`, { data: { reference, pin: '123456' } });
        assert.equal(r.status(), 404);
      }
      await page.fill('#lookup-reference', reference);
      await page.fill('#lookup-pin', '123456');
      assert.equal(await submitted(page, () => page.click('#lookup-submit')), 423);
      await page.waitForFunction(
        ([source, flags]) => new RegExp(source, flags).test(document.getElementById('lookup-error').textContent),
        [copy.locked.source, copy.locked.flags],
      );
      await checkState(page, lang, 'booking look-up, locked after wrong PINs', 'booking-4-locked');
      expectRefused(page, 423, 1);

      // A PIN that is not 6 digits is said at once, without a try.
      await page.fill('#lookup-pin', '12');
      await page.click('#lookup-submit');
      assert.equal((await focused(page)).id, 'lookup-pin');

      await page.click('#quick-exit');
      await page.waitForURL(`${NEUTRAL_URL}**`);
      assertClean(page, context);
    } finally {
      await context.close();
    }
  });
}
