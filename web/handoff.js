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
import { copyFrom } from './copy.js';

const $ = (id) => document.getElementById(id);

// The section's markup, the same on both pages; put into their empty
// <section id="handoff"> by initHandoff.
const MARKUP = `
<h2 id="handoff-heading" tabindex="-1" data-i18n="consent.heading"></h2>
<p id="handoff-status" class="handoff-status" role="status" aria-live="polite"></p>

<form id="offer-form" class="offer-form" novalidate hidden>
  <p data-i18n="consent.intro"></p>
  <section class="first-consultation" aria-labelledby="offer-first-heading">
    <h3 id="offer-first-heading" data-i18n="first.heading"></h3>
    <p id="offer-first" class="first-text"></p>
  </section>
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
  <fieldset id="reach-choice" class="reach-choice">
    <legend data-i18n="reach.legend"></legend>
    <div class="radio" id="reach-message-field">
      <input id="reach-message" type="radio" name="reach" value="message">
      <label for="reach-message" data-i18n="reach.message"></label>
    </div>
    <div class="radio" id="reach-call-field">
      <input id="reach-call" type="radio" name="reach" value="call">
      <label for="reach-call" data-i18n="reach.call"></label>
    </div>
    <div class="radio">
      <input id="reach-none" type="radio" name="reach" value="no_contact">
      <label for="reach-none" data-i18n="reach.no_contact"></label>
    </div>
    <div class="radio">
      <input id="reach-self" type="radio" name="reach" value="self_call">
      <label for="reach-self" data-i18n="reach.self_call"></label>
    </div>
  </fieldset>
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
    <dd class="copy-row"><span id="booked-reference" class="code"></span>
      <button id="copy-reference" type="button" class="button-quiet copy-button" data-i18n="copy.reference"></button></dd>
    <dt id="booked-pin-label" data-i18n="booking.pin"></dt>
    <dd id="booked-pin-row" class="copy-row"><span id="booked-pin" class="code"></span>
      <button id="copy-pin" type="button" class="button-quiet copy-button" data-i18n="copy.pin"></button></dd>
    <dt data-i18n="bring.heading"></dt>
    <dd id="booked-bring"></dd>
  </dl>
  <p id="copy-status" class="ok copy-status" role="status" aria-live="polite" hidden></p>
  <p id="booked-pin-note" class="notice"></p>
  <p id="booked-write-down" class="notice write-down" hidden></p>
  <div class="booked-actions">
    <button id="new-pin" type="button" class="secondary" data-i18n="newpin.button"></button>
    <button id="reschedule-open" type="button" class="secondary" data-i18n="move.button"></button>
  </div>
  <div id="new-pin-confirm" class="confirm" role="group" aria-labelledby="new-pin-confirm-text" hidden>
    <p id="new-pin-confirm-text" data-i18n="newpin.confirm"></p>
    <div class="confirm-buttons">
      <button id="new-pin-yes" type="button" class="primary" data-i18n="newpin.yes"></button>
      <button id="new-pin-no" type="button" class="secondary" data-i18n="confirm.back"></button>
    </div>
  </div>
  <form id="reschedule-form" class="reschedule-form" novalidate hidden>
    <fieldset class="slots">
      <legend data-i18n="move.legend"></legend>
      <div id="move-list" class="slot-list"></div>
      <p id="move-none" class="hint" data-i18n="move.none" hidden></p>
    </fieldset>
    <div class="confirm-buttons">
      <button id="reschedule-submit" type="submit" class="primary" data-i18n="move.submit"></button>
      <button id="reschedule-cancel" type="button" class="secondary" data-i18n="confirm.back"></button>
    </div>
  </form>
  <p id="booked-done" class="ok" role="status"></p>
  <p id="booked-error" class="error" role="alert" hidden></p>
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
/**
 * Offer a new PIN and moving the booking under it (the chat page: yes; the
 * LINE link page: no, a booking spends the link, and the look-up page does both).
 */
let manageWhenBooked = true;

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
  errors: { offer: null, slot: null, contact: null, booking: null, withdraw: null, booked: null },
  /** A line about the booking just changed (a new PIN, a move), as a key. */
  done: null,
  /** The reschedule form is open. */
  moving: false,
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
  manageWhenBooked = options.manageWhenBooked ?? withdrawWhenBooked;
  $('offer-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    answer('consent');
  });
  $('offer-change').addEventListener('click', () => answer('change'));
  $('offer-decline').addEventListener('click', () => answer('decline'));
  $('booking-form').addEventListener('submit', book);
  $('slot-reload').addEventListener('click', loadSlots);
  for (const r of document.querySelectorAll('input[name="contact-kind"]')) r.addEventListener('change', renderContact);
  confirmStep('withdraw', withdraw);
  for (const r of document.querySelectorAll('input[name="reach"]')) r.addEventListener('change', renderContact);
  $('copy-reference').addEventListener('click', () => copyFrom('booked-reference', 'copy-status'));
  $('copy-pin').addEventListener('click', () => copyFrom('booked-pin', 'copy-status'));
  confirmStep('new-pin', newPin);
  $('reschedule-open').addEventListener('click', openReschedule);
  $('reschedule-cancel').addEventListener('click', () => {
    hs.moving = false;
    renderHandoff();
    $('reschedule-open').focus();
  });
  $('reschedule-form').addEventListener('submit', reschedule);
}

/**
 * A step that asks first: `#<id>` opens `#<id>-confirm` with the focus on
 * "back" (`#<id>-no`), which closes it and returns the focus; `#<id>-yes`
 * does it.
 */
