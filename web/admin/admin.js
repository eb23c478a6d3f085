// The admin page: appointment slots for first consultations (list,
// create in Japan time, cancel) and the audit log of what staff did with
// handoff data, and the statistics (./stats.js). Never a transcript,
// never a visitor's details.

import { t, fillSelect, formatJapanRange, formatJapanDateTime } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText, startStaffPage } from '../staff.js';
import { initStats, loadStats, renderStats, resetStats } from './stats.js';

const $ = (id) => document.getElementById(id);
const KINDS = ['centre', 'ward_office', 'home_visit', 'online'];

const state = { slots: [], audit: [], status: null, slotError: null, slotsError: null };

/** "2026-12-01" and "10:00", read as Japan time, as ms since the epoch. */
function japanMs(date, time) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !/^\d{2}:\d{2}$/.test(time)) return null;
  const ms = Date.parse(`${date}T${time}:00+09:00`);
  return Number.isNaN(ms) ? null : ms;
}

function whenOf(slot) {
  return formatJapanRange(slot.starts_at, slot.ends_at);
}

function showText(id, p) {
  $(id).textContent = problemText(p);
  $(id).hidden = !p;
}

async function load() {
  const [slots, audit] = await Promise.all([api('GET', '/api/admin/slots'), api('GET', '/api/admin/audit?limit=100')]);
  state.slotsError = slots.ok ? null : slots.body;
  if (slots.ok) state.slots = slots.body;
  if (audit.ok) state.audit = audit.body;
  render();
}

async function createSlot(ev) {
  ev.preventDefault();
  state.slotError = null;
  const startsAt = japanMs($('slot-date').value, $('slot-time').value);
  if (startsAt === null) {
    state.slotError = 'admin.need_date';
    render();
    $(!$('slot-date').value ? 'slot-date' : 'slot-time').focus();
    return;
  }
  const input = {
    starts_at: startsAt,
    duration_mins: Number.parseInt($('slot-duration').value, 10),
    kind: $('slot-kind').value,
    place: $('slot-place').value,
    capacity: Number.parseInt($('slot-capacity').value, 10),
    staff: Number.parseInt($('slot-staff').value, 10),
  };
  $('slot-submit').disabled = true;
  const r = await api('POST', '/api/admin/slots', input);
  $('slot-submit').disabled = false;
  if (!r.ok) {
    state.slotError = r.body;
    render();
    return;
  }
  state.status = { key: 'admin.created', slot: r.body };
  await load();
}

async function cancelSlot(slot) {
  const r = await api('POST', `/api/admin/slots/${encodeURIComponent(slot.slot_id)}/cancel`);
  if (!r.ok) {
    state.slotsError = r.body;
    render();
    return;
  }
  state.status = { key: 'admin.cancelled', slot: r.body };
  await load();
  $('slots-heading').focus();
}

function slotState(slot) {
  if (slot.cancelled) return 'cancelled';
  if (slot.starts_at <= Date.now()) return 'past';
  return 'open';
}

function slotRow(slot) {
  const st = slotState(slot);
  const when = whenOf(slot);
  return h(
    'tr',
    { 'data-slot': slot.slot_id, 'data-state': st },
    h('td', { text: when }),
    h('td', { text: t(`slot.kind.${slot.kind}`) }),
    h('td', { text: slot.place }),
    h('td', { text: `${slot.capacity - slot.free} / ${slot.capacity}` }),
    h('td', { text: String(slot.staff) }),
    h('td', { text: t(`admin.state.${st}`) }),
    h(
      'td',
      {},
      st === 'open'
        ? h('button', {
            type: 'button',
            class: 'secondary cancel-slot',
            'aria-label': t('admin.cancel.label', { when }),
            text: t('admin.cancel'),
            onclick: () => cancelSlot(slot),
          })
        : null,
    ),
  );
}

function auditRow(e) {
  return h(
    'tr',
    { 'data-action': e.action },
    h('td', { text: formatJapanDateTime(e.at) }),
    h('td', { text: e.display_name }),
    h('td', { text: t(`audit.${e.action}`) }),
    h('td', { text: (e.references || []).join(', ') }),
  );
}

function render() {
  fillSelect($('slot-kind'), KINDS, 'slot.kind', null);
  if (!$('slot-kind').value) $('slot-kind').value = 'centre';
  const s = state.status;
  $('status').textContent = s ? t(s.key, { when: whenOf(s.slot) }) : '';
  $('status').hidden = !s;
  showText('slot-error', state.slotError);
  showText('slots-error', state.slotsError);
  const slots = [...state.slots].sort((a, b) => a.starts_at - b.starts_at);
  $('slots-body').replaceChildren(...slots.map(slotRow));
  $('slots-none').hidden = slots.length > 0;
  $('audit-body').replaceChildren(...state.audit.map(auditRow));
  $('audit-none').hidden = state.audit.length > 0;
  renderStats();
}

$('slot-form').addEventListener('submit', createSlot);
initStats();
startStaffPage({
  role: 'admin',
  titleKey: 'admin.title',
  onEnter: () => Promise.all([load(), loadStats()]),
  onLeave: () => {
    Object.assign(state, { slots: [], audit: [], status: null, slotError: null, slotsError: null });
    resetStats();
    render();
  },
  render,
});
