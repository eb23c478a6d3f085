// Issue 22: the letters queue in the console. Letters are what visitors
// leave while the centre is closed; a counsellor (or supervisor) answers
// each one once, during opening hours.
//
// A collapsible area at the foot of the side column ("お手紙 / Letters"),
// collapsed by default so that it never crowds the chats: its button
// shows how many letters wait (and how many are urgent). Open, it lists
// them in the server's order (urgent first, then oldest); choosing one
// shows it in the main pane (#conv-area), in place of the selected chat,
// with the writer's earlier case, a labelled reply box and a send button,
// and a button back to the list (Esc too). The chats go on meanwhile:
// choosing one in the side column closes the letter (its draft is kept).
// The side column keeps the list, the open letter marked aria-current.
// The list is read when the area opens and every 60 s (the count too,
// while it is closed).
//
// GET /api/counsellor/letters; POST /api/counsellor/letters/{id}/answer
// with {client_id, text}: 409 `letter_answered` when someone answered it
// first (or its writer erased it). Nothing is kept in the tab: a draft
// lives in memory only, until it is sent or the counsellor logs out.

import { t, onLangChange, errorText, formatJapanDateTime, formatTime } from '../i18n.js';
import { h, newClientId, postJson, fetchInfo } from '../common.js';
import { loadCase } from './case.js';

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 60_000;

const st = {
  started: false,
  enabled: true,
  maxChars: 2000,
  letters: [],
  loaded: false,
  loadFailed: false,
  /** The letter shown in the reader (its id), or null for the list. */
  open: null,
  /** The open letter as last seen, kept when it leaves the list meanwhile. */
  openLetter: null,
  /** letter_id -> {text, clientId}: drafts, and the id a retry must reuse. */
  drafts: new Map(),
  sending: false,
  /** What the status line says: {key, vars} or {err}, rendered again on a language change. */
  status: null,
  timer: null,
  /** Bumped on stop, so that a late answer from before a logout is dropped. */
  epoch: 0,
  /** Told when the reader opens or closes (the console hides or shows the chat). */
  onReader: null,
};

// ------------------------------------------------------------- helpers

