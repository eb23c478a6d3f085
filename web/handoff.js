// The visitor's side of the handoff to a first consultation, inside the
// chat: the counsellor's offer (what would be passed on, to whom, why, for
// how long), the visitor's answer, a booking, its confirmation, and
// withdrawing the consent.
//
// Used by two pages: the web chat (web/visitor.js, who = the conversation
// and its resume token) and the page of a LINE visitor's one-time link
// (web/handoff/link.js, who = the link). The page passes `auth`, a
// function giving the proof to put in every request; this file never
// knows which kind it is.
//
// Where the handoff stands comes from the server (`handoff` frames, and
// POST /api/handoff after a reload), never from this tab. The PIN and the
// calendar file of a booking are kept in memory only: the PIN is shown
// once and never stored.

import { t, lang, formatJapanRange, consentScope, specText, showSpec, applyI18n } from './i18n.js';
import { h, postJson } from './common.js';

const $ = (id) => document.getElementById(id);

// The section's markup, the same on both pages; put into their empty
// <section id="handoff"> by initHandoff.
const MARKUP = `
<h2 id="handoff-heading" tabindex="-1" data-i18n="consent.heading"></h2>
<p id="handoff-status" class="handoff-status" role="status" aria-live="polite"></p>

<form id="offer-form" class="offer-form" novalidate hidden>
  <p data-i18n="consent.intro"></p>
  <h3 id="offer-summary-heading" data-i18n="consent.summary"></h3>
  <p id="offer-summary" class="offer-summary quoted"></p>
  <dl class="terms">
    <dt data-i18n="consent.recipient"></dt>
    <dd id="offer-recipient"></dd>
    <dt data-i18n="consent.purpose"></dt>
    <dd id="offer-purpose"></dd>
    <dt data-i18n="consent.retention"></dt>
    <dd id="offer-retention"></dd>
  </dl>
  <div id="offer-transcript-field" class="check">
    <input id="offer-transcript" type="checkbox" aria-describedby="offer-transcript-hint">
    <label for="offer-transcript" data-i18n="consent.transcript"></label>
    <p id="offer-transcript-hint" class="hint" data-i18n="consent.transcript.hint"></p>
  </div>
  <p id="offer-no-transcript" class="hint" data-i18n="consent.transcript.not_offered"></p>
  <div class="check">
    <input id="offer-contact" type="checkbox" aria-describedby="offer-contact-hint">
    <label for="offer-contact" data-i18n="consent.contact"></label>
    <p id="offer-contact-hint" class="hint" data-i18n="consent.contact.hint"></p>
  </div>
  <p class="hint" data-i18n="consent.withdraw_note"></p>
  <p id="offer-error" class="error" role="alert" hidden></p>
  <div class="offer-buttons">
    <button id="offer-agree" type="submit" class="primary" data-i18n="consent.agree"></button>
    <button id="offer-change" type="button" class="secondary" data-i18n="consent.change"></button>
    <button id="offer-decline" type="button" class="secondary" data-i18n="consent.decline"></button>
  </div>
</form>

<form id="booking-form" class="booking-form" novalidate hidden>
  <h3 id="booking-heading" tabindex="-1" data-i18n="booking.heading"></h3>
  <fieldset class="slots" aria-describedby="slot-error">
    <legend data-i18n="booking.slots"></legend>
    <div id="slot-list" class="slot-list"></div>
    <p id="slot-none" class="hint" data-i18n="booking.none" hidden></p>
    <button id="slot-reload" type="button" class="button-quiet" data-i18n="booking.reload"></button>
  </fieldset>
  <p id="slot-error" class="error" role="alert" hidden></p>
  <div class="field">
    <label for="booking-name" data-i18n="booking.name"></label>
    <input id="booking-name" type="text" maxlength="40" autocomplete="off">
  </div>
  <fieldset id="contact-choice" class="contact-choice">
    <legend data-i18n="booking.contact"></legend>
    <div class="radio">
      <input id="contact-phone" type="radio" name="contact-kind" value="phone" checked>
      <label for="contact-phone" data-i18n="booking.contact.phone"></label>
    </div>
    <div class="radio">
      <input id="contact-email" type="radio" name="contact-kind" value="email">
      <label for="contact-email" data-i18n="booking.contact.email"></label>
    </div>
    <div class="field">
      <label id="contact-value-label" for="contact-value"></label>
      <input id="contact-value" type="text" autocomplete="off" aria-describedby="contact-error">
      <p id="contact-error" class="error" role="alert" hidden></p>
    </div>
  </fieldset>
  <p id="contact-only-self" class="hint" data-i18n="booking.contact.only_self" hidden></p>
  <p id="booking-error" class="error" role="alert" hidden></p>
  <button id="booking-submit" type="submit" class="primary wide" data-i18n="booking.submit"></button>
</form>

<section id="booked" class="booked" aria-labelledby="booked-heading" hidden>
  <h3 id="booked-heading" tabindex="-1" data-i18n="booking.done.heading"></h3>
  <dl class="terms">
    <dt data-i18n="booking.when"></dt>
    <dd id="booked-when"></dd>
    <dt data-i18n="booking.kind"></dt>
    <dd id="booked-kind"></dd>
    <dt data-i18n="booking.where"></dt>
    <dd id="booked-place"></dd>
    <dt data-i18n="booking.reference"></dt>
    <dd id="booked-reference" class="code"></dd>
    <dt id="booked-pin-label" data-i18n="booking.pin"></dt>
    <dd id="booked-pin" class="code"></dd>
  </dl>
  <p id="booked-pin-note" class="notice"></p>
  <p id="booked-lookup"><span data-i18n="booking.lookup"></span> <a id="booked-lookup-link" href="/booking/"></a></p>
  <a id="booked-calendar" class="button-link secondary" data-i18n="booking.calendar" hidden></a>
</section>

<div id="withdraw-area" class="withdraw-area" hidden>
  <button id="withdraw" type="button" class="secondary" data-i18n="booking.withdraw"></button>
  <div id="withdraw-confirm" class="confirm" role="group" aria-labelledby="withdraw-confirm-text" hidden>
    <p id="withdraw-confirm-text" data-i18n="booking.withdraw.confirm"></p>
    <div class="confirm-buttons">
      <button id="withdraw-yes" type="button" class="danger" data-i18n="booking.withdraw.yes"></button>
      <button id="withdraw-no" type="button" class="secondary" data-i18n="confirm.back"></button>
    </div>
  </div>
  <p id="withdraw-error" class="error" role="alert" hidden></p>
</div>
`;

