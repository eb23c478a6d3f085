// The handoff page a LINE visitor opens from the one-time link in their
// LINE chat (/handoff/#<token>): the same offer, consent and booking as
// inside the web chat (../handoff.js), with the link as the only proof
// of who they are.
//
// The token is in the fragment, which browsers never send to a server;
// it is read once, taken out of the address bar (so it is not in the
// history, a bookmark or a screenshot of the address) and kept in this
// page's memory only: never in storage. The server answers for the link
// alone; it names no conversation. After a booking (or a decline) the
// link is spent: a later visit says so, and the booking page takes over.

import { t, applyI18n, bindLangSwitch, onLangChange, siteName, errorText } from '../i18n.js';
import { postJson, quickExit, fetchInfo } from '../common.js';
import { initHandoff, onHandoff, renderHandoff, resetHandoff } from '../handoff.js';

const $ = (id) => document.getElementById(id);

const state = {
  /** The link's token, from the fragment; null once forgotten. */
  link: null,
  /** GET /api/info, for the site's name and the quick exit. */
  info: null,
  /** What the page says instead of the offer: null (the offer shows), or {key} / {err}. */
  said: { key: 'link.loading' },
  /** Offer a retry (a network error, a rate limit). */
  retry: false,
};

/** Take the token out of the address; keep it in memory. */
function takeToken() {
  const raw = location.hash.slice(1);
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return /^[A-Za-z0-9_-]{16,128}$/.test(raw) ? raw : null;
}

/** What a refusal of the link means for the whole page. */
function pageRefusal(body) {
  switch (body?.code) {
    case 'link_spent':
      return { key: 'link.spent', lookup: true };
    case 'link_expired':
      return { key: 'link.expired' };
    case 'resume_failed':
      return { key: 'link.unknown' };
    case 'rate_limited':
    case 'unavailable':
    case 'network':
      return { err: body, retry: true };
    default:
      return { err: body };
  }
}

function render() {
  document.title = `${t('consent.heading')} | ${t('app.name')}`;
  $('site-name').textContent = siteName(state.info?.site) || t('app.name');
  const said = state.said;
  $('link-state').hidden = !said;
  if (said) {
    $('link-state-text').textContent = said.key ? t(said.key) : errorText(said.err);
    $('link-state-lookup').hidden = !said.lookup;
    $('link-retry').hidden = !said.retry;
  }
  renderHandoff();
}

async function load() {
  if (!state.link) {
    state.said = { key: 'link.none' };
    render();
    return;
  }
  state.said = { key: 'link.loading' };
  render();
  const r = await postJson('/api/handoff', { link: state.link });
  if (r.ok && r.body.handoff) {
    state.said = null;
    onHandoff(r.body.handoff);
    render();
    $('handoff-heading').focus();
    return;
  }
  state.said = r.ok ? { key: 'link.unknown' } : pageRefusal(r.body);
  render();
  $('link-heading').focus();
}

async function loadInfo() {
  // Without it the app's name shows; the quick exit uses the meta tag.
  state.info = (await fetchInfo()) ?? state.info;
  render();
}

function init() {
  state.link = takeToken();
  applyI18n();
  bindLangSwitch($('lang-switch'));
  onLangChange(render);
  $('quick-exit').addEventListener('click', () =>
    quickExit(state.info?.site, () => {
      state.link = null;
      resetHandoff();
    }),
  );
  $('link-retry').addEventListener('click', load);
  initHandoff({
    auth: () => (state.link ? { link: state.link } : null),
    announce: (text) => {
      $('announce').textContent = text;
    },
    // A booking spends the link: withdrawing then goes through the
    // booking page (reference and PIN), which the confirmation points to.
    withdrawWhenBooked: false,
  });
  render();
  load();
  loadInfo();
}

init();
