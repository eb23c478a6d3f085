// The staff pages of the handoff, in Japanese and English: an admin
// creates a slot in Japan time (the server's refusals shown in the form),
// cancels it, and reads the audit log; intake sees the upcoming bookings
// with exactly what each visitor consented to (contact details and the
// transcript only where agreed), marks attendance and cancels one.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  PASSWORD,
  launch,
  chattingPair,
  counsellorEnds,
  visitorSend,
  waitText,
  switchLang,
  axeScan,
  assertNoHorizontalScroll,
  screenshot,
  assertClean,
  staffPage,
  adminSection,
  staffApi,
  createSlot,
  tomorrowInJapan,
  counsellorOffers,
  visitorConsents,
  visitorBooks,
  expectRefused,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function checkState(page, lang, label, shot) {
  await axeScan(page, `${lang} ${label}`);
  await screenshot(page, lang, shot);
}

test('an admin account is pointed from the console to the admin page', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(`${BASE}/console`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#login-username', 'mori');
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-submit');
    // The console's workspace stays closed to an admin; a link leads on.
    await page.waitForSelector('#login-other:not([hidden])');
    assert.ok(await page.locator('#workspace').isHidden());
    assert.equal(await page.getAttribute('#login-other-link', 'href'), '/admin/');
    await page.click('#login-other-link');
    // The admin page, on its first section (the floor).
    await page.waitForSelector('#workspace:not([hidden]) #floor-heading');
  } finally {
    await context.close();
  }
});

for (const [lang, hour] of [
  ['ja', 14],
  ['en', 15],
]) {
  test(`an admin creates a slot, sees a refusal, cancels the slot, reads the audit log (${lang})`, async () => {
    const place = `区保健福祉センター 2階（admin ${lang}）`;
    const a = await staffPage(browser, '/admin/#appointment-slots', 'mori', {
      beforeLogin: async (page) => {
        await switchLang(page, lang);
        await checkState(page, lang, 'admin login', 'admin-0-login');
      },
    });
    try {
      await a.page.waitForSelector('#slots-none:not([hidden]), #slots-body tr');
      // ---- a date is needed (said in the form, nothing sent)
      await a.page.click('#slot-submit');
      await waitText(a.page, '#slot-error', lang === 'ja' ? '日付と開始時刻' : 'date and a start time');
      // ---- the server's refusal of an empty place, shown as it says it
      const when = tomorrowInJapan(hour);
      await a.page.fill('#slot-date', when.date);
      await a.page.fill('#slot-time', when.time);
      await a.page.fill('#slot-duration', '60');
      await a.page.selectOption('#slot-kind', 'ward_office');
      await a.page.fill('#slot-capacity', '1');
      await a.page.fill('#slot-staff', '2');
      await a.page.click('#slot-submit');
      await waitText(a.page, '#slot-error', 'place: must not be empty');
      await checkState(a.page, lang, 'admin slot refused', 'admin-2-slot-error');
      // ---- created, in Japan time
      await a.page.fill('#slot-place', place);
      await a.page.click('#slot-submit');
      await waitText(a.page, '#status', lang === 'ja' ? '枠をつくりました' : 'Slot created');
      const row = a.page.locator('#slots-body tr', { hasText: place });
      await row.waitFor();
      const cells = await row.locator('td').allTextContents();
      assert.ok(cells[0].includes(lang === 'ja' ? `${hour}:00〜${hour + 1}:00` : `${hour}:00–${hour + 1}:00 (Japan time)`), cells[0]);
      assert.equal(cells[1], lang === 'ja' ? '区の保健福祉センターで' : 'At the ward health and welfare centre');
      assert.equal(cells[3], '0 / 1');
      assert.equal(await row.getAttribute('data-state'), 'open');
      // Visitors can book it now.
      const slots = await (await a.context.request.get(`${BASE}/api/slots`)).json();
      const slot = slots.find((s) => s.place === place);
      assert.ok(slot, 'the new slot is bookable');
      assert.equal(slot.starts_at, when.ms);
      await checkState(a.page, lang, 'admin slots', 'admin-1-slots');

      // ---- cancelled: no longer bookable, and both steps are in the audit log
      await row.locator('.cancel-slot').click();
      await a.page.waitForSelector(`#slots-body tr[data-slot="${slot.slot_id}"][data-state="cancelled"]`);
      await waitText(a.page, '#status', lang === 'ja' ? '枠を取り消しました' : 'Slot cancelled');
      const after = await (await a.context.request.get(`${BASE}/api/slots`)).json();
      assert.ok(!after.some((s) => s.slot_id === slot.slot_id));
      await adminSection(a.page, 'audit-log');
      await a.page.waitForSelector('#audit-body tr[data-action="create_slot"]');
      await a.page.waitForSelector('#audit-body tr[data-action="cancel_slot"]');
      await waitText(a.page, '#audit-body', '森');
      await checkState(a.page, lang, 'admin slot cancelled, audit log', 'admin-3-cancelled');

      // ---- on a phone: the tables scroll in their own box, never the page
      await a.page.setViewportSize({ width: 360, height: 740 });
      await assertNoHorizontalScroll(a.page, `${lang} admin at 360 px`);
      await checkState(a.page, lang, 'admin on a phone', 'admin-4-phone');
      expectRefused(a.page, 400, 1);
      assertClean(a.page, a.context);
    } finally {
      await a.context.close();
    }
  });
}