let auth = () => null;
let announce = () => {};
/** Offer "withdraw consent" under a booking (the link page: no, the booking page does it). */
let withdrawWhenBooked = true;

const hs = {
  /** The server's HandoffView, or null. */
  view: null,
  /** Bookable slots (GET /api/slots), or null before they are loaded. */
  slots: null,
  /** The answer to our booking: {reference, slot, pin, calendarUrl}. In memory only. */
  receipt: null,
  /** A request is on its way (buttons are disabled). */
  busy: false,
  /** Messages as keys or error bodies, re-rendered on a language change. */
  status: null,
  errors: { offer: null, slot: null, contact: null, booking: null, withdraw: null },
};

/**
 * Called once by the page: `auth()` gives the visitor's proof for a
 * request body (`{conversation_id, token}` or `{link}`), or null;
 * `announce(text)` tells a screen reader.
 */
export function initHandoff(options) {
  const root = $('handoff');
  root.innerHTML = MARKUP;
  applyI18n(root);
  auth = options.auth;
  announce = options.announce;
  withdrawWhenBooked = options.withdrawWhenBooked ?? true;
  $('offer-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    answer('consent');
  });
  $('offer-change').addEventListener('click', () => answer('change'));
  $('offer-decline').addEventListener('click', () => answer('decline'));
  $('booking-form').addEventListener('submit', book);
  $('slot-reload').addEventListener('click', loadSlots);
  for (const r of document.querySelectorAll('input[name="contact-kind"]')) r.addEventListener('change', renderContact);
  $('withdraw').addEventListener('click', () => {
    $('withdraw-confirm').hidden = false;
    $('withdraw-no').focus();
  });
  $('withdraw-no').addEventListener('click', () => {
    $('withdraw-confirm').hidden = true;
    $('withdraw').focus();
  });
  $('withdraw-yes').addEventListener('click', withdraw);
}

