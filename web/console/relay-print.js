// The printed relay sheet (つなぐシート, issue 23), for centres that hand
// over on paper. The console opens it in a new tab as
// /console/relay-print.html?c=<conversation>&r=<relay>&p=<partner>[&lang=en]; it
// reads the sheet with the counsellor's session (GET …/relays/{r}/print,
// audited as `relay_printed`) and lays it out as one A4 page
// (/relay/sheet.css): the centre, the title, when it was printed, to
// whom, why, when the person consented, and exactly the answers they
// agreed to share with that partner. Nothing is kept.

import { t, applyI18n, bindLangSwitch, onLangChange, errorText, setLang } from '../i18n.js';
import { h } from '../common.js';
import { sheetWords, documentTime } from '../relay/sheet.js';

const $ = (id) => document.getElementById(id);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const state = {
  sheet: null,
  /** When the sheet was read: the date printed on it. */
  readAt: null,
  /** What the page says instead of the sheet: null, {key} or {err}. */
  said: { key: 'relay.print.loading' },
};

/** c, r and p from the address, or null when one is missing or malformed. */
function which() {
  const q = new URLSearchParams(location.search);
  const ids = { c: q.get('c'), r: q.get('r'), p: q.get('p') };
  return Object.values(ids).every((v) => v && UUID.test(v)) ? ids : null;
}

function refusal(status, body) {
  if (status === 401 || body?.code === 'unauthorized') return { key: 'relay.print.login' };
  switch (body?.code) {
    case 'relay_withdrawn':
      return { key: 'relay.print.withdrawn' };
    case 'outside_consent':
      return { key: 'relay.print.outside' };
    case 'not_found':
    case 'conversation_erased':
      return { key: 'relay.print.not_found' };
    default:
      return { err: body };
  }
}

function renderSheet() {
  const w = sheetWords(state.sheet);
  $('sheet-centre').textContent = w.centre;
  $('sheet-printed').textContent = t('relay.sheet.printed.at', { when: documentTime(state.readAt) });
  $('sheet-to').textContent = w.partner;
  $('sheet-from').textContent = w.centre;
  $('sheet-purpose').textContent = w.purpose;
  $('sheet-consented').textContent = w.consented;
  $('sheet-fields').replaceChildren(
    ...w.fields.map((f) =>
      h('tr', { 'data-question': f.question }, h('th', { scope: 'row', text: f.label }), h('td', { text: f.answer })),
    ),
  );
  $('sheet-none').hidden = w.fields.length > 0;
}

function render() {
  const said = state.said;
  const partner = state.sheet ? sheetWords(state.sheet).partner : '';
  document.title = partner ? `${t('relay.sheet.title')}：${partner}` : t('relay.print.title');
  $('print-state').hidden = !said;
  $('print-state').textContent = said ? (said.key ? t(said.key) : errorText(said.err)) : '';
  $('print-state').classList.toggle('error', Boolean(said && said.key !== 'relay.print.loading'));
  $('sheet').hidden = !state.sheet;
  $('print').hidden = !state.sheet;
  if (state.sheet) renderSheet();
}

async function load() {
  const ids = which();
  if (!ids) {
    state.said = { key: 'relay.print.missing' };
    render();
    return;
  }
  const url = `/api/counsellor/conversations/${ids.c}/relays/${ids.r}/print?partner_id=${encodeURIComponent(ids.p)}`;
  let status = 0;
  let body = { code: 'network' };
  try {
    const r = await fetch(url, { credentials: 'same-origin' });
    status = r.status;
    body = await r.json().catch(() => ({}));
  } catch {
    // Offline: said below.
  }
  if (status === 200 && body?.sheet) {
    state.sheet = body.sheet;
    state.readAt = Date.now();
    state.said = null;
  } else {
    state.said = refusal(status, body);
  }
  render();
}

function init() {
  // `&lang=en` (or ja) opens the sheet in that language; the switch changes it.
  const asked = new URLSearchParams(location.search).get('lang');
  if (asked) setLang(asked);
  applyI18n();
  bindLangSwitch($('lang-switch'));
  onLangChange(render);
  $('print').addEventListener('click', () => window.print());
  render();
  load();
}

init();
