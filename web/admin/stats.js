// The admin page's statistics: a period picker (month, quarter, fiscal
// year April-March), the report's tables, each row with a labelled
// horizontal bar, "<3" shown as such, and the CSV download. Only the
// published (suppressed) figures ever reach the page.

import { t } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText } from '../staff.js';

const $ = (id) => document.getElementById(id);
const KINDS = ['month', 'quarter', 'fy'];
const TABLES = ['channel', 'who', 'age_band', 'gender', 'withdrawal', 'severity', 'outcome', 'exit', 'referral', 'hour'];
const state = { report: null, error: null };

/** The current Japan-time year and month. */
function japanNow() {
  const d = new Date(Date.now() + 9 * 3600 * 1000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 };
}

function period() {
  const year = $('stats-year').value;
  const kind = $('stats-kind').value;
  if (kind === 'fy') return `FY${year}`;
  if (kind === 'quarter') return `${year}-Q${$('stats-sub').value}`;
  return `${year}-${String($('stats-sub').value).padStart(2, '0')}`;
}

function fillSub() {
  const kind = $('stats-kind').value;
  const sub = $('stats-sub');
  const chosen = sub.value;
  const n = kind === 'quarter' ? 4 : 12;
  sub.replaceChildren(...Array.from({ length: n }, (_, i) => h('option', { value: String(i + 1), text: kind === 'quarter' ? `Q${i + 1}` : String(i + 1) })));
  if (chosen && Number(chosen) <= n) sub.value = chosen;
  $('stats-sub-field').hidden = kind === 'fy';
  $('stats-sub-label').textContent = t(kind === 'quarter' ? 'stats.quarter' : 'stats.month');
}

function label(table, key) {
  if (key === 'not_answered') return t('stats.not_answered');
  if (table === 'who' || table === 'age_band' || table === 'outcome') return t(`${table}.${key}`);
  if (table === 'referral') return t(`stats.${key}`);
  if (table === 'hour') return `${key}:00`;
  return t(`stats.${table}.${key}`);
}

/**
 * A row's bar: as wide as its share of the table's largest count. A
 * suppressed cell ("<3") is drawn as what it is, a hatched stub up to 3
 * with "<3" beside it, never as a bar of 0. The count is in the cell
 * before, so the bar itself is hidden from screen readers.
 */
function bar(c, max) {
  const suppressed = typeof c !== 'number';
  const fill = h('span', { class: suppressed ? 'stats-bar-fill suppressed' : 'stats-bar-fill' });
  // CSSOM, not a style attribute: the CSP has no 'unsafe-inline'.
  const share = suppressed ? Math.min(3, max) / max : c / max;
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  const track = h('span', { class: 'stats-bar-track', 'aria-hidden': 'true' }, fill);
  return h('td', { class: 'stats-bar', 'data-count': String(c) }, track, suppressed ? h('span', { class: 'stats-bar-small', 'aria-hidden': 'true', text: '<3' }) : null);
}

function table(id, title, rows, countLabel = t('stats.col.count')) {
  const headId = `stats-${id}-heading`;
  const max = Math.max(3, ...rows.map(([, c]) => (typeof c === 'number' ? c : 0)));
  return h(
    'div',
    { class: 'stats-table', 'data-table': id },
    h('h3', { id: headId, text: title }),
    h(
      'div',
      { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-labelledby': headId },
      h(
        'table',
        { class: 'data stats-data' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col', text: t('stats.col.category') }),
            h('th', { scope: 'col', class: 'num', text: countLabel }),
            h('th', { scope: 'col', class: 'stats-bar-head' }, h('span', { class: 'visually-hidden', text: t('stats.chart', { table: title }) })),
          ),
        ),
        h('tbody', {}, rows.map(([k, c]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { class: 'num', text: String(c) }), bar(c, max)))),
      ),
    ),
  );
}