/** Forget everything (a new conversation, erased from this device). */
export function resetHandoff() {
  if (hs.receipt?.calendarUrl) URL.revokeObjectURL(hs.receipt.calendarUrl);
  Object.assign(hs, { view: null, slots: null, receipt: null, busy: false, status: null });
  for (const k of Object.keys(hs.errors)) hs.errors[k] = null;
  $('offer-form').reset();
  $('booking-form').reset();
  renderHandoff();
}

/** A `handoff` frame, or the answer of an HTTP call: where it stands now. */
export function onHandoff(view) {
  const before = hs.view;
  hs.view = view || null;
  if (!view) return renderHandoff();
  const newOffer = view.state === 'offered' && (!before || before.version !== view.version || before.state !== 'offered');
  if (newOffer) {
    // A new (or revised) offer starts unticked: the visitor widens nothing by default.
    $('offer-transcript').checked = false;
    $('offer-contact').checked = false;
    hs.errors.offer = null;
    if (!before) hs.status = null;
    announce(t('consent.arrived'));
  }
  if (view.state !== 'offered' && hs.status?.key === 'consent.changed') hs.status = null;
  if (view.state === 'consented' && !view.booking && hs.slots === null) loadSlots();
  if (hs.receipt && view.booking?.reference !== hs.receipt.reference) {
    URL.revokeObjectURL(hs.receipt.calendarUrl);
    hs.receipt = null;
  }
  renderHandoff();
  if (newOffer) $('handoff').scrollIntoView({ block: 'nearest' });
  return undefined;
}

/** Ask the server where the handoff stands (after a reload of an ended chat, or an `offer_changed`). */
export async function refreshHandoff() {
  const who = auth();
  if (!who) return;
  const r = await postJson('/api/handoff', who);
  if (r.ok) onHandoff(r.body.handoff);
}

function setBusy(busy) {
  hs.busy = busy;
  for (const id of ['offer-agree', 'offer-change', 'offer-decline', 'booking-submit', 'withdraw-yes']) $(id).disabled = busy;
}

// -------------------------------------------------------------- answer

async function answer(kind) {
  const v = hs.view;
  const who = auth();
  if (!v || !who || hs.busy) return;
  hs.errors.offer = null;
  setBusy(true);
  renderHandoff();
  const r = await postJson('/api/handoff/answer', {
    ...who,
    version: v.version,
    wording_version: v.terms.wording_version,
    lang: lang(),
    answer: kind,
    transcript: v.include_transcript && $('offer-transcript').checked,
    contact: $('offer-contact').checked,
  });
  setBusy(false);
  if (r.ok) {
    hs.status = null;
    onHandoff(r.body.handoff);
    $('handoff-heading').focus();
    return;
  }
  if (r.body.code === 'offer_changed') {
    // The counsellor revised it while the visitor read: show the new text, ask again.
    hs.status = { key: 'consent.changed' };
    await refreshHandoff();
    $('handoff-heading').focus();
    return;
  }
  if (r.body.code === 'already_answered') await refreshHandoff();
  hs.errors.offer = { err: r.body };
  renderHandoff();
}

// ------------------------------------------------------------- booking

async function loadSlots() {
  try {
    const r = await fetch('/api/slots', { credentials: 'same-origin' });
    if (!r.ok) throw new Error(String(r.status));
    hs.slots = await r.json();
    if (hs.errors.slot?.key === 'error.network') hs.errors.slot = null;
  } catch {
    hs.slots = hs.slots || [];
    hs.errors.slot = { key: 'error.network' };
  }
  renderHandoff();
}

