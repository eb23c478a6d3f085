// Booking details that survive a reload, a new PIN, copy buttons and
// moving a booking (issue 19, part B), in Japanese and English, on a phone
// (360 x 740) and at a desk (1280 x 800):
// - the offer explains the first consultation before consent;
// - the booking form offers a contact choice that needs no phone call;
// - copy buttons put the reference on the clipboard and say so, and when
//   the clipboard is refused they select the PIN and say how to copy it;
// - a reload shows the booking again (reference, time, place, what to
//   bring) and issues a new PIN there, shown once; the old PIN then fails
//   on the look-up page and the new one works;
// - the booking is moved from the chat page, then back from the look-up
//   page; the calendar file's title is neutral and names no centre.
// axe (no serious or critical violation), no horizontal scroll and a
// screenshot on each state (test-artifacts/screenshots/{ja,en}/booking-survive-*.png).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BASE,
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
} from '../lib/harness.mjs';

const f = handoffFixture();

const COPY = {
  ja: {
    first: 'あなたの同意なしに、ご家族',
    reach: 'センターから短いメッセージを送ってもらう',
    copied: 'コピーしました',
    copyFailed: 'コピーできませんでした',
    gone: '新しいPINを発行',
    writeDown: '書き留めてください',
    newPinDone: '前のPINはもう使えません',
    moved: '予約番号とPINはそのままです',
    bring: '持ち物は特にありません',
    notFound: '予約が見つかりません',
    title: 'SUMMARY:予約\r\n',
    reachShown: 'センターから短いメッセージを送ってもらう（SMSかメール）',
  },
  en: {
    first: 'family, school or workplace are not told without your consent',
    reach: 'The centre sends me a short message',
    copied: 'Copied',
    copyFailed: 'Could not copy',
    gone: 'Issue a new PIN',
    writeDown: 'Write it down',
    newPinDone: 'The old PIN no longer works',
    moved: 'The reference and PIN stay the same',
    bring: 'You need not bring anything',
    notFound: 'No booking matches this reference and PIN',
    title: 'SUMMARY:Appointment\r\n',
    reachShown: 'The centre sends me a short message (SMS or e-mail)',
  },
};

const VIEWPORTS = {
  phone: { width: 360, height: 740 },
  desk: { width: 1280, height: 800 },
};

let hour = 9;

/** The .ics behind the chat page's calendar link. */
async function calendarText(page) {
  await page.waitForSelector('#booked-calendar:not([hidden])');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#booked-calendar')]);
  return readFileSync(await download.path(), 'utf8');
}

