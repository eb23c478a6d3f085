// Letters (issue 22): while the chat is closed (or its queue is full) a
// visitor may leave a letter (`POST /api/letters`); a counsellor answers
// it during opening hours, and the visitor reads the answer here with
// their return code (`POST /api/letters/read`; the code goes in the body,
// never in a URL). A new code is shown once, with the return code's copy
// and "save as text" (return-code.js, copy.js), and never stored in the
// page. The letter's text is not kept anywhere in the page either.

import { t, onLangChange, lang, formatJapanDateTime, errorText } from './i18n.js';
import { h, postJson } from './common.js';
import { copyFrom } from './copy.js';
import { saveCodeAsText } from './return-code.js';

const $ = (id) => document.getElementById(id);

/** `letters` of GET /api/info: {enabled, max_chars}. */
let settings = { enabled: false, max_chars: 2000 };
/** Why the letter is offered: 'closed', 'busy' (queue full), or null (not offered). */
let offered = null;
let sending = false;
/** The last write's failure: {key, vars} or {err}, kept for a language change. */
let writeFailure = null;
/** The receipt of the letter just sent (with the new code, if any), or null. */
let receipt = null;
let reading = false;
let readFailure = null;
/** The letters read with a code, or null before a read. */
let letters = null;
let hooks = { safety: () => {}, alternativeItem: (a) => h('li', { text: a.name || '' }) };

function chars(text) {
  return [...text].length;
}

function failureText(f, max) {
  if (!f) return '';
  if (f.key) return t(f.key, f.vars);
  return errorText(f.err, { max });
}

// ------------------------------------------------------------- writing

function renderWrite() {
  const section = $('letter-write');
  section.hidden = !settings.enabled || !offered;
  if (section.hidden) return;
  $('letter-intro').textContent = t(offered === 'busy' ? 'letter.intro.busy' : 'letter.intro');
  // Once sent, the receipt speaks for itself.
  $('letter-intro').hidden = Boolean(receipt);
  const box = $('letter-text');
  box.maxLength = settings.max_chars;
  renderCount();
  $('letter-form').hidden = Boolean(receipt);
  const send = $('letter-send');
  send.disabled = sending;
  send.textContent = t(sending ? 'letter.sending' : 'letter.send');
  const err = $('letter-error');
  err.hidden = !writeFailure;
  $('letter-error-text').textContent = failureText(writeFailure, settings.max_chars);
  const alternatives = writeFailure?.err?.alternatives;
  const list = $('letter-error-alternatives');
  list.hidden = !Array.isArray(alternatives) || alternatives.length === 0;
  list.replaceChildren(...(list.hidden ? [] : alternatives.map((a) => hooks.alternativeItem(a))));
  renderReceipt();
}

function renderCount() {
  const n = chars($('letter-text').value);
  const el = $('letter-count');
  el.textContent = t('composer.count', { count: n, max: settings.max_chars });
  el.classList.toggle('over', n > settings.max_chars);
}

function renderReceipt() {
  const sent = $('letter-sent');
  sent.hidden = !receipt;
  if (!receipt) return;
  const when = receipt.answer_expected_at ? formatJapanDateTime(receipt.answer_expected_at) : '';
  $('letter-sent-when').textContent = when ? t('letter.sent.when', { when }) : t('letter.sent.when.none');
  $('letter-sent-note').textContent = t('letter.sent.note', { days: receipt.retention_days });
  const code = receipt.return_code;
  $('letter-code-block').hidden = !code;
  if (code) {
    $('letter-code').textContent = code;
    $('letter-code-explain').textContent = t('letter.code.explain');
  }
  $('letter-sent-how').textContent = t(code ? 'letter.sent.how.new' : 'letter.sent.how.own');
}

async function send(ev) {
  ev.preventDefault();
  if (sending) return;
  const box = $('letter-text');
  const text = box.value;
  if (!text.trim()) {
    writeFailure = { key: 'letter.error.empty' };
    renderWrite();
    box.focus();
    return;
  }
  if (chars(text) > settings.max_chars) {
    writeFailure = { key: 'error.text_too_long', vars: { max: settings.max_chars } };
    renderWrite();
    box.focus();
    return;
  }
  const code = $('letter-code-input').value.trim();
  const body = { text, lang: lang() };
  if (code) body.return_code = code;
  sending = true;
  writeFailure = null;
  renderWrite();
  $('letter-status').textContent = t('letter.sending');
  const r = await postJson('/api/letters', body);
  sending = false;
  $('letter-status').textContent = '';
  if (r.status === 201 && r.body?.letter_id) {
    receipt = {
      return_code: r.body.return_code || null,
      answer_expected_at: r.body.answer_expected_at || null,
      retention_days: Number(r.body.retention_days) || 30,
      own_code: code || null,
    };
    // Nothing of the letter stays in the page.
    box.value = '';
    $('letter-code-copied').hidden = true;
    renderWrite();
    $('letter-sent-heading').focus();
    if (r.body.safety_info) hooks.safety(Array.isArray(r.body.services) ? r.body.services : []);
    return;
  }
  const err = r.body?.code ? r.body : { code: 'network' };
  writeFailure = writeError(err);
  renderWrite();
  if (err.code === 'resume_failed' || err.code === 'return_code_locked') {
    $('letter-code-box').open = true;
    $('letter-code-input').focus();
  } else if (err.code === 'text_empty' || err.code === 'text_too_long') {
    box.focus();
  }
}