function contactKind() {
  if (!hs.view?.consent?.contact) return 'self';
  return document.querySelector('input[name="contact-kind"]:checked')?.value || 'phone';
}

async function book(ev) {
  ev.preventDefault();
  const who = auth();
  if (!who || hs.busy) return;
  for (const k of ['slot', 'contact', 'booking']) hs.errors[k] = null;
  const chosen = document.querySelector('input[name="slot"]:checked');
  const kind = contactKind();
  const value = $('contact-value').value.trim();
  if (!chosen) hs.errors.slot = { key: 'booking.choose' };
  if (kind !== 'self' && !value) hs.errors.contact = { key: 'booking.need_value' };
  if (hs.errors.slot || hs.errors.contact) {
    renderHandoff();
    (hs.errors.slot ? $('slot-list').querySelector('input') || $('slot-reload') : $('contact-value')).focus();
    return;
  }
  const contact = kind === 'self' ? { kind } : { kind, value };
  const name = $('booking-name').value.trim();
  setBusy(true);
  $('booking-submit').textContent = t('booking.booking');
  const r = await postJson('/api/handoff/book', { ...who, slot_id: chosen.value, name: name || null, contact });
  setBusy(false);
  if (r.ok) {
    const { booking, pin, calendar } = r.body;
    const calendarUrl = URL.createObjectURL(new Blob([calendar], { type: 'text/calendar' }));
    hs.receipt = { reference: booking.reference, slot: booking.slot, pin, calendarUrl };
    hs.view = { ...hs.view, booking };
    renderHandoff();
    $('booked-heading').focus();
    return;
  }
  const code = r.body.code;
  if (code === 'slot_full' || code === 'slot_unavailable') {
    hs.errors.slot = { err: r.body };
    hs.slots = null;
    await loadSlots();
    $('slot-list').querySelector('input')?.focus();
    return;
  }
  if (code === 'invalid_contact' || code === 'outside_consent') {
    hs.errors.contact = { err: r.body };
    renderHandoff();
    $('contact-value').focus();
    return;
  }
  hs.errors.booking = { err: r.body };
  if (code === 'no_consent' || code === 'already_booked') await refreshHandoff();
  renderHandoff();
}

async function withdraw() {
  const who = auth();
  if (!who || hs.busy) return;
  hs.errors.withdraw = null;
  setBusy(true);
  const r = await postJson('/api/handoff/withdraw', who);
  setBusy(false);
  $('withdraw-confirm').hidden = true;
  if (r.ok) {
    onHandoff(r.body.handoff);
    $('handoff-heading').focus();
    return;
  }
  hs.errors.withdraw = { err: r.body };
  renderHandoff();
  $('withdraw').focus();
}

// --------------------------------------------------------------- render

function slotOption(slot) {
  const id = `slot-${slot.slot_id}`;
  const chosen = document.querySelector('input[name="slot"]:checked')?.value;
  return h(
    'div',
    { class: 'radio slot' },
    h('input', { id, type: 'radio', name: 'slot', value: slot.slot_id, checked: chosen === slot.slot_id }),
    h(
      'label',
      { for: id },
      h('span', { class: 'slot-when', text: formatJapanRange(slot.starts_at, slot.ends_at) }),
      h('span', { class: 'slot-what', text: `${t(`slot.kind.${slot.kind}`)} · ${slot.place}` }),
      h('span', { class: 'slot-free', text: t('booking.free', { free: slot.free }) }),
    ),
  );
}

function renderContact() {
  const kind = contactKind();
  $('contact-value-label').textContent = t(kind === 'email' ? 'booking.contact.value.email' : 'booking.contact.value.phone');
  const input = $('contact-value');
  input.type = kind === 'email' ? 'email' : 'tel';
  input.autocomplete = kind === 'email' ? 'email' : 'tel';
}

