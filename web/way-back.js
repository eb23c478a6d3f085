// The way back after a quick exit (issue 19): on the chat page a way-back
// code asked for on request (「この会話に戻るコード」 beside the quick exit),
// shown large with a copy button and never stored in the page; on the
// welcome page a collapsed field that redeems it
// (`POST /api/visitor/way-back`) for a new resume token.

import { t, onLangChange, errorText } from './i18n.js';
import { postJson } from './common.js';
import { copyFrom } from './copy.js';

const $ = (id) => document.getElementById(id);

/** The code on screen: {code, expires_at_ms}, or null. */
let shown = null;
/** The redeem form's error body, kept so a language change renders it again. */
let failure = null;
let hooks = { request: () => {}, redeemed: () => {} };

function minutesLeft() {
  return Math.max(1, Math.round((shown.expires_at_ms - Date.now()) / 60000));
}

function render() {
  const panel = $('way-back-panel');
  panel.hidden = !shown;
  $('way-back-open').setAttribute('aria-expanded', String(Boolean(shown)));
  if (shown) {
    $('way-back-code').textContent = shown.code;
    $('way-back-explain').textContent = t('wayback.explain', { n: minutesLeft() });
  }
  renderFailure();
}

function renderFailure() {
  const el = $('way-back-error');
  if (!failure) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  const vars = { n: Math.max(1, Math.ceil((failure.retry_after_ms || 60000) / 60000)) };
  el.textContent = failure.key ? t(failure.key) : errorText(failure, vars);
  el.hidden = false;
}

function hide({ focus = false } = {}) {
  shown = null;
  $('way-back-code').textContent = '';
  $('way-back-copied').hidden = true;
  render();
  if (focus) $('way-back-open').focus();
}

async function redeem(ev) {
  ev.preventDefault();
  const input = $('way-back-input');
  const code = input.value.trim();
  if (!code) {
    failure = { key: 'wayback.return.empty' };
    renderFailure();
    input.focus();
    return;
  }
  const button = $('way-back-submit');
  button.disabled = true;
  button.textContent = t('wayback.return.working');
  const r = await postJson('/api/visitor/way-back', { code });
  button.disabled = false;
  button.textContent = t('wayback.return.submit');
  if (r.ok && r.body?.conversation_id && r.body?.token) {
    failure = null;
    input.value = '';
    renderFailure();
    $('way-back-return').open = false;
    hooks.redeemed({ conversation_id: r.body.conversation_id, token: r.body.token });
    return;
  }
  failure = r.body?.code ? r.body : { code: 'network' };
  renderFailure();
  input.focus();
}

/**
 * `request()` sends `way_back_code` on the chat's socket; `redeemed({conversation_id, token})`
 * takes the conversation up (the page then sends `resume`).
 */
export function initWayBack(h) {
  hooks = { ...hooks, ...h };
  $('way-back-open').addEventListener('click', () => {
    $('way-back-copied').hidden = true;
    hooks.request();
  });
  $('way-back-copy').addEventListener('click', () => copyFrom('way-back-code', 'way-back-copied'));
  $('way-back-close').addEventListener('click', () => hide({ focus: true }));
  $('way-back-form').addEventListener('submit', redeem);
  onLangChange(render);
}

/** The server's `way_back_code`: show it, and move focus to it. */
export function onWayBackCode(msg) {
  if (!msg?.code) return;
  shown = { code: msg.code, expires_at_ms: Number(msg.expires_at_ms) || Date.now() + 1800000 };
  render();
  $('way-back-heading').focus();
}

/** The link shows while a conversation is live (queued or active); the code goes with it. */
export function setWayBackAvailable(live) {
  $('way-back-open').hidden = !live;
  if (!live && shown) hide();
}
