// The intake page: upcoming first consultations, each with exactly what
// the visitor consented to pass on (the summary; contact details and the
// transcript only where agreed), marking attendance, cancelling. The
// server leaves out what was not consented to; this page shows what it is
// given and offers the transcript only when the consent covers it.

import { t, formatJapanRange, formatJapanDateTime } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText, startStaffPage } from '../staff.js';

const $ = (id) => document.getElementById(id);

const state = {
  bookings: [],
  error: null,
  status: null,
  /** reference -> transcript lines, for those opened. */
  transcripts: new Map(),
  /** reference -> error body of its last action. */
  errors: new Map(),
  confirming: null,
};

async function load() {
  const r = await api('GET', '/api/intake/bookings');
  state.error = r.ok ? null : r.body;
  if (r.ok) state.bookings = r.body;
  render();
}

async function act(b, path, body, statusKey) {
  state.errors.delete(b.reference);
  const r = await api('POST', `/api/intake/bookings/${encodeURIComponent(b.reference)}/${path}`, body);
  if (!r.ok) {
    state.errors.set(b.reference, r.body);
    render();
    return false;
  }
  if (statusKey) state.status = { key: statusKey, reference: b.reference };
  return true;
}

async function markAttended(b) {
  if (await act(b, 'attended', { attended: true })) await load();
}

async function cancel(b) {
  state.confirming = null;
  if (await act(b, 'cancel', undefined, 'intake.cancelled')) {
    state.transcripts.delete(b.reference);
    await load();
    $('bookings-heading').focus();
  }
}

async function toggleTranscript(b) {
  if (state.transcripts.has(b.reference)) {
    state.transcripts.delete(b.reference);
    render();
    return;
  }
  const r = await api('GET', `/api/intake/bookings/${encodeURIComponent(b.reference)}/transcript`);
  if (!r.ok) state.errors.set(b.reference, r.body);
  else state.transcripts.set(b.reference, r.body);
  render();
}

function contactText(contact) {
  if (!contact || contact.kind === 'self_call') return t('intake.contact.none');
  if (contact.kind === 'deleted') return t('forget.deleted');
  return t(`intake.contact.${contact.kind}`, { value: contact.value });
}

function field(labelKey, ...value) {
  return [h('dt', { text: t(labelKey) }), h('dd', {}, ...value)];
}

function transcriptView(b, lines) {
  return h(
    'section',
    { class: 'transcript', 'aria-label': t('intake.transcript.label', { reference: b.reference }) },
    ...lines.map((m) =>
      h(
        'div',
        { class: m.from === 'visitor' ? 'msg msg-other' : 'msg msg-own' },
        h('p', { class: 'msg-meta' }, h('span', { class: 'msg-who', text: m.from === 'visitor' ? t('msg.visitor') : m.name || t('msg.counsellor') }), ` ${formatJapanDateTime(m.sent_at)}`),
        h('p', { class: 'msg-text', text: m.text }),
      ),
    ),
  );
}

function bookingItem(b) {
  const slot = b.slot;
  const headingId = `booking-${b.reference}`;
  const lines = state.transcripts.get(b.reference);
  const err = state.errors.get(b.reference);
  const actions = [];
  if (b.transcript) {
    actions.push(
      h('button', {
        type: 'button',
        class: 'secondary open-transcript',
        'aria-expanded': lines ? 'true' : 'false',
        text: t(lines ? 'intake.transcript.close' : 'intake.transcript.open'),
        onclick: () => toggleTranscript(b),
      }),
    );
  }
  if (b.attended) actions.push(h('p', { class: 'ok attended', text: t('intake.attended.yes') }));
  else actions.push(h('button', { type: 'button', class: 'secondary mark-attended', text: t('intake.attended'), onclick: () => markAttended(b) }));
  actions.push(
    h('button', {
      type: 'button',
      class: 'secondary cancel-booking',
      text: t('intake.cancel'),
      onclick: () => {
        state.confirming = b.reference;
        render();
        document.querySelector(`[data-reference="${b.reference}"] .confirm-no`)?.focus();
      },
    }),
  );
  const confirm =
    state.confirming === b.reference
      ? h(
          'div',
          { class: 'confirm', role: 'group', 'aria-label': t('intake.cancel.confirm', { reference: b.reference }) },
          h('p', { text: t('intake.cancel.confirm', { reference: b.reference }) }),
          h(
            'div',
            { class: 'booking-actions' },
            h('button', { type: 'button', class: 'danger confirm-yes', text: t('intake.cancel.yes'), onclick: () => cancel(b) }),
            h('button', {
              type: 'button',
              class: 'secondary confirm-no',
              text: t('confirm.back'),
              onclick: () => {
                state.confirming = null;
                render();
              },
            }),
          ),
        )
      : null;
  return h(
    'li',
    { class: 'booking card', 'data-reference': b.reference, 'aria-labelledby': headingId },
    h('h3', { id: headingId, text: `${formatJapanRange(slot.starts_at, slot.ends_at)} · ${t('intake.booking', { reference: b.reference })}` }),
    h(
      'dl',
      { class: 'terms' },
      ...field('booking.kind', t(`slot.kind.${slot.kind}`)),
      ...field('booking.where', slot.place),
      ...field('intake.name', b.name || t('intake.name.none')),
      ...field('intake.contact', h('span', { class: 'contact', text: contactText(b.contact) })),
      ...field('intake.reach', h('span', { class: 'reach', text: t(`intake.reach.${b.contact_choice || 'self_call'}`) })),
      ...field('intake.summary', h('p', { class: 'summary quoted', text: b.summary })),
      ...field('intake.transcript', h('span', { class: 'transcript-scope', text: t(b.transcript ? 'intake.transcript.yes' : 'intake.transcript.no') })),
    ),
    h('p', { class: 'hint', text: t('intake.consented', { time: formatJapanDateTime(b.consented_at), wording: b.wording_version }) }),
    b.rescheduled_at ? h('p', { class: 'hint rescheduled', text: t('intake.rescheduled', { time: formatJapanDateTime(b.rescheduled_at) }) }) : null,
    err ? h('p', { class: 'error', role: 'alert', text: problemText(err) }) : null,
    h('div', { class: 'booking-actions' }, ...actions),
    confirm,
    lines ? transcriptView(b, lines) : null,
  );
}

function render() {
  const s = state.status;
  $('status').textContent = s ? t(s.key, { reference: s.reference }) : '';
  $('status').hidden = !s;
  $('bookings-error').textContent = problemText(state.error);
  $('bookings-error').hidden = !state.error;
  const list = [...state.bookings].sort((a, b) => a.slot.starts_at - b.slot.starts_at);
  $('bookings').replaceChildren(...list.map(bookingItem));
  $('bookings-none').hidden = list.length > 0 || Boolean(state.error);
}

$('reload').addEventListener('click', () => {
  state.status = null;
  load();
});
startStaffPage({
  role: 'intake',
  titleKey: 'intake.title',
  onEnter: load,
  onLeave: () => {
    Object.assign(state, { bookings: [], error: null, status: null, confirming: null });
    state.transcripts.clear();
    state.errors.clear();
    render();
  },
  render,
});