/** A chat that ends in a booking with the given consent; returns its reference. */
async function bookedChat(place, { offerTranscript, transcript, contact, name, message }) {
  const { c, v } = await chattingPair(browser, 'ota');
  try {
    await visitorSend(v.page, message);
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', message);
    await counsellorOffers(c.page, `${message} — summary`, { transcript: offerTranscript });
    await visitorConsents(v.page, { transcript, contact });
    if (contact) await visitorBooks(v.page, place, { kind: 'phone', value: contact, name });
    else {
      // Without consent to pass on contact details, none are asked for.
      assert.ok(await v.page.locator('#contact-choice').isHidden());
      await v.page.waitForSelector('#contact-only-self:not([hidden])');
      await visitorBooks(v.page, place, { name });
    }
    const reference = await v.page.locator('#booked-reference').textContent();
    await waitText(c.page, '.conv-panel:not([hidden]) .handoff-booked', place);
    await counsellorEnds(c.page, 'handoff_agreed');
    assertClean(v.page, v.context);
    assertClean(c.page, c.context);
    return reference;
  } finally {
    await v.context.close();
    await c.context.close();
  }
}

test('intake sees exactly what was consented to, marks attendance, cancels (ja and en)', async () => {
  const admin = await staffApi(browser, 'mori');
  const place = 'オンライン（ビデオ通話） intake';
  await createSlot(admin, { starts_at: tomorrowInJapan(16).ms, place, capacity: 2, kind: 'online' });
  await admin.close();
  const withTranscript = await bookedChat(place, {
    offerTranscript: true,
    transcript: true,
    contact: null,
    name: 'はなこ',
    message: '記録を渡してもよいです',
  });
  const withContact = await bookedChat(place, {
    offerTranscript: true,
    transcript: false,
    contact: '03-1234-5678',
    name: null,
    message: '連絡は電話でお願いします',
  });

  const i = await staffPage(browser, '/intake/', 'noda', {
    beforeLogin: async (page) => {
      await checkState(page, 'ja', 'intake login', 'intake-0-login');
      await switchLang(page, 'en');
      await checkState(page, 'en', 'intake login', 'intake-0-login');
      await switchLang(page, 'ja');
    },
  });
  try {
    const item = (ref) => i.page.locator(`.booking[data-reference="${ref}"]`);
    await item(withTranscript).waitFor();
    await item(withContact).waitFor();

    // Transcript agreed, no contact details: the transcript opens, no contact is shown.
    const a = item(withTranscript);
    await waitText(i.page, `.booking[data-reference="${withTranscript}"] .summary`, '記録を渡してもよいです — summary');
    assert.equal(await a.locator('.contact').textContent(), 'なし');
    assert.ok((await a.textContent()).includes('はなこ'));
    assert.equal(await a.locator('.transcript-scope').textContent(), 'チャットの記録の共有に同意あり');
    await a.locator('.open-transcript').click();
    await a.locator('.transcript .msg-text', { hasText: '記録を渡してもよいです' }).waitFor();

    // Contact agreed, transcript offered but not agreed: the phone number, and no way to the transcript.
    const b = item(withContact);
    assert.equal(await b.locator('.contact').textContent(), '電話：03-1234-5678');
    assert.equal(await b.locator('.transcript-scope').textContent(), 'チャットの記録は共有されていません');
    assert.equal(await b.locator('.open-transcript').count(), 0);
    await axeScan(i.page, 'ja intake bookings');
    await screenshot(i.page, 'ja', 'intake-1-bookings');

    // The server agrees: no transcript for the booking that did not consent to it.
    const refused = await i.context.request.get(`${BASE}/api/intake/bookings/${withContact}/transcript`);
    assert.equal(refused.status(), 403);

    // ---- English
    await switchLang(i.page, 'en');
    await waitText(i.page, `.booking[data-reference="${withContact}"] .contact`, 'Phone: 03-1234-5678');
    await waitText(i.page, `.booking[data-reference="${withTranscript}"] .contact`, 'None');
    await waitText(i.page, `.booking[data-reference="${withContact}"] .transcript-scope`, 'The chat transcript is not shared');
    await axeScan(i.page, 'en intake bookings');
    await screenshot(i.page, 'en', 'intake-1-bookings');

    // ---- attended, then a cancellation with a confirm step
    await b.locator('.mark-attended').click();
    await waitText(i.page, `.booking[data-reference="${withContact}"] .attended`, 'Attendance recorded');
    await a.locator('.cancel-booking').click();
    await a.locator('.confirm').waitFor();
    assert.ok(await a.locator('.confirm-no').evaluate((e) => e === document.activeElement));
    await axeScan(i.page, 'en intake cancel confirm');
    await a.locator('.confirm-yes').click();
    await waitText(i.page, '#status', `Booking ${withTranscript} cancelled.`);
    await item(withTranscript).waitFor({ state: 'detached' });
    await switchLang(i.page, 'ja');
    await waitText(i.page, `.booking[data-reference="${withContact}"] .attended`, '出席を記録しました');
    await axeScan(i.page, 'ja intake after cancel');
    await screenshot(i.page, 'ja', 'intake-2-after-cancel');
    await switchLang(i.page, 'en');
    await screenshot(i.page, 'en', 'intake-2-after-cancel');

    // ---- on a phone
    await i.page.setViewportSize({ width: 360, height: 740 });
    await assertNoHorizontalScroll(i.page, 'intake at 360 px');
    assertClean(i.page, i.context);
  } finally {
    await i.context.close();
  }
});