function ageText(ms, now = Date.now()) {
  const minutes = Math.floor(Math.max(0, now - ms) / 60_000);
  if (minutes < 1) return t('letters.age.now');
  if (minutes < 60) return t('letters.age.minutes', { n: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return t('letters.age.hours', { n: hours });
  const days = Math.floor(hours / 24);
  return t('letters.age.days', { n: days });
}

function riskBadge(level) {
  if (level !== 'watch' && level !== 'urgent') return null;
  return h('span', { class: `badge risk-${level}`, 'data-risk': level, text: t(`risk.badge.${level}`) });
}

function channelBadge(channel) {
  return h('span', { class: `badge channel channel-${channel}`, text: t(`row.channel.${channel}`) });
}

function langBadge(lang) {
  return h(
    'span',
    { class: `badge lang lang-${lang}`, lang },
    h('span', { 'aria-hidden': 'true', text: t(`lang.tag.${lang}`) }),
    h('span', { class: 'visually-hidden', text: t('letters.lang', { lang: t(`lang.name.${lang}`) }) }),
  );
}

function returningBadge() {
  return h('span', { class: 'badge letter-returning', title: t('letters.returning.long') }, t('letters.returning'));
}

function reasonText(r) {
  if (r.source === 'triage') {
    const key = `category.${r.category}`;
    const category = t(key) === key ? r.category || r.rule || '' : t(key);
    return t('risk.reason.triage', { category });
  }
  return t(`risk.${r.level}`);
}

function setStatus(spec) {
  st.status = spec ? { ...spec, at: Date.now() } : null;
  renderStatus();
}

function renderStatus() {
  const el = $('letters-status');
  const s = st.status;
  const text = !s ? '' : s.err ? errorText(s.err, { max: st.maxChars }) : t(s.key, s.vars);
  // With a letter open, what goes wrong with the answer is said by the
  // form (in the main pane), not at the foot of the side column.
  const inForm = Boolean(st.open && s && (s.kind === 'error' || s.kind === 'busy'));
  el.textContent = inForm ? '' : text;
  el.dataset.kind = s?.kind || '';
  el.hidden = !s || inForm;
  const err = $('letter-error');
  const formError = inForm && s.kind === 'error' ? text : '';
  if (err.textContent !== formError) err.textContent = formError;
  err.hidden = !formError;
}

function expanded() {
  return $('letters-toggle').getAttribute('aria-expanded') === 'true';
}

// ------------------------------------------------------------- loading

async function refresh() {
  const epoch = st.epoch;
  let body = null;
  let ok = false;
  try {
    const r = await fetch('/api/counsellor/letters', { credentials: 'same-origin' });
    if (r.ok) {
      body = await r.json();
      ok = true;
    }
  } catch {
    ok = false;
  }
  if (epoch !== st.epoch || !st.started) return;
  st.loadFailed = !ok;
  // "Sent" or "answered by someone else" is news for a while, not for the rest of the shift.
  if (st.status && st.status.kind !== 'error' && st.status.kind !== 'busy' && Date.now() - st.status.at > 30_000) st.status = null;
  if (ok) {
    st.letters = Array.isArray(body?.letters) ? body.letters : [];
    st.loaded = true;
    st.refreshedAt = Date.now();
    const still = st.open && st.letters.find((l) => l.letter_id === st.open);
    if (still) st.openLetter = still;
    for (const id of [...st.drafts.keys()]) {
      if (id !== st.open && !st.letters.some((l) => l.letter_id === id)) st.drafts.delete(id);
    }
  }
  render();
}

// ------------------------------------------------------------ rendering

function render() {
  renderHead();
  renderStatus();
  $('letter-reader').hidden = !st.open;
  if (st.open) renderReader();
  if (expanded()) renderList();
}

function renderHead() {
  const n = st.letters.length;
  const urgent = st.letters.filter((l) => l.risk === 'urgent').length;
  $('letters-count').textContent = st.loaded ? t('letters.count', { count: n }) : '';
  $('letters-count').hidden = !st.loaded;
  $('letters-count').classList.toggle('letters-count-some', n > 0);
  $('letters-urgent').textContent = t('letters.urgent_count', { count: urgent });
  $('letters-urgent').hidden = urgent === 0;
  $('letters').dataset.count = String(n);
  $('letters').dataset.urgent = String(urgent);
}

function letterRow(l, now) {
  const current = l.letter_id === st.open;
  const button = h(
    'button',
    {
      type: 'button',
      class: `letter-row risk-${l.risk}${current ? ' current' : ''}`,
      'data-letter': l.letter_id,
      'aria-current': current ? 'true' : null,
      'aria-controls': 'letter-reader',
      onclick: () => openLetter(l.letter_id),
    },
    h(
      'span',
      { class: 'letter-row-head' },
      riskBadge(l.risk),
      h('time', { class: 'letter-age', datetime: new Date(l.written_at).toISOString(), text: ageText(l.written_at, now) }),
      channelBadge(l.channel),
      langBadge(l.lang),
      l.returning ? returningBadge() : null,
      st.drafts.get(l.letter_id)?.text.trim() ? h('span', { class: 'badge letter-draft', text: t('letters.draft') }) : null,
    ),
    h('span', { class: 'letter-row-text', text: l.text.replace(/\s+/g, ' ').trim() }),
  );
  return h('li', { class: `letter-item${l.risk === 'urgent' ? ' urgent' : ''}`, 'data-letter': l.letter_id, 'data-risk': l.risk }, button);
}

function renderList() {
  const now = Date.now();
  // Rebuilt rows keep the keyboard focus where it was.
  const focused = document.activeElement?.closest?.('#letters-list button[data-letter]')?.dataset.letter;
  $('letters-list').replaceChildren(...st.letters.map((l) => letterRow(l, now)));
  if (focused) $('letters-list').querySelector(`button[data-letter="${CSS.escape(focused)}"]`)?.focus();
  $('letters-list').hidden = st.letters.length === 0;
  $('letters-empty').hidden = !st.loaded || st.letters.length > 0;
  $('letters-load-error').hidden = !st.loadFailed;
  $('letters-updated').textContent = st.refreshedAt ? t('letters.updated', { time: formatTime(st.refreshedAt) }) : '';
}

function renderReader() {
  const l = st.openLetter;
  const reader = $('letter-reader');
  const gone = !st.letters.some((x) => x.letter_id === l.letter_id);
  reader.dataset.risk = l.risk;
  reader.classList.toggle('urgent', l.risk === 'urgent');
  $('letter-back').textContent = t('letters.back');
  $('letter-heading').textContent = t('letters.reader.heading');
  $('letter-facts').replaceChildren(
    ...[
      riskBadge(l.risk),
      h('time', { datetime: new Date(l.written_at).toISOString(), text: t('letters.written', { time: formatJapanDateTime(l.written_at), age: ageText(l.written_at) }) }),
      channelBadge(l.channel),
      langBadge(l.lang),
      l.returning ? returningBadge() : null,
    ].filter(Boolean),
  );
  const reasons = (l.risk_reasons || []).map(reasonText).filter(Boolean);
  $('letter-reasons').textContent = reasons.length ? t('letters.reasons', { reasons: reasons.join('、') }) : '';
  $('letter-reasons').hidden = !reasons.length;
  const text = $('letter-text');
  text.textContent = l.text;
  text.setAttribute('lang', l.lang);
  text.setAttribute('aria-label', t('letters.text.label'));
  $('letter-reply-label').textContent = t('letters.reply.label');
  $('letter-reply-hint').textContent = t(l.channel === 'line' ? 'letters.reply.hint.line' : 'letters.reply.hint.web', {
    lang: t(`lang.name.${l.lang}`),
  });
  const box = $('letter-reply');
  box.setAttribute('lang', l.lang);
  const draft = st.drafts.get(l.letter_id);
  if (box.value !== (draft?.text || '')) box.value = draft?.text || '';
  box.disabled = gone;
  renderReplyCount();
  $('letter-gone').textContent = t('letters.gone');
  $('letter-gone').hidden = !gone;
  const send = $('letter-send');
  send.textContent = t(st.sending ? 'letters.sending' : 'letters.send');
  send.disabled = st.sending || gone;
}

function renderReplyCount() {
  const n = [...$('letter-reply').value].length;
  const el = $('letter-reply-count');
  el.textContent = t('letters.chars', { n, max: st.maxChars });
  el.classList.toggle('over', n > st.maxChars);
}

// ------------------------------------------------------------- actions

function setExpanded(on, { focus = false } = {}) {
  $('letters-toggle').setAttribute('aria-expanded', String(on));
  $('letters-body').hidden = !on;
  $('letters').classList.toggle('open', on);
  // Folding the list away puts the letter away too (its draft is kept).
  if (!on && st.open) closeLetter();
  if (on) {
    render();
    refresh();
    $('letters').scrollIntoView({ block: 'nearest' });
  }
  if (focus) $('letters-toggle').focus();
}

function openLetter(id) {
  const l = st.letters.find((x) => x.letter_id === id);
  if (!l) return;
  const same = st.open === id;
  st.open = id;
  st.openLetter = l;
  setStatus(null);
  render();
  st.onReader?.(true);
  // A returning writer: their earlier conversations, to answer knowing the story.
  if (!same) {
    $('letter-case').hidden = true;
    $('letter-case').replaceChildren();
    delete $('letter-case').dataset.caseFor;
    if (l.returning) loadCase(id, $('letter-case'), 'letter');
    $('letter-reader').scrollTop = 0;
  }
  $('letter-heading').focus();
}

/** Put the letter away (its draft stays), showing the chat again; no focus move. */
export function closeLetter() {
  if (!st.open) return;
  st.open = null;
  st.openLetter = null;
  if (st.status?.kind === 'error') st.status = null;
  render();
  st.onReader?.(false);
}

/** Whether a letter is open in the main pane (in place of the chat). */
export function letterOpen() {
  return Boolean(st.open);
}

function backToList({ focusId = st.open, announce = null } = {}) {
  // Put away meanwhile (a chat chosen while sending): the focus is elsewhere now, and stays.
  const wasOpen = Boolean(st.open);
  closeLetter();
  if (announce) setStatus(announce);
  if (!wasOpen) return;
  const row = focusId && $('letters-list').querySelector(`button[data-letter="${CSS.escape(focusId)}"]`);
  if (row) row.focus();
  else $('letters-toggle').focus();
}

async function send(ev) {
  ev.preventDefault();
  const l = st.openLetter;
  if (!l || st.sending) return;
  const text = $('letter-reply').value;
  if (!text.trim()) {
    setStatus({ key: 'letters.empty_reply', kind: 'error' });
    $('letter-reply').focus();
    return;
  }
  if ([...text].length > st.maxChars) {
    setStatus({ err: { code: 'text_too_long' }, kind: 'error' });
    $('letter-reply').focus();
    return;
  }
  const draft = st.drafts.get(l.letter_id) || { text, clientId: newClientId() };
  draft.text = text;
  st.drafts.set(l.letter_id, draft);
  st.sending = true;
  setStatus({ key: 'letters.sending.status', kind: 'busy' });
  render();
  const epoch = st.epoch;
  const r = await postJson(`/api/counsellor/letters/${encodeURIComponent(l.letter_id)}/answer`, {
    client_id: draft.clientId,
    text,
  });
  if (epoch !== st.epoch) return;
  st.sending = false;
  if (r.ok) {
    st.drafts.delete(l.letter_id);
    st.letters = st.letters.filter((x) => x.letter_id !== l.letter_id);
    backToList({ focusId: null, announce: { key: 'letters.sent', kind: 'ok' } });
    refresh();
    return;
  }
  if (r.body?.code === 'letter_answered' || r.body?.code === 'not_found') {
    st.drafts.delete(l.letter_id);
    st.letters = st.letters.filter((x) => x.letter_id !== l.letter_id);
    backToList({ focusId: null, announce: { key: 'letters.answered', kind: 'info' } });
    refresh();
    return;
  }
  // Anything else (network, too long, a blip): the draft stays; the same id makes a retry safe.
  setStatus({ err: r.body?.code ? r.body : { code: 'network' }, kind: 'error' });
  render();
  $('letter-reply').focus();
}

// --------------------------------------------------------------- set up

let bound = false;

function bind() {
  if (bound) return;
  bound = true;
  $('letters-toggle').addEventListener('click', () => setExpanded(!expanded()));
  $('letters-refresh').addEventListener('click', () => {
    setStatus(null);
    refresh();
  });
  $('letter-back').addEventListener('click', () => backToList());
  $('letter-form').addEventListener('submit', send);
  $('letter-reply').addEventListener('input', () => {
    const l = st.openLetter;
    if (!l) return;
    const draft = st.drafts.get(l.letter_id) || { text: '', clientId: newClientId() };
    draft.text = $('letter-reply').value;
    st.drafts.set(l.letter_id, draft);
    renderReplyCount();
  });
  $('letter-reply').addEventListener('keydown', (ev) => {
    // Ctrl+Enter sends, as in the chats.
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && !ev.isComposing) {
      ev.preventDefault();
      $('letter-form').requestSubmit();
    }
  });
  $('letter-reader').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !ev.isComposing && !st.sending) {
      ev.preventDefault();
      backToList();
    }
  });
  onLangChange(() => render());
}