export function renderStats() {
  if (!$('stats-kind')) return;
  const kind = $('stats-kind').value || 'month';
  $('stats-kind').replaceChildren(...KINDS.map((k) => h('option', { value: k, text: t(`stats.kind.${k}`) })));
  $('stats-kind').value = kind;
  fillSub();
  $('stats-csv').href = `/api/admin/report?period=${encodeURIComponent(period())}&format=csv`;
  $('stats-error').textContent = problemText(state.error);
  $('stats-error').hidden = !state.error;
  const r = state.report;
  $('stats-note').textContent = r ? t('stats.note', { period: r.period, min: r.min_cell }) : '';
  if (!r) {
    $('stats-body').replaceChildren();
    return;
  }
  const secs = (n) => t('stats.secs', { n });
  const parts = [
    table('totals', t('stats.totals'), [
      [t('stats.started'), r.started],
      [t('stats.served'), r.served],
      [t('stats.abandoned'), r.abandoned],
    ]),
    h('p', { class: 'hint', text: r.wait_median_secs == null ? t('stats.wait.hidden') : t('stats.wait', { median: secs(r.wait_median_secs), p90: secs(r.wait_p90_secs) }) }),
    h('p', { class: 'hint', text: r.busiest_hours.length ? t('stats.busiest', { hours: r.busiest_hours.map((x) => `${String(x).padStart(2, '0')}:00`).join(', ') }) : t('stats.busiest.none') }),
  ];
  if (r.started === 0) parts.push(h('p', { class: 'hint', text: t('stats.none') }));
  // People, not contacts (issue 22): the centres' 実支援者数・新規・終了.
  parts.push(
    table(
      'people',
      t('stats.table.people'),
      ['supported', 'new', 'continuing', 'ended'].map((k) => [t(`stats.people.${k}`), r.people[k]]),
      t('stats.col.people'),
    ),
    h('p', { class: 'hint', text: t('stats.people.note', { days: r.case_ends_after_days }) }),
  );
  for (const name of TABLES) {
    const rows = Object.entries(r.tables[name] || {}).map(([k, c]) => [label(name, k), c]);
    if (rows.length) parts.push(table(name, t(`stats.table.${name}`), rows));
  }
  parts.push(
    table(
      'handoffs',
      t('stats.table.handoffs'),
      ['offered', 'consented', 'booked', 'attended'].map((s) => [t(`stats.handoffs.${s}`), r.handoffs[s]]),
    ),
  );
  // Contacts with other agencies (issue 23; the seeds' 支援機関（者）との連携):
  // referrals naming a partner, and relay sheets sent with consent, by kind.
  parts.push(h('h3', { class: 'stats-group', text: t('stats.agencies') }));
  for (const [id, counts] of [['referrals', r.referrals_by_offer], ['relays', r.relays_by_offer]]) {
    const rows = Object.entries(counts || {}).map(([k, c]) => [t(`partners.offer.${k}`), c]);
    if (rows.length) parts.push(table(`agencies-${id}`, t(`stats.agencies.${id}`), rows));
    else parts.push(h('p', { class: 'hint', 'data-table': `agencies-${id}`, text: t(`stats.agencies.${id}.none`) }));
  }
  $('stats-body').replaceChildren(...parts);
}

export async function loadStats() {
  const res = await api('GET', `/api/admin/report?period=${encodeURIComponent(period())}`);
  state.report = res.ok ? res.body : null;
  state.error = res.ok ? null : res.body;
  renderStats();
}

export function resetStats() {
  state.report = null;
  state.error = null;
}

export function initStats() {
  const now = japanNow();
  $('stats-year').value = String(now.year);
  renderStats();
  $('stats-sub').value = String(now.month);
  $('stats-kind').addEventListener('change', renderStats);
  $('stats-sub').addEventListener('change', renderStats);
  $('stats-year').addEventListener('input', renderStats);
  $('stats-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadStats();
  });
}