function confirmStep(id, onYes) {
  $(id).addEventListener('click', () => {
    $(`${id}-confirm`).hidden = false;
    $(`${id}-no`).focus();
  });
  $(`${id}-no`).addEventListener('click', () => {
    $(`${id}-confirm`).hidden = true;
    $(id).focus();
  });
  $(`${id}-yes`).addEventListener('click', onYes);
}

/** Forget everything (a new conversation, erased from this device). */
export function resetHandoff() {
  if (hs.receipt?.calendarUrl) URL.revokeObjectURL(hs.receipt.calendarUrl);
  Object.assign(hs, { view: null, slots: null, receipt: null, busy: false, status: null, done: null, moving: false });
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
    if (hs.receipt.calendarUrl) URL.revokeObjectURL(hs.receipt.calendarUrl);
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
  for (const id of ['offer-agree', 'offer-change', 'offer-decline', 'booking-submit', 'withdraw-yes', 'new-pin-yes', 'reschedule-submit']) {
    $(id).disabled = busy;
  }
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

/** How they would like to hear from the centre (`contact_choice`). */
function reachChoice() {
  const withContact = Boolean(hs.view?.consent?.contact);
  const chosen = document.querySelector('input[name="reach"]:checked')?.value;
  if (!withContact && (chosen === 'message' || chosen === 'call')) return 'no_contact';
  return chosen || (withContact ? 'message' : 'no_contact');
}

function contactKind() {
  const reach = reachChoice();
  if (reach !== 'message' && reach !== 'call') return 'self';
  if (reach === 'call') return 'phone';
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
  const r = await postJson('/api/handoff/book', {
    ...who,
    slot_id: chosen.value,
    name: name || null,
    contact,
    contact_choice: reachChoice(),
    lang: lang(),
  });
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

// ------------------------------------- the booking after it was made

/** A calendar file for the booking, fetched with its reference and (new) PIN. */
async function calendarFor(reference, pin) {
  const r = await postJson('/api/booking/calendar', { reference, pin, lang: lang() }, { blob: true });
  return r.ok ? URL.createObjectURL(r.body) : null;
}

/** A new PIN (the old one stops working at once), shown once. */
async function newPin() {
  const who = auth();
  if (!who || hs.busy) return;
  hs.errors.booked = null;
  hs.done = null;
  setBusy(true);
  const r = await postJson('/api/handoff/pin', who);
  setBusy(false);
  $('new-pin-confirm').hidden = true;
  if (!r.ok) {
    hs.errors.booked = { err: r.body };
    renderHandoff();
    $('new-pin').focus();
    return;
  }
  const { reference, pin } = r.body;
  if (hs.receipt?.calendarUrl) URL.revokeObjectURL(hs.receipt.calendarUrl);
  hs.receipt = { reference, slot: hs.view?.booking?.slot, pin, calendarUrl: null, renewed: true };
  hs.done = { key: 'newpin.done' };
  renderHandoff();
  $('booked-pin').focus();
  const calendarUrl = await calendarFor(reference, pin);
  if (hs.receipt?.pin === pin) {
    hs.receipt.calendarUrl = calendarUrl;
    renderHandoff();
  }
}

async function openReschedule() {
  hs.moving = true;
  hs.done = null;
  hs.errors.booked = null;
  hs.slots = null;
  renderHandoff();
  await loadSlots();
  ($('move-list').querySelector('input') || $('reschedule-cancel')).focus();
}

async function reschedule(ev) {
  ev.preventDefault();
  const who = auth();
  if (!who || hs.busy) return;
  const chosen = document.querySelector('input[name="move-slot"]:checked');
  hs.errors.booked = null;
  if (!chosen) {
    hs.errors.booked = { key: 'booking.choose' };
    renderHandoff();
    ($('move-list').querySelector('input') || $('reschedule-cancel')).focus();
    return;
  }
  setBusy(true);
  const r = await postJson('/api/handoff/reschedule', { ...who, slot_id: chosen.value, lang: lang() });
  setBusy(false);
  if (r.ok) {
    const { booking, calendar } = r.body;
    hs.view = { ...hs.view, booking };
    if (hs.receipt) {
      if (hs.receipt.calendarUrl) URL.revokeObjectURL(hs.receipt.calendarUrl);
      hs.receipt.calendarUrl = URL.createObjectURL(new Blob([calendar], { type: 'text/calendar' }));
      hs.receipt.slot = booking.slot;
    }
    hs.moving = false;
    hs.done = { key: 'move.done' };
    renderHandoff();
    $('booked-heading').focus();
    return;
  }
  hs.errors.booked = { err: r.body };
  if (r.body.code === 'slot_full' || r.body.code === 'slot_unavailable') await loadSlots();
  else renderHandoff();
  ($('move-list').querySelector('input') || $('reschedule-cancel')).focus();
}

// --------------------------------------------------------------- render

function slotOption(slot, name = 'slot') {
  const id = `${name}-${slot.slot_id}`;
  const chosen = document.querySelector(`input[name="${name}"]:checked`)?.value;
  return h(
    'div',
    { class: 'radio slot' },
    h('input', { id, type: 'radio', name, value: slot.slot_id, checked: chosen === slot.slot_id }),
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
  const withContact = Boolean(hs.view?.consent?.contact);
  const reach = reachChoice();
  const box = document.querySelector(`input[name="reach"][value="${reach}"]`);
  if (box && !box.checked) box.checked = true;
  $('reach-message-field').hidden = !withContact;
  $('reach-call-field').hidden = !withContact;
  // The detail only when the choice needs one; a call needs a phone number.
  $('contact-choice').hidden = !withContact || (reach !== 'message' && reach !== 'call');
  $('contact-email').disabled = reach === 'call';
  if (reach === 'call') $('contact-phone').checked = true;
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
    $('offer-first').textContent = (ja ? v.terms.first_consultation_ja : v.terms.first_consultation_en) || '';
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
    $('slot-list').replaceChildren(...slots.map((s) => slotOption(s)));
    if (focused) $(focused)?.focus();
    $('slot-none').hidden = hs.slots === null || slots.length > 0;
    const withContact = Boolean(v.consent?.contact);
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
    $('copy-reference').hidden = !v.booking.reference;
    $('booked-pin-label').hidden = !receipt;
    $('booked-pin-row').hidden = !receipt;
    $('booked-pin').textContent = receipt?.pin || '';
    $('booked-pin').tabIndex = -1;
    $('booked-pin-note').textContent = receipt ? t('booking.pin.once') : t('booking.pin.gone');
    // After a new PIN (the first one has its own line above).
    $('booked-write-down').hidden = !receipt?.renewed;
    $('booked-write-down').textContent = receipt?.renewed ? t('newpin.write_down') : '';
    const ja = lang() === 'ja';
    $('booked-bring').textContent = (ja ? v.terms?.bring_ja : v.terms?.bring_en) || t('bring.none');
    const manage = manageWhenBooked && Boolean(v.booking.reference);
    $('new-pin').hidden = !manage || hs.moving;
    $('reschedule-open').hidden = !manage || hs.moving;
    $('reschedule-form').hidden = !hs.moving;
    if (hs.moving) {
      const others = (hs.slots || []).filter((s) => s.slot_id !== slot.slot_id);
      const focused = document.activeElement?.name === 'move-slot' ? document.activeElement.id : null;
      $('move-list').replaceChildren(...others.map((s) => slotOption(s, 'move-slot')));
      if (focused) $(focused)?.focus();
      $('move-none').hidden = hs.slots === null || others.length > 0;
      $('reschedule-submit').textContent = hs.busy ? t('move.busy') : t('move.submit');
    }
    // The whole address, to write down with the reference and PIN.
    $('booked-lookup-link').textContent = `${location.origin}/booking/`;
    const link = $('booked-calendar');
    link.hidden = !receipt?.calendarUrl;
    if (receipt?.calendarUrl) {
      link.href = receipt.calendarUrl;
      link.download = `${v.booking.reference}.ics`;
    }
  }

  showSpec('booked-done', booked ? hs.done : null);
  showSpec('booked-error', booked ? hs.errors.booked : null);

  // Withdrawing, while a consent stands.
  const canWithdraw = v.state === 'consented' && (withdrawWhenBooked || !booked);
  $('withdraw-area').hidden = !canWithdraw;
  if (!canWithdraw) $('withdraw-confirm').hidden = true;
  showSpec('withdraw-error', hs.errors.withdraw);
}