/**
 * After login: show the area (unless letters are off), count now and every
 * 60 s. `onReader(open)` is told when a letter opens in the main pane or
 * is put away.
 */
export async function startLetters({ onReader = null } = {}) {
  if (onReader) st.onReader = onReader;
  bind();
  if (st.started) return;
  st.started = true;
  st.epoch += 1;
  const epoch = st.epoch;
  const info = await fetchInfo();
  if (epoch !== st.epoch) return;
  st.enabled = info?.letters?.enabled !== false;
  if (info?.letters?.max_chars) st.maxChars = info.letters.max_chars;
  $('letters').hidden = !st.enabled;
  if (!st.enabled) return;
  render();
  refresh();
  st.timer = setInterval(refresh, REFRESH_MS);
}

/** On logout (or a lost session): stop asking, forget the list and every draft. */
export function stopLetters() {
  const wasOpen = Boolean(st.open);
  st.started = false;
  st.epoch += 1;
  clearInterval(st.timer);
  st.timer = null;
  Object.assign(st, { letters: [], loaded: false, loadFailed: false, open: null, openLetter: null, sending: false, status: null });
  st.drafts.clear();
  if (!$('letters')) return;
  $('letters').hidden = true;
  $('letters-toggle').setAttribute('aria-expanded', 'false');
  $('letters-body').hidden = true;
  $('letters').classList.remove('open');
  $('letter-reply').value = '';
  $('letter-reader').hidden = true;
  $('letter-case').replaceChildren();
  $('letter-case').hidden = true;
  renderHead();
  renderStatus();
  if (wasOpen) st.onReader?.(false);
}