for (const lang of ['ja', 'en']) {
  for (const [vpName, viewport] of Object.entries(VIEWPORTS)) {
    const copy = COPY[lang];
    const shot = (n) => `booking-survive-${n}-${vpName}`;

    test(`a booking survives a reload, gets a new PIN, is copied and moved (${lang}, ${vpName})`, async () => {
      hour += 1;
      const placeA = `相談室A（${lang} ${vpName}）`;
      const placeB = `相談室B（${lang} ${vpName}）`;
      await createSlot(f.admin, { starts_at: tomorrowInJapan(hour).ms, place: placeA, capacity: 2 });
      await createSlot(f.admin, { starts_at: tomorrowInJapan(hour, 30).ms, place: placeB, capacity: 1 });
      const { c, v } = await chattingPair(f.browser, 'yagi');
      let lookup = null;
      try {
        await v.page.setViewportSize(viewport);
        await switchLang(v.page, lang);
        await v.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });

        // ---- the offer says what the first consultation is like, before consent
        await counsellorOffers(c.page, `予約が残るかのテスト（${lang} ${vpName}）`);
        await v.page.waitForSelector('#offer-form:not([hidden])');
        await waitText(v.page, '#offer-first', copy.first);
        await v.page.locator('#offer-first').scrollIntoViewIfNeeded();
        await checkState(v.page, lang, `offer with the first consultation (${vpName})`, shot('1-offer'));

        // ---- a contact choice that needs no phone: a short message by e-mail
        await visitorConsents(v.page, { contact: true });
        await v.page.locator('#slot-list .slot', { hasText: placeA }).waitFor();
        assert.ok(await v.page.locator('#reach-message').isChecked(), 'a message is the default with contact details');
        await v.page.check('#reach-none');
        assert.ok(await v.page.locator('#contact-choice').isHidden(), 'no contact detail for "no contact"');
        await v.page.check('#reach-message');
        await v.page.locator('#slot-list .slot', { hasText: placeA }).locator('input').check();
        await v.page.check('#contact-email');
        await v.page.fill('#contact-value', 'hana@example.jp');
        await checkState(v.page, lang, `booking form with the contact choice (${vpName})`, shot('2-form'));
        await v.page.click('#booking-submit');
        await v.page.waitForSelector('#booked:not([hidden])');
        await waitText(v.page, '#booked-place', placeA);
        await waitText(v.page, '#booked-bring', copy.bring);
        const reference = (await v.page.locator('#booked-reference').textContent()).trim();
        const oldPin = (await v.page.locator('#booked-pin').textContent()).trim();
        assert.match(reference, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
        assert.match(oldPin, /^\d{6}$/);
        const ics = await calendarText(v.page);
        assert.ok(ics.includes(copy.title), ics);
        assert.ok(!/センター|Centre|Center/.test(ics), `the calendar names no centre: ${ics}`);

        // ---- copy buttons: the clipboard, and a visible line
        await v.page.click('#copy-reference');
        await waitText(v.page, '#copy-status', copy.copied);
        assert.equal(await v.page.evaluate(() => navigator.clipboard.readText()), reference);
        // Refused by the browser: the PIN is selected and the line says how to copy it.
        await v.page.evaluate(() => {
          navigator.clipboard.writeText = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));
        });
        await v.page.click('#copy-pin');
        await waitText(v.page, '#copy-status', copy.copyFailed);
        assert.equal(await v.page.evaluate(() => window.getSelection().toString().trim()), oldPin);
        await checkState(v.page, lang, `booked, copy refused (${vpName})`, shot('3-copy'));

        // ---- a reload shows the booking again; the PIN is gone but a new one can be issued
        await v.page.reload();
        await v.page.waitForSelector('#booked:not([hidden])');
        await waitText(v.page, '#booked-reference', reference);
        await waitText(v.page, '#booked-place', placeA);
        await waitText(v.page, '#booked-bring', copy.bring);
        await waitText(v.page, '#booked-pin-note', copy.gone);
        assert.ok(await v.page.locator('#booked-pin').isHidden());
        assert.ok(!(await v.page.content()).includes(oldPin));
        await checkState(v.page, lang, `booking after a reload (${vpName})`, shot('4-reloaded'));
        await v.page.click('#new-pin');
        await v.page.waitForSelector('#new-pin-confirm:not([hidden])');
        assert.equal(await v.page.evaluate(() => document.activeElement.id), 'new-pin-no');
        await v.page.click('#new-pin-yes');
        await v.page.waitForSelector('#booked-pin:visible');
        const newPin = (await v.page.locator('#booked-pin').textContent()).trim();
        assert.match(newPin, /^\d{6}$/);
        await waitText(v.page, '#booked-write-down', copy.writeDown);
        await waitText(v.page, '#booked-done', copy.newPinDone);
        await v.page.click('#copy-pin');
        await waitText(v.page, '#copy-status', copy.copied);
        assert.equal(await v.page.evaluate(() => navigator.clipboard.readText()), newPin);
        // The calendar file comes back with the new PIN.
        assert.ok((await calendarText(v.page)).includes(reference));
        await checkState(v.page, lang, `a new PIN, shown once (${vpName})`, shot('5-new-pin'));

        // ---- move it from the chat page
        await v.page.click('#reschedule-open');
        await v.page.locator('#move-list .slot', { hasText: placeB }).waitFor();
        assert.equal(await v.page.locator('#move-list .slot', { hasText: placeA }).count(), 0, 'not the slot it is in');
        await v.page.locator('#move-list .slot', { hasText: placeB }).locator('input').check();
        await checkState(v.page, lang, `choosing a new time (${vpName})`, shot('6-moving'));
        await v.page.click('#reschedule-submit');
        await waitText(v.page, '#booked-done', copy.moved);
        await waitText(v.page, '#booked-place', placeB);
        await waitText(v.page, '#booked-reference', reference);
        await checkState(v.page, lang, `moved from the chat (${vpName})`, shot('7-moved'));
        const seen = (await intakeBookings(f.intake)).find((b) => b.reference === reference);
        assert.equal(seen.slot.place, placeB);
        assert.equal(seen.contact_choice, 'message');
        assert.ok(seen.rescheduled_at > 0);

        // ---- the look-up page: the old PIN fails, the new one works; move it back
        lookup = await phonePage(f.browser, '/booking/', { viewport });
        const page = lookup.page;
        await page.waitForFunction(() => document.getElementById('lookup-submit').textContent.length > 0);
        await switchLang(page, lang);
        await page.fill('#lookup-reference', reference);
        await page.fill('#lookup-pin', oldPin);
        await page.click('#lookup-submit');
        await waitText(page, '#lookup-error', copy.notFound);
        expectRefused(page, 404, 1);
        await page.fill('#lookup-pin', newPin);
        await page.click('#lookup-submit');
        await page.waitForSelector('#booking[data-state="booked"]');
        await waitText(page, '#booking-place', placeB);
        await waitText(page, '#booking-reach', copy.reachShown);
        await waitText(page, '#booking-bring', copy.bring);
        await page.click('#booking-move');
        await page.locator('#move-list .slot', { hasText: placeA }).waitFor();
        await page.locator('#move-list .slot', { hasText: placeA }).locator('input').check();
        await checkState(page, lang, `look-up page, choosing a new time (${vpName})`, shot('8-lookup-moving'));
        await page.click('#move-submit');
        await waitText(page, '#booking-done', copy.moved);
        await waitText(page, '#booking-place', placeA);
        await checkState(page, lang, `look-up page, moved (${vpName})`, shot('9-lookup-moved'));
        // The chat page hears of it too.
        await waitText(v.page, '#booked-place', placeA);

        await counsellorEnds(c.page, 'handoff_agreed');
        assertClean(page, lookup.context);
        assertClean(v.page, v.context);
      } finally {
        await lookup?.context.close();
        await v.context.close();
        await c.context.close();
      }
    });
  }
}