/** A kind sentence for each refusal of a letter; the letter stays in the box. */
function writeError(err) {
  switch (err.code) {
    case 'text_empty':
      return { key: 'letter.error.empty' };
    case 'text_too_long':
      return { key: 'error.text_too_long', vars: { max: settings.max_chars } };
    case 'resume_failed':
      return { key: 'letter.error.code' };
    case 'return_code_locked':
      return { key: 'letter.error.locked' };
    case 'rate_limited':
      return { key: 'letter.error.rate_limited' };
    case 'letters_full':
      return { key: 'letter.error.full', err };
    case 'closed':
      return { key: 'letter.error.off' };
    case 'network':
      return { key: 'letter.error.network' };
    default:
      return { key: 'letter.error.other' };
  }
}

/** Another letter: with the code just given, so both are read together. */
function another() {
  const code = receipt?.return_code || receipt?.own_code;
  receipt = null;
  if (code) {
    $('letter-code-input').value = code;
    $('letter-code-box').open = true;
  }
  renderWrite();
  $('letter-text').focus();
}

function saveCode() {
  if (!receipt?.return_code) return;
  saveCodeAsText(receipt.return_code, [t('letter.code.explain'), t('letter.file.how'), t('return.file.how')], 'letter-code-copied');
}

// ------------------------------------------------------------- reading

function renderRead() {
  $('letter-read').hidden = !settings.enabled;
  const button = $('letter-read-submit');
  button.disabled = reading;
  button.textContent = t(reading ? 'letter.read.working' : 'letter.read.submit');
  const err = $('letter-read-error');
  err.hidden = !readFailure;
  err.textContent = failureText(readFailure);
  const replies = $('letter-replies');
  replies.hidden = !letters;
  if (!letters) return;
  const answered = letters.filter((l) => l.answer).length;
  $('letter-replies-heading').textContent = letters.length
    ? t('letter.read.heading', { n: letters.length, answered })
    : t('letter.read.none');
  $('letter-list').replaceChildren(...letters.map(letterItem));
}

/** "あなたのお手紙" with its date beside it, smaller. */
function meta(label, ms) {
  return h('h4', { class: 'letter-meta' }, label, ' ', h('span', { class: 'letter-date', text: formatJapanDateTime(ms) }));
}

function letterItem(l) {
  const mine = h('div', { class: 'letter-mine' }, meta(t('letter.read.mine'), l.written_at), h('p', { class: 'letter-text', text: l.text }));
  const a = l.answer;
  const reply = a
    ? h(
        'div',
        { class: 'letter-answer' },
        meta(a.name ? t('letter.read.answer', { name: a.name }) : t('letter.read.answer.anon'), a.answered_at),
        h('p', { class: 'letter-text', text: a.text }),
      )
    : h('p', { class: 'letter-waiting', text: t('letter.read.waiting') });
  return h('li', { class: 'letter-item' }, mine, reply);
}

async function read(ev) {
  ev.preventDefault();
  if (reading) return;
  const input = $('letter-read-input');
  const code = input.value.trim();
  if (!code) {
    readFailure = { key: 'letter.read.empty' };
    renderRead();
    input.focus();
    return;
  }
  reading = true;
  readFailure = null;
  renderRead();
  $('letter-read-status').textContent = t('letter.read.working');
  const r = await postJson('/api/letters/read', { return_code: code });
  reading = false;
  $('letter-read-status').textContent = '';
  if (r.ok && Array.isArray(r.body?.letters)) {
    letters = r.body.letters;
    renderRead();
    $('letter-replies-heading').focus();
    return;
  }
  const err = r.body?.code ? r.body : { code: 'network' };
  letters = null;
  if (err.code === 'resume_failed') readFailure = { key: 'letter.read.failed' };
  else if (err.code === 'return_code_locked') readFailure = { key: 'letter.read.locked' };
  else if (err.code === 'rate_limited') readFailure = { key: 'error.rate_limited' };
  else if (err.code === 'network') readFailure = { key: 'letter.error.network' };
  else readFailure = { key: 'letter.error.other' };
  renderRead();
  input.focus();
}

// ------------------------------------------------------------- public

/**
 * `safety(services)` shows the page's safety panel (an urgent letter);
 * `alternativeItem(a)` makes a service's list item as the page does.
 */
export function initLetters(h2) {
  hooks = { ...hooks, ...h2 };
  $('letter-form').addEventListener('submit', send);
  $('letter-text').addEventListener('input', renderCount);
  $('letter-code-copy').addEventListener('click', () => copyFrom('letter-code', 'letter-code-copied'));
  $('letter-code-save').addEventListener('click', saveCode);
  $('letter-another').addEventListener('click', another);
  $('letter-read-form').addEventListener('submit', read);
  onLangChange(() => {
    renderWrite();
    renderRead();
  });
  renderRead();
}

/** `letters` of GET /api/info (absent or null: no letters). */
export function setLettersInfo(info) {
  settings = {
    enabled: Boolean(info?.enabled),
    max_chars: Number(info?.max_chars) > 0 ? Number(info.max_chars) : 2000,
  };
  renderWrite();
  renderRead();
}

/** Offer the letter form: 'closed', 'busy' (the queue is full), or null. */
export function offerLetter(why) {
  // A letter just sent keeps its receipt on screen while the page shows it.
  if (why === offered) return;
  offered = why || (receipt ? offered : null);
  renderWrite();
}
