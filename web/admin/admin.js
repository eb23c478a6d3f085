// The admin page, one section at a time (./sections.js: the URL's
// fragment chooses it): the floor and its empty-floor episodes
// (./floor.js), the statistics (./stats.js), the audit log of what staff
// did (handoff data, supervisor access, accounts), staff accounts
// (./accounts.js), canned replies (./canned.js), the directory of partner
// services (./partners.js), and appointment slots for
// first consultations (list, create in Japan time, cancel). Never a
// transcript, never a visitor's details.

import { t, fillSelect, formatJapanRange, formatJapanDateTime } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText, startStaffPage } from '../staff.js';
import { initStats, loadStats, renderStats, resetStats } from './stats.js';
import { initAccounts, loadAccounts, renderAccounts, resetAccounts } from './accounts.js';
import { initCanned, loadCanned, renderCanned, resetCanned } from './canned.js';
import { initPartners, loadPartners, renderPartners, resetPartners } from './partners.js';
import { initFloor, floorShown, renderFloor, resetFloor } from './floor.js';
import { initSections, currentSection, onSectionChange } from './sections.js';

const $ = (id) => document.getElementById(id);
const KINDS = ['centre', 'ward_office', 'home_visit', 'online'];
// Supervisor access first (issue 20), then what intake and admins did,
// then changes to staff accounts (issue 21).
const AUDIT_ACTIONS = [
  'observe', 'join', 'take_over', 'whisper', 'leave', 'leave_by_disconnect', 'leave_by_end',
  'list_bookings', 'view_transcript', 'transcript_refused', 'cancel_booking',
  'mark_attended', 'reset_pin', 'create_slot', 'cancel_slot',
  'account_created', 'account_renamed', 'account_role_changed', 'account_deactivated',
  'account_reactivated', 'account_setup_issued', 'account_password_set',
  'account_password_changed', 'account_sessions_revoked', 'reset_second_factor',
  'relay_prepared', 'relay_answered', 'relay_withdrawn', 'relay_link_issued', 'relay_viewed', 'relay_printed',
];
/** The account of a step no staff member took (issue 23's relay sheets). */
const NOBODY = '00000000-0000-0000-0000-000000000000';

const state = { slots: [], audit: [], auditError: null, status: null, slotError: null, slotsError: null };

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

/** The audit filter form as a query string (dates are Japan days). */
function auditQuery() {
  const q = new URLSearchParams({ limit: '100' });
  const action = $('audit-action').value;
  if (action) q.set('action', action);
  const conv = $('audit-conversation').value.trim();
  if (conv) q.set('conversation', conv);
  const since = $('audit-since').value;
  if (since) q.set('since', String(japanMs(since, '00:00')));
  const until = $('audit-until').value;
  if (until) q.set('until', String(japanMs(until, '00:00') + 86_400_000));
  return q.toString();
}

async function loadAudit() {
  const audit = await api('GET', `/api/admin/audit?${auditQuery()}`);
  state.auditError = audit.ok ? null : audit.body;
  state.audit = audit.ok ? audit.body : [];
}

async function load() {
  const [slots] = await Promise.all([api('GET', '/api/admin/slots'), loadAudit()]);
  state.slotsError = slots.ok ? null : slots.body;
  if (slots.ok) state.slots = slots.body;
  render();
}

async function filterAudit(ev) {
  ev.preventDefault();
  await loadAudit();
  render();
}

function durationText(ms) {
  if (ms === undefined || ms === null) return '';
  return ms >= 60_000 ? t('admin.audit.minutes', { n: Math.round(ms / 60_000) }) : t('admin.audit.seconds', { n: Math.round(ms / 1000) });
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
  // Staff accounts' changes name the account (and a role change's roles).
  // A relay sheet's steps (issue 23) name the relay and the partner in `detail`;
  // the visitor's and a partner's steps have no staff account.
  const what = e.target_name !== undefined ? [e.target_name, e.detail].filter(Boolean).join(' ') : (e.references || []).join(', ') || e.detail || '';
  const who = e.account === NOBODY ? t(e.action === 'relay_viewed' ? 'audit.actor.partner' : 'audit.actor.visitor') : e.display_name;
  return h(
    'tr',
    { 'data-action': e.action },
    h('td', { text: formatJapanDateTime(e.at) }),
    h('td', { text: who }),
    h('td', { text: t(`audit.${e.action}`) }),
    h('td', { text: what }),
    // As the console names it ("相談 #23fb"), the whole id on hover.
    h('td', { class: 'audit-conv', text: e.conversation_id ? t('conv.label', { short: e.conversation_id.replace(/-/g, '').slice(-4) }) : '', title: e.conversation_id || '' }),
    h('td', { text: durationText(e.duration_ms) }),
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
  const chosen = $('audit-action').value;
  fillSelect($('audit-action'), AUDIT_ACTIONS, 'audit', 'admin.audit.filter.any');
  $('audit-action').value = chosen;
  $('audit-error').textContent = state.auditError ? t('admin.audit.filter.bad', { message: state.auditError.message || '' }) : '';
  $('audit-error').hidden = !state.auditError;
  $('audit-body').replaceChildren(...state.audit.map(auditRow));
  $('audit-none').hidden = state.audit.length > 0;
  renderStats();
  renderAccounts();
  renderCanned();
  renderPartners();
  renderFloor();
}

let loggedIn = false;

$('slot-form').addEventListener('submit', createSlot);
$('audit-filter').addEventListener('submit', filterAudit);
initStats();
initAccounts();
initCanned();
initPartners();
initFloor();
onSectionChange((section) => floorShown(section === 'floor', loggedIn));
initSections();
startStaffPage({
  role: 'admin',
  titleKey: 'admin.title',
  onEnter: (me) => {
    loggedIn = true;
    floorShown(currentSection() === 'floor', true);
    return Promise.all([load(), loadStats(), loadAccounts(me), loadCanned(), loadPartners()]);
  },
  onLeave: () => {
    loggedIn = false;
    resetFloor();
    Object.assign(state, { slots: [], audit: [], status: null, slotError: null, slotsError: null });
    resetStats();
    resetAccounts();
    resetCanned();
    resetPartners();
    render();
  },
  render,
});
