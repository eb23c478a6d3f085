// A booked first consultation, looked up later (/booking/) by its
// reference and PIN: what was booked, the calendar file, and, each after a
// confirm step, cancelling it or withdrawing the consent behind it (then
// the centre sees nothing of what was agreed, and the booking goes too).
//
// The reference and PIN live in this page's memory only, while the
// booking is shown (the calendar file and the cancel need them again):
// never in storage, never in a URL. The server limits the tries per
// reference and per address; a refusal says how long to wait.

import { t, lang, applyI18n, bindLangSwitch, onLangChange, formatJapanRange, siteName, showSpec } from '../i18n.js';
import { h, postJson, quickExit, fetchInfo } from '../common.js';

const $ = (id) => document.getElementById(id);

const state = {
  /** GET /api/info, for the site's name and the quick exit. */
  info: null,
  /** {reference, pin} as they found the booking shown; null otherwise. */
  auth: null,
  /** The answer of POST /api/booking: {reference, state, slot, name, contact}. */
  booking: null,
  /** Cancelled from this page just now (said rather than "has been cancelled"). */
  cancelledHere: false,
  /** The consent was withdrawn from this page just now. */
  withdrawnHere: false,
  /** GET /api/handoff/info: what to bring, how to reach the centre. */
  handoffInfo: null,
  /** Bookable slots while choosing a new time (null: not loaded). */
  slots: null,
  /** The form to move the booking is open. */
  moving: false,
  /** The step being confirmed: 'cancel', 'withdraw' or null. */
  confirming: null,
  /** '' or the request on its way: 'lookup', 'calendar', 'cancel', 'withdraw'. */
  busy: '',
  /** Messages as keys or error bodies, re-rendered on a language change. */
  formError: null,
  actionError: null,
  done: null,
};

/** Full-width letters and digits (a Japanese keyboard) as plain ones; no outer spaces. */
const clean = (s) => s.normalize('NFKC').trim();

/** What a refusal says: the two the page expects in its own words, any other by its code. */
function refusal(body) {
  if (body?.code === 'booking_not_found') return { key: 'lookup.not_found' };
  if (body?.code === 'booking_locked') return { locked: true };
  if (body?.code === 'rate_limited') {
    const seconds = Math.max(1, Math.ceil((Number(body.retry_after_ms) || 1000) / 1000));
    return { key: 'lookup.rate_limited', vars: { seconds } };
  }
  return { err: body };
}

/** The locked message, with how to reach the centre (configured) or the way through the chat page. */
function lockedText() {
  const info = state.handoffInfo;
  const contact = (lang() === 'ja' ? info?.centre_contact_ja : info?.centre_contact_en) || '';
  const how = contact.trim() ? t('lookup.locked.contact', { contact }) : t('lookup.locked.chat');
  return t('lookup.locked', { how });
}

/** showSpec, with the locked refusal in this page's own words. */
function show(id, spec) {
  if (spec?.locked) {
    const el = $(id);
    el.textContent = lockedText();
    el.hidden = false;
    return;
  }
  showSpec(id, spec);
}

function contactText(contact) {
  const kind = contact?.kind;
  if (kind === 'deleted') return t('forget.deleted');
  if (kind === 'phone' || kind === 'email') return t(`booking.contact.${kind}`);
  return t('booking.contact.self');
}

function setBusy(what) {
  state.busy = what;
  for (const id of ['lookup-submit', 'booking-calendar', 'booking-cancel', 'booking-withdraw', 'cancel-yes', 'booking-move', 'move-submit']) {
    $(id).disabled = Boolean(what);
  }
  render();
}

// -------------------------------------------------------------- actions

async function lookUp(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const reference = clean($('lookup-reference').value).toUpperCase();
  const pin = clean($('lookup-pin').value).replace(/\s+/g, '');
  state.formError = null;
  if (!reference || !pin) {
    state.formError = { key: 'lookup.need_both' };
    render();
    $(reference ? 'lookup-pin' : 'lookup-reference').focus();
    return;
  }
  if (!/^\d{6}$/.test(pin)) {
    // Said here: a try the server would refuse anyway need not count against the limit.
    state.formError = { key: 'lookup.pin_digits' };
    render();
    $('lookup-pin').focus();
    return;
  }
  setBusy('lookup');
  const r = await postJson('/api/booking', { reference, pin });
  setBusy('');
  if (!r.ok) {
    state.formError = refusal(r.body);
    render();
    if (r.body.code === 'booking_not_found') $('lookup-reference').focus();
    return;
  }
  Object.assign(state, { auth: { reference, pin }, booking: r.body, cancelledHere: false, actionError: null, done: null });
  // The PIN does not stay in the form behind the booking.
  $('lookup-form').reset();
  render();
  $('booking-heading').focus();
}

