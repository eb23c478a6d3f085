// A partner's page for a relay sheet (つなぐシート, issue 23), opened from
// the link the centre passed on (/relay/#<token>): exactly the answers the
// person agreed to share with this partner, while the consent is in force
// and the link has not expired. Every view is counted and audited by the
// server, so the sheet is read once per visit: a language switch only
// redraws it.
//
// As on the handoff page, the token is in the fragment (never sent to a
// server in a URL), taken out of the address bar at once and kept in this
// page's memory only.

import { t, applyI18n, bindLangSwitch, onLangChange, errorText, siteName } from '../i18n.js';
import { h, postJson, fetchInfo } from '../common.js';
import { sheetWords } from './sheet.js';

const $ = (id) => document.getElementById(id);

const state = {
  /** The link's token, from the fragment. */
  link: null,
  /** The server's sheet, or null. */
  sheet: null,
  /** GET /api/info, for the centre's name when there is no sheet to name it. */
  info: null,
  /** What the page says instead of the sheet: null, or {key, more, retry} / {err, retry}. */
  said: { key: 'relay.partner.loading' },
};

/** Take the token out of the address; keep it in memory. */
function takeToken() {
  const raw = location.hash.slice(1);
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return /^[A-Za-z0-9_-]{16,128}$/.test(raw) ? raw : null;
}

/** What a refusal of the link means, in plain words. */
function refusal(body) {
  switch (body?.code) {
    case 'relay_withdrawn':
      return { key: 'relay.partner.withdrawn', more: 'relay.partner.withdrawn.more' };
    case 'link_expired':
      return { key: 'relay.partner.expired', more: 'relay.partner.expired.more' };
    case 'resume_failed':
    case 'not_found':
      return { key: 'relay.partner.invalid', more: 'relay.partner.invalid.more' };
    case 'rate_limited':
    case 'unavailable':
    case 'network':
      return { err: body, retry: true };
    default:
      return { err: body };
  }
}

function renderSheet() {
  const w = sheetWords(state.sheet);
  $('site-name').textContent = w.centre || siteName(state.info?.site) || t('app.name');
  $('sheet-from').textContent = w.centre;
  $('sheet-to').textContent = w.partner;
  $('sheet-purpose').textContent = w.purpose;
  $('sheet-consented').textContent = w.consented;
  $('sheet-expires').textContent = w.expires;
  $('sheet-expires-row').hidden = !w.expires;
  $('sheet-fields').replaceChildren(
    ...w.fields.map((f) =>
      h('div', { class: 'sheet-field', 'data-question': f.question }, h('dt', { text: f.label }), h('dd', { text: f.answer })),
    ),
  );
  $('sheet-none').hidden = w.fields.length > 0;
}

function render() {
  const said = state.said;
  document.title = `${t('relay.sheet.title')} | ${t('app.name')}`;
  $('sheet-state').hidden = !said;
  if (said) {
    $('sheet-state').dataset.kind = said.key === 'relay.partner.loading' ? 'loading' : 'refused';
    $('sheet-state-text').textContent = said.key ? t(said.key) : errorText(said.err);
    $('sheet-state-more').textContent = said.more ? t(said.more) : '';
    $('sheet-state-more').hidden = !said.more;
    $('sheet-retry').hidden = !said.retry;
    $('site-name').textContent = siteName(state.info?.site) || t('app.name');
  }
  $('sheet-body').hidden = !state.sheet;
  $('print').hidden = !state.sheet;
  if (state.sheet) renderSheet();
}

async function load({ focus = false } = {}) {
  if (!state.link) {
    state.said = { key: 'relay.partner.none' };
    render();
    return;
  }
  state.said = { key: 'relay.partner.loading' };
  render();
  const r = await postJson('/api/relay/view', { link: state.link });
  if (r.ok && r.body?.sheet) {
    state.sheet = r.body.sheet;
    state.said = null;
  } else {
    state.sheet = null;
    state.said = r.ok ? { key: 'relay.partner.invalid', more: 'relay.partner.invalid.more' } : refusal(r.body);
  }
  render();
  // A retry pressed: say where the page stands now (on the first load the reader starts at the top anyway).
  if (focus) $('sheet-title').focus();
}

function init() {
  state.link = takeToken();
  applyI18n();
  bindLangSwitch($('lang-switch'));
  onLangChange(render);
  $('sheet-retry').addEventListener('click', () => load({ focus: true }));
  $('print').addEventListener('click', () => window.print());
  render();
  load();
  fetchInfo().then((info) => {
    state.info = info;
    render();
  });
}

init();
