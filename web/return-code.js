// The return code (issue 22): after a conversation (or during it) the
// visitor may take a code that lets them come back anonymously later and
// continue with the counsellor who knows their story. Shown once, large,
// with a copy button and "save as text" (a .txt file made in the page;
// nothing is sent anywhere); never stored in the page. On the start
// screen an optional field takes it back (`start` with `return_code`).

import { t, onLangChange, errorText, lang } from './i18n.js';
import { postJson } from './common.js';
import { copyFrom } from './copy.js';

const $ = (id) => document.getElementById(id);

/** The code on screen: {code, retention_days}, or null. */
let shown = null;
/** Why the last request failed (an error body), kept for a language change. */
let failure = null;
/** Which retention applies to the case (the server's `case_retention`), or null. */
let retention = null;
/** Why the last keep-longer or erase request failed, per control. */
let keepFailure = null;
let eraseFailure = null;
let hooks = { conversation: () => null, caseErased: () => {} };

/** A day as Japan time with its year: "2027年6月2日", "2 June 2027". */
function day(ms) {
  return new Intl.DateTimeFormat(lang() === 'ja' ? 'ja-JP' : 'en-GB', {
    timeZone: 'Asia/Tokyo',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
  }).format(new Date(ms));
}

function renderKeep() {
  if (!retention) return;
  const kept = retention.retention === 'keep_longer';
  $('keep-status').textContent = kept
    ? t('keep.status.kept', { days: retention.keep_longer?.keep_days ?? retention.case_keep_days, date: day(retention.keep_until) })
    : t('keep.status.normal', { days: retention.retention_days });
  // The wording, word for word as the consent records its version.
  $('keep-wording').textContent = t('keep.wording', {
    days: retention.case_keep_days,
    normal: retention.retention_days,
  });
  $('keep-give').hidden = kept;
  $('keep-withdraw').hidden = !kept;
  const err = $('keep-error');
  err.hidden = !keepFailure;
  err.textContent = keepFailure ? errorText(keepFailure) : '';
  const eErr = $('case-erase-error');
  eErr.hidden = !eraseFailure;
  eErr.textContent = eraseFailure ? errorText(eraseFailure) : '';
}

function render() {
  const panel = $('return-code-panel');
  panel.hidden = !shown && !failure;
  $('return-code-open').setAttribute('aria-expanded', String(!panel.hidden));
  $('return-code-body').hidden = !shown;
  if (shown) {
    $('return-code').textContent = shown.code;
    $('return-code-explain').textContent = t('return.explain', { days: shown.retention_days });
    renderKeep();
  }
  const err = $('return-code-error');
  err.hidden = !failure;
  err.textContent = failure ? (failure.key ? t(failure.key) : errorText(failure)) : '';
}

function hide({ focus = false } = {}) {
  shown = null;
  failure = null;
  retention = null;
  keepFailure = null;
  eraseFailure = null;
  $('case-erase-confirm').hidden = true;
  $('return-code').textContent = '';
  $('return-code-copied').hidden = true;
  render();
  if (focus) $('return-code-open').focus();
}

async function request() {
  const conv = hooks.conversation();
  if (!conv) return;
  const button = $('return-code-open');
  button.disabled = true;
  const r = await postJson('/api/visitor/return-code', {
    conversation_id: conv.conversation_id,
    token: conv.token,
  });
  button.disabled = false;
  $('return-code-copied').hidden = true;
  if (r.ok && r.body?.code) {
    failure = null;
    shown = { code: r.body.code, retention_days: Number(r.body.retention_days) || 30 };
    retention = r.body.case_retention ?? null;
  } else {
    shown = null;
    failure = r.body?.code ? r.body : { code: 'network' };
  }
  render();
  $('return-code-heading').focus();
}

/**
 * "Save as text": a small .txt file made here (nothing is sent anywhere)
 * with the code and the lines that say what it is for; `statusId` (an
 * aria-live line) says it was saved. Letters (letters.js) use it too.
 */
export function saveCodeAsText(code, lines, statusId) {
  const text = `${t('return.file.title')}\n\n${code}\n\n${lines.join('\n')}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = t('return.file.name');
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  const status = $(statusId);
  status.textContent = t('return.saved');
  status.hidden = false;
}

function save() {
  if (!shown) return;
  saveCodeAsText(shown.code, [t('return.explain', { days: shown.retention_days }), t('return.file.how')], 'return-code-copied');
}

/** `keep_longer`, `withdraw_keep_longer` or `erase_case` over HTTP (the socket may be closed). */
async function caseStep(type, extra = {}) {
  const conv = hooks.conversation();
  if (!conv) return { ok: false, body: { code: 'not_started' } };
  return postJson('/api/visitor/case', { type, ...conv, ...extra });
}

async function keep(give) {
  if (!retention) return;
  const button = $(give ? 'keep-give' : 'keep-withdraw');
  button.disabled = true;
  const r = give
    ? await caseStep('keep_longer', { wording_version: retention.wording_version, lang: lang() })
    : await caseStep('withdraw_keep_longer');
  button.disabled = false;
  if (r.ok && r.body?.case_retention) {
    keepFailure = null;
    retention = r.body.case_retention;
  } else {
    keepFailure = r.body?.code ? r.body : { code: 'network' };
  }
  renderKeep();
  // The other button takes the place of the one pressed: keep the focus there.
  const next = retention.retention === 'keep_longer' ? 'keep-withdraw' : 'keep-give';
  $(next).focus();
}

function askErase() {
  $('case-erase-confirm').hidden = false;
  $('case-erase-question').focus();
}

function cancelErase() {
  $('case-erase-confirm').hidden = true;
  $('case-erase').focus();
}

async function eraseCase() {
  $('case-erase-yes').disabled = true;
  const r = await caseStep('erase_case');
  $('case-erase-yes').disabled = false;
  if (r.ok && r.body?.type === 'case_erased') {
    hide();
    hooks.caseErased(r.body.conversations);
    return;
  }
  eraseFailure = r.body?.code ? r.body : { code: 'network' };
  $('case-erase-confirm').hidden = true;
  renderKeep();
  $('case-erase').focus();
}

/** `conversation()` gives {conversation_id, token} of the page's conversation, or null. */
export function initReturnCode(h) {
  hooks = { ...hooks, ...h };
  $('return-code-open').addEventListener('click', request);
  $('return-code-copy').addEventListener('click', () => copyFrom('return-code', 'return-code-copied'));
  $('return-code-save').addEventListener('click', save);
  $('return-code-close').addEventListener('click', () => hide({ focus: true }));
  $('keep-give').addEventListener('click', () => keep(true));
  $('keep-withdraw').addEventListener('click', () => keep(false));
  $('case-erase').addEventListener('click', askErase);
  $('case-erase-no').addEventListener('click', cancelErase);
  $('case-erase-yes').addEventListener('click', eraseCase);
  onLangChange(render);
}

/** The button shows while the page has a conversation; the code goes with it. */
export function setReturnCodeAvailable(has) {
  $('return-code-open').hidden = !has;
  if (!has && (shown || failure)) hide();
}

/** The start screen's optional code, or undefined when blank. */
export function returnCodeToStart() {
  const v = $('return-start-input').value.trim();
  return v || undefined;
}

/** A start with a code was refused: say so by the field, and focus it. */
export function returnStartFailed() {
  const d = $('return-start');
  d.open = true;
  $('return-start-input').focus();
}

/** Forget what was typed (after a start that worked). */
export function clearReturnStart() {
  $('return-start-input').value = '';
}