async function downloadCalendar() {
  if (!state.auth || state.busy) return;
  state.actionError = null;
  state.done = null;
  setBusy('calendar');
  const r = await postJson('/api/booking/calendar', { ...state.auth, lang: lang() }, { blob: true });
  setBusy('');
  if (r.ok) {
    const url = URL.createObjectURL(r.body);
    const link = h('a', { href: url, download: `${state.booking.reference}.ics`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    state.done = { key: 'lookup.calendar.done' };
  } else {
    state.actionError = refusal(r.body);
  }
  render();
  $('booking-calendar').focus();
}

/** Open the confirm step for `what` ('cancel' or 'withdraw'). */
function ask(what) {
  Object.assign(state, { actionError: null, done: null, confirming: what });
  render();
  $('cancel-confirm').hidden = false;
  $('cancel-no').focus();
}

function keepBooking() {
  const from = state.confirming === 'withdraw' ? 'booking-withdraw' : 'booking-cancel';
  state.confirming = null;
  $('cancel-confirm').hidden = true;
  $(from).focus();
}

/** Carry out the confirmed step: cancel the booking, or withdraw the consent. */
/** A booking once cancelled: the server deleted its name and contact. */
const FORGOTTEN = { state: 'cancelled', name: null, contact: { kind: 'deleted' } };

async function confirmed() {
  if (!state.auth || state.busy || !state.confirming) return;
  const what = state.confirming;
  setBusy(what);
  const r = await postJson(what === 'withdraw' ? '/api/booking/withdraw' : '/api/booking/cancel', state.auth);
  setBusy('');
  // The confirm step closes: put the focus somewhere that stays first.
  state.confirming = null;
  $('booking-heading').focus();
  $('cancel-confirm').hidden = true;
  if (r.ok) {
    const here = what === 'withdraw' ? { withdrawnHere: true } : { cancelledHere: true };
    Object.assign(state, { booking: { ...state.booking, ...FORGOTTEN }, ...here });
  } else if (r.body.code === 'booking_not_found' || r.body.code === 'no_consent') {
    // The reference and PIN were right a moment ago: it is no longer in
    // force (cancelled by the centre, or the consent was withdrawn).
    state.booking = { ...state.booking, ...FORGOTTEN };
  } else {
    state.actionError = refusal(r.body);
  }
  render();
  if (state.booking.state === 'booked') $('booking-cancel').focus();
}

async function loadSlots() {
  try {
    const r = await fetch('/api/slots', { credentials: 'same-origin' });
    if (!r.ok) throw new Error(String(r.status));
    state.slots = await r.json();
  } catch {
    state.slots = [];
    state.actionError = { err: { code: 'network' } };
  }
  render();
}

async function openMove() {
  Object.assign(state, { moving: true, slots: null, actionError: null, done: null });
  render();
  await loadSlots();
  ($('move-list').querySelector('input') || $('move-cancel')).focus();
}

function closeMove() {
  state.moving = false;
  render();
  $('booking-move').focus();
}

async function move(ev) {
  ev.preventDefault();
  if (!state.auth || state.busy) return;
  const chosen = document.querySelector('input[name="move-slot"]:checked');
  state.actionError = null;
  state.done = null;
  if (!chosen) {
    state.actionError = { key: 'booking.choose' };
    render();
    ($('move-list').querySelector('input') || $('move-cancel')).focus();
    return;
  }
  setBusy('move');
  const r = await postJson('/api/booking/reschedule', { ...state.auth, slot_id: chosen.value, lang: lang() });
  setBusy('');
  if (r.ok) {
    Object.assign(state, { booking: { ...state.booking, slot: r.body.booking.slot }, moving: false, done: { key: 'move.done' } });
    render();
    $('booking-heading').focus();
    return;
  }
  state.actionError = refusal(r.body);
  if (r.body.code === 'slot_full' || r.body.code === 'slot_unavailable') await loadSlots();
  else render();
  ($('move-list').querySelector('input') || $('move-cancel')).focus();
}

function slotOption(slot) {
  const id = `move-slot-${slot.slot_id}`;
  const chosen = document.querySelector('input[name="move-slot"]:checked')?.value;
  return h(
    'div',
    { class: 'radio slot' },
    h('input', { id, type: 'radio', name: 'move-slot', value: slot.slot_id, checked: chosen === slot.slot_id }),
    h(
      'label',
      { for: id },
      h('span', { class: 'slot-when', text: formatJapanRange(slot.starts_at, slot.ends_at) }),
      h('span', { class: 'slot-what', text: `${t(`slot.kind.${slot.kind}`)} · ${slot.place}` }),
      h('span', { class: 'slot-free', text: t('booking.free', { free: slot.free }) }),
    ),
  );
}

function lookUpAnother() {
  Object.assign(state, {
    moving: false,
    slots: null,
    auth: null,
    booking: null,
    cancelledHere: false,
    withdrawnHere: false,
    confirming: null,
    formError: null,
    actionError: null,
    done: null,
  });
  render();
  $('lookup-reference').focus();
}

// --------------------------------------------------------------- render

function render() {
  document.title = `${t('lookup.title')} | ${t('app.name')}`;
  $('site-name').textContent = siteName(state.info?.site) || t('app.name');
  const b = state.booking;
  $('lookup-form').hidden = Boolean(b);
  $('lookup-submit').textContent = t(state.busy === 'lookup' ? 'lookup.searching' : 'lookup.submit');
  show('lookup-error', state.formError);

  $('booking').hidden = !b;
  if (b) {
    const cancelled = b.state !== 'booked';
    $('booking').dataset.state = b.state;
    let said = 'lookup.state.booked';
    if (cancelled) said = state.cancelledHere ? 'lookup.cancelled.now' : 'lookup.state.cancelled';
    if (cancelled && state.withdrawnHere) said = 'lookup.withdrawn.now';
    $('booking-state').textContent = t(said);
    $('booking-reference').textContent = b.reference;
    $('booking-when').textContent = formatJapanRange(b.slot.starts_at, b.slot.ends_at);
    $('booking-kind').textContent = t(`slot.kind.${b.slot.kind}`);
    $('booking-place').textContent = b.slot.place;
    // A cancelled booking keeps no name or contact (deleted in the same step).
    const forgotten = b.contact?.kind === 'deleted';
    $('booking-name').textContent = forgotten ? t('forget.deleted') : b.name || t('lookup.name.none');
    $('booking-contact').textContent = contactText(b.contact);
    $('booking-reach').textContent = b.contact_choice ? t(`reach.${b.contact_choice}`) : '';
    const info = state.handoffInfo;
    $('booking-bring').textContent = (lang() === 'ja' ? info?.bring_ja : info?.bring_en) || t('bring.none');
    $('booking-actions').hidden = cancelled || state.moving;
    $('move-form').hidden = cancelled || !state.moving;
    if (state.moving && !cancelled) {
      const others = (state.slots || []).filter((s) => s.slot_id !== b.slot.slot_id);
      const focused = document.activeElement?.name === 'move-slot' ? document.activeElement.id : null;
      $('move-list').replaceChildren(...others.map(slotOption));
      if (focused) $(focused)?.focus();
      $('move-none').hidden = state.slots === null || others.length > 0;
      $('move-submit').textContent = t(state.busy === 'move' ? 'move.busy' : 'move.submit');
    }
    if (cancelled) $('cancel-confirm').hidden = true;
    const step = state.confirming === 'withdraw' || state.busy === 'withdraw' ? 'withdraw' : 'cancel';
    $('cancel-confirm-text').textContent = t(`lookup.${step}.confirm`);
    $('cancel-yes').textContent = t(state.busy ? `lookup.${step}.busy` : `lookup.${step}.yes`);
  }
  showSpec('booking-done', state.done);
  show('booking-error', state.actionError);
}

async function loadInfo() {
  // Without it the app's name shows; the quick exit uses the meta tag.
  state.info = (await fetchInfo()) ?? state.info;
  try {
    const r = await fetch('/api/handoff/info', { credentials: 'same-origin' });
    if (r.ok) state.handoffInfo = await r.json();
  } catch {
    // Without it the page says the general words (what to bring, the way back through the chat).
  }
  render();
}

function init() {
  applyI18n();
  bindLangSwitch($('lang-switch'));
  onLangChange(render);
  $('quick-exit').addEventListener('click', () =>
    quickExit(state.info?.site, () => {
      state.auth = null;
      state.booking = null;
    }),
  );
  $('lookup-form').addEventListener('submit', lookUp);
  $('booking-calendar').addEventListener('click', downloadCalendar);
  $('booking-cancel').addEventListener('click', () => ask('cancel'));
  $('booking-withdraw').addEventListener('click', () => ask('withdraw'));
  $('cancel-no').addEventListener('click', keepBooking);
  $('cancel-yes').addEventListener('click', confirmed);
  $('lookup-again').addEventListener('click', lookUpAnother);
  $('booking-move').addEventListener('click', openMove);
  $('move-cancel').addEventListener('click', closeMove);
  $('move-form').addEventListener('submit', move);
  render();
  loadInfo();
}

init();