export function renderHandoff() {
  const v = hs.view;
  const section = $('handoff');
  section.hidden = !v;
  document.body.classList.toggle('handoff-open', Boolean(v));
  if (!v) return;
  section.dataset.state = v.state;
  const booked = v.state === 'consented' && Boolean(v.booking);

  // One calm line for where it stands (and what the visitor agreed to).
  let status = specText(hs.status);
  if (!status) {
    if (v.state === 'change_requested') status = t('consent.change_requested');
    else if (v.state === 'declined') status = t('consent.declined');
    else if (v.state === 'withdrawn') status = t('consent.withdrawn');
    else if (v.state === 'consented') status = t('consent.given', { scope: consentScope(v.consent) });
  }
  $('handoff-status').textContent = status;
  $('handoff-status').hidden = !status;

  // The offer, word for word.
  const offered = v.state === 'offered';
  $('offer-form').hidden = !offered;
  if (offered) {
    $('offer-summary').textContent = v.summary;
    const ja = lang() === 'ja';
    $('offer-recipient').textContent = ja ? v.terms.recipient_ja : v.terms.recipient_en;
    $('offer-purpose').textContent = ja ? v.terms.purpose_ja : v.terms.purpose_en;
    $('offer-retention').textContent = t('consent.retention.days', { days: v.terms.retention_days });
    $('offer-transcript-field').hidden = !v.include_transcript;
    $('offer-no-transcript').hidden = v.include_transcript;
    if (!v.include_transcript) $('offer-transcript').checked = false;
    $('offer-agree').textContent = hs.busy ? t('consent.sending') : t('consent.agree');
  }
  showSpec('offer-error', hs.errors.offer);

  // The booking form, once consented.
  const booking = v.state === 'consented' && !booked;
  $('booking-form').hidden = !booking;
  if (booking) {
    const slots = hs.slots || [];
    const focused = document.activeElement?.name === 'slot' ? document.activeElement.id : null;
    $('slot-list').replaceChildren(...slots.map(slotOption));
    if (focused) $(focused)?.focus();
    $('slot-none').hidden = hs.slots === null || slots.length > 0;
    const withContact = Boolean(v.consent?.contact);
    $('contact-choice').hidden = !withContact;
    $('contact-only-self').hidden = withContact;
    renderContact();
    $('booking-submit').textContent = hs.busy ? t('booking.booking') : t('booking.submit');
  }
  showSpec('slot-error', hs.errors.slot);
  showSpec('contact-error', hs.errors.contact);
  showSpec('booking-error', hs.errors.booking);

  // The confirmation.
  $('booked').hidden = !booked;
  if (booked) {
    const slot = v.booking.slot;
    const receipt = hs.receipt?.reference === v.booking.reference ? hs.receipt : null;
    $('booked-when').textContent = formatJapanRange(slot.starts_at, slot.ends_at);
    $('booked-kind').textContent = t(`slot.kind.${slot.kind}`);
    $('booked-place').textContent = slot.place;
    $('booked-reference').textContent = v.booking.reference || '';
    $('booked-pin-label').hidden = !receipt;
    $('booked-pin').hidden = !receipt;
    $('booked-pin').textContent = receipt?.pin || '';
    $('booked-pin-note').textContent = receipt ? t('booking.pin.once') : t('booking.pin.gone');
    // The whole address, to write down with the reference and PIN.
    $('booked-lookup-link').textContent = `${location.origin}/booking/`;
    const link = $('booked-calendar');
    link.hidden = !receipt;
    if (receipt) {
      link.href = receipt.calendarUrl;
      link.download = `${v.booking.reference}.ics`;
    }
  }

  // Withdrawing, while a consent stands.
  const canWithdraw = v.state === 'consented' && (withdrawWhenBooked || !booked);
  $('withdraw-area').hidden = !canWithdraw;
  if (!canWithdraw) $('withdraw-confirm').hidden = true;
  showSpec('withdraw-error', hs.errors.withdraw);
}
