// The admin page's floor section: the floor now (hours, counsellors
// available, visitors waiting, the longest wait) and the recent
// empty-floor episodes with their durations, from GET /api/floor. Admins
// have no console, so this is where they see the empty-floor alert.
// Refreshed every 15 s while the section is shown.

import { t, formatJapanDateTime } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText } from '../staff.js';

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 15_000;

const state = { floor: null, error: null, timer: null, active: false };

function durationText(ms) {
  if (ms === undefined || ms === null) return '';
  if (ms < 60_000) return t('admin.floor.under_minute');
  const mins = Math.round(ms / 60_000);
  if (mins < 60) return t('admin.floor.minutes', { n: mins });
  return t('admin.floor.hours', { h: Math.floor(mins / 60), m: mins % 60 });
}

/** A configured wait (whole seconds), exactly: "2秒", "5分". */
function waitSetting(secs) {
  return secs < 60 || secs % 60 !== 0 ? t('admin.floor.seconds', { n: secs }) : durationText(secs * 1000);
}

export async function loadFloor() {
  const r = await api('GET', '/api/floor');
  state.error = r.ok ? null : r.body;
  state.floor = r.ok ? r.body : null;
  renderFloor();
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = null;
  if (state.active) state.timer = setTimeout(async () => {
    await loadFloor();
    schedule();
  }, REFRESH_MS);
}

/** The floor section is shown (`true`) or not: refresh while shown. */
export function floorShown(shown, loggedIn) {
  state.active = shown && loggedIn;
  if (state.active) loadFloor();
  schedule();
}

function item(label, value, attrs = {}) {
  return [h('dt', { text: label }), h('dd', { ...attrs, text: value })];
}

function episodeRow(e) {
  const open = e.cleared_at === undefined;
  return h(
    'tr',
    { 'data-episode': e.alert_id, 'data-state': open ? 'open' : 'cleared' },
    h('td', { text: formatJapanDateTime(e.since) }),
    h('td', { text: formatJapanDateTime(e.raised_at) }),
    h('td', {
      class: 'floor-cleared',
      text: open
        ? t('admin.floor.ongoing')
        : t('admin.floor.cleared_at', { time: formatJapanDateTime(e.cleared_at), why: t(`admin.floor.cleared.${e.cleared}`) }),
    }),
    h('td', { class: 'num', text: durationText(e.duration_ms) }),
    h('td', { text: t(`admin.floor.cause.${e.cause}`) }),
    h('td', { class: 'num', text: String(e.waiting) }),
    h('td', { text: e.acked_at !== undefined ? formatJapanDateTime(e.acked_at) : t('admin.floor.not_acked') }),
  );
}

export function renderFloor() {
  $('floor-error').textContent = problemText(state.error);
  $('floor-error').hidden = !state.error;
  const f = state.floor;
  const cur = f?.current;
  $('floor-current').hidden = !cur;
  $('floor-current').textContent = cur
    ? t(`admin.floor.current.${cur.cause}`, { since: formatJapanDateTime(cur.since), duration: durationText(cur.duration_ms), waiting: f.waiting })
    : '';
  if (!f) {
    $('floor-now').replaceChildren();
    $('floor-episodes-body').replaceChildren();
    $('floor-none').hidden = true;
    $('floor-at').textContent = '';
    return;
  }
  $('floor-now').replaceChildren(
    ...item(t('admin.floor.hours_label'), t(f.open ? 'admin.floor.open' : 'admin.floor.closed')),
    ...item(t('admin.floor.available'), t('admin.floor.people', { n: f.available }), { 'data-floor': 'available' }),
    ...item(t('admin.floor.waiting'), t('admin.floor.people', { n: f.waiting }), { 'data-floor': 'waiting' }),
    ...item(t('admin.floor.longest'), f.longest_wait_ms === undefined ? t('admin.floor.nobody_waiting') : durationText(f.longest_wait_ms)),
    ...item(t('admin.floor.watch'), f.watching ? t('admin.floor.watch.on', { after: waitSetting(f.empty_floor_after_secs) }) : t('admin.floor.watch.off')),
  );
  $('floor-at').textContent = t('admin.floor.at', { time: formatJapanDateTime(f.at) });
  $('floor-episodes-body').replaceChildren(...f.episodes.map(episodeRow));
  $('floor-none').hidden = f.episodes.length > 0;
}

export function resetFloor() {
  Object.assign(state, { floor: null, error: null, active: false });
  clearTimeout(state.timer);
  state.timer = null;
  renderFloor();
}

export function initFloor() {
  $('floor-refresh').addEventListener('click', loadFloor);
}
