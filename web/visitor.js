// The visitor page: welcome, waiting in the queue, chatting, ended.
//
// What this tab keeps (sessionStorage, this tab and origin only): the
// conversation id, its resume token, the last sequence number seen, the
// messages written but not yet confirmed (so a reload or a dropped
// connection loses none), and the unsent draft. Message text is never
// logged and never leaves for anywhere but this site's socket.

import {
  t,
  applyI18n,
  bindLangSwitch,
  onLangChange,
  lang,
  fillSelect,
  formatTime,
  formatJapanDateTime,
  errorText,
  siteName,
  WHO,
  AGE_BANDS,
  GENDERS,
  TOPICS,
} from './i18n.js';
import { h, newClientId, SeqTracker, Connection, RECONNECT_CODES, quickExit } from './common.js';
import { initHandoff, onHandoff, refreshHandoff, resetHandoff, renderHandoff } from './handoff.js';
import { stickToBottom, autoGrow, bindTextSize, Attention } from './messenger.js';
import { initWayBack, onWayBackCode, setWayBackAvailable } from './way-back.js';
import { initReturnCode, setReturnCodeAvailable, returnCodeToStart, returnStartFailed } from './return-code.js';
import { initLetters, setLettersInfo, offerLetter } from './letters.js';
import { initRelays, refreshRelays, resetRelays } from './relay-consent.js';

const STORE_KEY = 'tsunagu.visitor';
const $ = (id) => document.getElementById(id);

const state = {
  info: null,
  maxChars: 2000,
  /** null before a conversation; then the protocol's state: queued, active, ended. */
  phase: null,
  conversationId: null,
  token: null,
  counsellor: null,
  endedBy: null,
  place: null,
  seq: new SeqTracker(),
  deliveredSeq: 0,
  lastAcked: 0,
  /** key -> message; own messages are keyed by client_id, the counsellor's by seq. */
  messages: new Map(),
  /** Written, not yet confirmed by `sent`, in order: [{client_id, text}]. */
  outbox: [],
  inflight: null,
  /** A `welcome` arrived on the current socket. */
  bound: false,
  pendingStart: null,
  // The start's `idempotency_key` (PROTOCOL.md, "A `start` sent again"):
  // one per start, kept until its `welcome` arrives, so the same start
  // sent again after a dropped connection takes up the conversation it
  // may already have made instead of making a second one.
  startKey: null,
  confirmAction: null,
  /** `hours` of GET /api/info; or, after a `closed` answer to `start`, what it said. */
  hours: null,
  /** /api/info has answered (or failed): the start form or the closed screen may show. */
  infoLoaded: false,
  /** A `closing` message while waiting: {closes_at, next_opening}. */
  closing: null,
  /** A second counsellor (a supervisor) who joined. */
  second: null,
  /** Lines about the conversation itself (joined, taken over), re-rendered on a language change. */
  systemLines: [],
  /** `last_seq` of the latest `welcome`: on a resume, the history up to here is still to come. */
  lastSeqAtWelcome: 0,
  /** The services of the server's `safety_info` (the safety panel shows while set). */
  safety: null,
  /** The visitor made the safety panel a compact line. */
  safetyCollapsed: false,
  /** A start was refused `queue_full`: a letter is offered on the start screen (issue 22). */
  lettersBusy: false,
};

let conn = null;
let watchdog = null;
let typingTimer = null;
let typingActive = false;
let typingSentAt = 0;
let counsellorTypingTimer = null;
let ackTimer = null;
let draftTimer = null;
let reconnectedNotice = false;
/** Clears 「接続が戻りました」 a few seconds after it appears. */
let connBackTimer = null;
/** How long 「接続が戻りました」 stays. */
const CONN_BACK_MS = 4000;
/** Connection attempts a start waiting for its `welcome` makes before the page says it failed. */
const START_ATTEMPTS = 4;
/** The log follows its newest line (set up in init). */
let log = null;
/** Title, tone and notification while the tab is hidden (set up in init). */
let attention = null;
/** Grows the composer with its text (set up in init). */
let fitComposer = () => {};
/**
 * The handoff card sits in the log, after the messages that came before
 * it: this is the last sequence number it follows (null while not in the log).
 */
let cardSeq = null;

// ------------------------------------------------------------ storage

function readSession() {
  try {
    const raw = sessionStorage.getItem(STORE_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function persist() {
  if (!state.conversationId) return;
  const saved = {
    conversation_id: state.conversationId,
    token: state.token,
    last_seq: state.seq.contiguous,
    outbox: state.outbox,
    draft: $('composer-text').value,
    safety_collapsed: state.safetyCollapsed,
  };
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(saved));
  } catch {
    // Storage full or disabled: the chat still works in this page.
  }
}

function forgetSession() {
  try {
    sessionStorage.removeItem(STORE_KEY);
  } catch {
    // nothing kept
  }
}

// ------------------------------------------------------------- info

async function loadInfo() {
  try {
    const r = await fetch('/api/info', { credentials: 'same-origin' });
    if (!r.ok) throw new Error(String(r.status));
    state.info = await r.json();
    if (state.info.max_text_chars) state.maxChars = state.info.max_text_chars;
    if (state.info.hours) state.hours = state.info.hours;
  } catch {
    // No facts: the start form shows; a `closed` answer still brings the closed screen.
    state.info = null;
  }
  state.infoLoaded = true;
  setLettersInfo(state.info?.letters);
  renderInfo();
  renderClosed();
}

/** Not taking new chats now (closed, holiday, last entry passed). */
function isClosed() {
  return Boolean(state.hours) && state.hours.accepting === false;
}

/**
 * The welcome screen either offers the start form or, outside opening
 * hours, says that the chat is closed, when it opens next, and why; the
 * round-the-clock services stay in view either way.
 */
function renderClosed() {
  const closed = isClosed();
  $('closed-panel').hidden = !closed;
  $('start-form').hidden = closed || !state.infoLoaded;
  // Issue 22: a letter while closed, or after a start refused as the queue is full.
  offerLetter(closed ? 'closed' : state.lettersBusy ? 'busy' : null);
  if (!closed) return;
  const hours = state.hours;
  let reason = '';
  if (hours.status === 'last_entry_passed') reason = t('closed.reason.last_entry_passed');
  else if (hours.reason === 'national_holiday') {
    reason = hours.holiday
      ? t('closed.reason.national_holiday', { holiday: hours.holiday })
      : t('closed.reason.national_holiday.unnamed');
  } else if (hours.reason === 'year_end' || hours.reason === 'closure' || hours.reason === 'outside_hours') {
    reason = t(`closed.reason.${hours.reason}`);
  } else reason = t('closed.text');
  $('closed-reason').textContent = reason;
  const when = hours.next_opening ? formatJapanDateTime(hours.next_opening) : '';
  $('closed-next').textContent = when ? t('closed.next', { when }) : t('closed.next.none');
  const check = $('closed-check');
  check.textContent = check.disabled ? t('closed.checking') : t('closed.check');
}

async function checkHoursAgain() {
  const check = $('closed-check');
  check.disabled = true;
  check.textContent = t('closed.checking');
  await loadInfo();
  check.disabled = false;
  renderClosed();
  if (!isClosed()) $('start-button').focus();
  else check.focus();
}

function renderInfo() {
  const site = state.info?.site;
  $('site-name').textContent = siteName(site) || t('app.name');
  const hours = site ? (lang() === 'ja' ? site.hours_ja : site.hours_en) : '';
  $('hours').textContent = hours || '';
  // The emergency numbers are in the emergency text; the list is of other places to turn.
  const alternatives = (state.info?.alternatives ?? []).filter((a) => !a.emergency);
  for (const list of document.querySelectorAll('[data-alternatives]')) {
    list.replaceChildren(
      ...(alternatives.length
        ? alternatives.map(alternativeItem)
        : [h('li', { text: t('alternatives.none') })]),
    );
  }
  updateComposerCount();
}

function alternativeItem(a) {
  const contact = String(a.contact ?? '');
  let contactNode;
  if (/^[0-9０-９+\-() ]{3,}$/.test(contact)) {
    const digits = contact.replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(/[^0-9+]/g, '');
    contactNode = h('a', { href: `tel:${digits}`, text: contact });
  } else if (/^https:\/\/[^\s]+$/i.test(contact)) {
    contactNode = h('a', { href: contact, rel: 'noopener noreferrer', target: '_blank', text: contact });
  } else {
    contactNode = h('span', { text: contact });
  }
  return h(
    'li',
    {},
    h('span', { class: 'alt-name', text: (lang() === 'en' && a.name_en) || a.name || '' }),
    ' ',
    contactNode,
    ((lang() === 'en' && a.hours_en) || a.hours)
      ? h('span', { class: 'alt-hours', text: ` (${(lang() === 'en' && a.hours_en) || a.hours})` })
      : null,
  );
}

// ------------------------------------------------------------ screens

function fillPrechat() {
  fillSelect($('pc-who'), WHO, 'who', 'prechat.skip', { self: 'who.self.visitor' });
  fillSelect($('pc-age'), AGE_BANDS, 'age_band', 'prechat.skip');
  fillSelect($('pc-gender'), GENDERS, 'gender', 'prechat.skip');
  fillSelect($('pc-topic'), TOPICS, 'topic', 'prechat.skip');
}

function showWelcome({ focus = false } = {}) {
  // The safety panel (issue 22: after an urgent letter) sits in the letter's receipt here.
  $('letter-safety-slot').append($('safety'));
  $('screen-welcome').hidden = false;
  $('screen-chat').hidden = true;
  document.body.classList.remove('in-chat');
  $('settings-home').append($('settings'));
  $('start-button').disabled = false;
  $('start-button').textContent = t('welcome.start');
  renderClosed();
  if (focus) (isClosed() ? $('closed-heading') : $('welcome-heading')).focus();
}

function showChat({ focus = false } = {}) {
  $('messages').before($('safety'));
  $('screen-welcome').hidden = true;
  $('screen-chat').hidden = false;
  document.body.classList.add('in-chat');
  $('chat-extras').append($('settings'));
  if (focus) $('chat-heading').focus();
  log?.toBottom();
}

/**
 * What a message box says, kept as a key (or an error frame) rather than
 * text, so that switching the language re-renders it.
 */
let noticeSpec = null;
let startErrorSpec = null;

function specText(spec) {
  if (!spec) return '';
  if (spec.err) return errorText(spec.err, { max: state.maxChars });
  return t(spec.key, spec.vars);
}

function notice(key, vars) {
  noticeSpec = key ? { key, vars } : null;
  renderNotice();
}

function renderNotice() {
  const n = $('notice');
  n.textContent = specText(noticeSpec);
  n.hidden = !noticeSpec;
}

/** Said to screen readers only; what it says is also on screen (the heading). */
function announce(text) {
  const a = $('announce');
  a.textContent = '';
  setTimeout(() => {
    a.textContent = text;
  }, 50);
}

function setPhase(phase) {
  state.phase = phase;
  renderPhase();
}

function renderPhase() {
  const p = state.phase;
  const heading = $('chat-heading');
  if (p === 'queued') heading.textContent = t('wait.heading');
  else if (p === 'active' && state.counsellor && state.second)
    heading.textContent = t('chat.heading.two', { name: state.counsellor, second: state.second });
  else if (p === 'active')
    heading.textContent = state.counsellor ? t('chat.heading', { name: state.counsellor }) : t('chat.heading.anon');
  else if (p === 'ended') heading.textContent = t('ended.heading');
  else heading.textContent = t('conn.connecting');
  $('wait-info').hidden = p !== 'queued';
  setWayBackAvailable(p === 'queued' || p === 'active');
  // The return code's button sits under the chat's actions, during the
  // chat and after it (issue 22: on request during it).
  setReturnCodeAvailable((p === 'active' || p === 'ended') && Boolean(state.conversationId));
  if (p !== 'queued') $('queue-status').textContent = '';
  renderQueue();
  renderClosing();
  const ended = p === 'ended';
  $('composer').hidden = ended;
  $('ended-panel').hidden = !ended;
  $('end-chat').hidden = ended || !p;
  $('end-chat').textContent = p === 'queued' ? t('wait.leave') : t('chat.end');
  if (ended) {
    $('ended-by').textContent = state.endedBy ? t(`ended.by.${state.endedBy}`) : '';
    setCounsellorTyping(false);
  }
}

function renderClosing() {
  const el = $('closing-notice');
  const show = Boolean(state.closing) && state.phase === 'queued';
  el.hidden = !show;
  if (!show) return;
  const at = state.closing.closes_at ? formatJapanDateTime(state.closing.closes_at) : '';
  el.textContent = at ? t('wait.closing.at', { time: at }) : t('wait.closing');
}

/** A line in the conversation about the conversation (someone joined, took over). */
function systemLine(key, vars) {
  const line = { key, vars, el: h('p', { class: 'msg-system' }) };
  line.el.textContent = t(key, vars);
  state.systemLines.push(line);
  appendToLog(line.el);
  announce(t(key, vars));
}

/** The site's greeting (`site.greeting_ja`/`greeting_en`), marked as the site's, not the counsellor's. */
function greetingText() {
  const site = state.info?.site;
  if (!site) return '';
  return (lang() === 'en' ? site.greeting_en : site.greeting_ja) || '';
}

function greetingLine() {
  if (!greetingText()) return;
  const label = h('span', { class: 'msg-greeting-label' });
  const text = h('span', { class: 'msg-greeting-text' });
  const line = { greeting: true, label, text, el: h('p', { class: 'msg-system msg-greeting' }, label, ' ', text) };
  state.systemLines.push(line);
  renderSystemLine(line);
  appendToLog(line.el);
}

function renderSystemLine(line) {
  if (line.greeting) {
    line.label.textContent = t('chat.greeting.label');
    line.text.textContent = greetingText();
  } else line.el.textContent = t(line.key, line.vars);
}

function renderSystemLines() {
  for (const line of state.systemLines) renderSystemLine(line);
}

/** A line at the end of the log (after the handoff card, if it is there: it came later). */
function appendToLog(el) {
  $('messages').append(el);
}

// -------------------------------------------------- the card in the log

/**
 * The handoff card (handoff.js fills it) is part of the conversation: it
 * sits in the log after the messages written before it, and later
 * messages come under it, as in a messenger. The log keeps its height.
 */
function placeCard() {
  const card = $('handoff');
  const list = $('messages');
  if (card.hidden) {
    if (card.parentNode === list) parkCard();
    return;
  }
  if (card.parentNode === list) return;
  cardSeq = Math.max(state.seq.contiguous, state.lastSeqAtWelcome || 0);
  // After every message up to cardSeq; before any later or unconfirmed one.
  let before = null;
  for (const m of state.messages.values()) {
    if (!m.el || m.el.parentNode !== list) continue;
    const later = !m.seq || m.seq > cardSeq;
    if (later && (!before || precedes(m, before))) before = m;
  }
  // The log is a live region: the card's arrival is announced by handoff.js, not read out whole.
  card.setAttribute('aria-live', 'off');
  list.insertBefore(card, before ? before.el : null);
  log?.showTop(card);
}

/** Back where it waits when there is no handoff (outside the log). */
function parkCard() {
  const card = $('handoff');
  cardSeq = null;
  card.removeAttribute('aria-live');
  $('composer').before(card);
}

function renderQueue() {
  const place = state.place;
  if (state.phase !== 'queued') return;
  if (!place) {
    $('queue-position').textContent = t('wait.checking');
    $('queue-estimate').textContent = '';
    $('wait-line').textContent = t('wait.checking');
    $('queue-status').textContent = t('wait.checking');
    return;
  }
  $('queue-position').textContent = t('wait.position', {
    position: place.position,
    length: place.queue_length,
  });
  const secs = place.estimated_wait_secs;
  let estimate;
  if (secs === null || secs === undefined) estimate = t('wait.estimate.none');
  else if (secs < 60) estimate = t('wait.estimate.soon');
  else estimate = t('wait.estimate.minutes', { minutes: Math.ceil(secs / 60) });
  $('queue-estimate').textContent = estimate;
  // One short line on screen (the full texts open under it); screen readers hear the full texts.
  let short;
  if (secs === null || secs === undefined) short = t('wait.line.none');
  else if (secs < 60) short = t('wait.line.soon');
  else short = t('wait.line.minutes', { minutes: Math.ceil(secs / 60) });
  $('wait-line').textContent = t('wait.line', { position: place.position, length: place.queue_length, estimate: short });
  const said = `${$('queue-position').textContent} ${estimate}`;
  if ($('queue-status').textContent !== said) $('queue-status').textContent = said;
}

function renderConnection(s) {
  const text = $('conn-text');
  const retry = $('conn-retry');
  retry.hidden = s !== 'closed';
  clearTimeout(connBackTimer);
  if (s === 'open') {
    text.textContent = reconnectedNotice ? t('conn.back') : '';
    if (reconnectedNotice) {
      connBackTimer = setTimeout(() => {
        if ($('conn-status').dataset.state === 'open') $('conn-text').textContent = '';
      }, CONN_BACK_MS);
    }
    reconnectedNotice = false;
  } else if (s === 'connecting') text.textContent = t('conn.connecting');
  else if (s === 'reconnecting') text.textContent = t('conn.reconnecting');
  else if (s === 'offline') text.textContent = t('conn.offline');
  else if (s === 'closed') text.textContent = t('conn.closed');
  else text.textContent = '';
  $('conn-status').dataset.state = s;
  if (s === 'reconnecting' || s === 'offline' || s === 'closed') reconnectedNotice = true;
  for (const m of state.messages.values()) renderStatus(m);
}

// ----------------------------------------------------------- messages

function statusOf(m) {
  if (m.failed) return 'failed';
  if (m.seq) return m.from === 'visitor' && m.seq <= state.deliveredSeq ? 'delivered' : 'sent';
  return conn?.isOpen() && state.bound ? 'sending' : 'queued';
}

function renderStatus(m) {
  if (m.from !== 'visitor' || !m.el) return;
  const s = statusOf(m);
  m.el.dataset.status = s;
  m.stateEl.textContent = t(`msg.state.${s}`) + (m.failed && m.error ? `: ${m.error}` : '');
  m.editEl.hidden = !m.failed;
}

function renderMessage(m) {
  const own = m.from === 'visitor';
  const who = own ? t('msg.you') : m.name ? `${t('msg.counsellor')} ${m.name}` : t('msg.counsellor');
  m.whoEl.textContent = who;
  m.timeEl.textContent = m.sent_at ? formatTime(m.sent_at) : '';
  if (m.seq) m.el.dataset.seq = String(m.seq);
  if (m.sent_at) m.timeEl.dateTime = new Date(m.sent_at).toISOString();
  if (own) {
    m.editEl.textContent = t('msg.edit');
    renderStatus(m);
  }
}

function buildMessage(m) {
  const own = m.from === 'visitor';
  m.whoEl = h('span', { class: 'msg-who' });
  m.timeEl = h('time', { class: 'msg-time' });
  m.textEl = h('p', { class: 'msg-text' });
  m.textEl.textContent = m.text;
  m.stateEl = h('span', { class: 'msg-state' });
  m.editEl = h('button', { type: 'button', class: 'button-quiet msg-edit', hidden: true, onclick: () => editFailed(m) });
  m.el = h(
    'div',
    { class: own ? 'msg msg-own' : 'msg msg-other' },
    h('p', { class: 'msg-meta' }, m.whoEl, ' ', m.timeEl),
    m.textEl,
    own ? h('p', { class: 'msg-status' }, m.stateEl, ' ', m.editEl) : null,
  );
  renderMessage(m);
}

/** Put a message's element where its sequence number says (pending ones last). */
function place(m) {
  const list = $('messages');
  let before = null;
  for (const other of state.messages.values()) {
    if (other === m || !other.el || other.el.parentNode !== list) continue;
    const after = m.seq ? !other.seq || other.seq > m.seq : false;
    if (after && (!before || precedes(other, before))) before = other;
  }
  const card = $('handoff');
  if (!before && cardSeq !== null && card.parentNode === list && m.seq && m.seq <= cardSeq) {
    list.insertBefore(m.el, card);
  } else list.insertBefore(m.el, before ? before.el : null);
  // What the visitor writes always shows; otherwise the log follows only a reader at its bottom.
  if (m.from === 'visitor' && !m.seq) log?.toBottom();
}

function precedes(a, b) {
  // Document order of two placed messages.
  return Boolean(a.el.compareDocumentPosition(b.el) & Node.DOCUMENT_POSITION_FOLLOWING);
}

function addMessage(m) {
  const existing = state.messages.get(m.key);
  if (existing) {
    if (m.seq && !existing.seq) {
      existing.seq = m.seq;
      existing.failed = false;
      if (m.sent_at) existing.sent_at = m.sent_at;
      renderMessage(existing);
      place(existing);
    }
    return existing;
  }
  state.messages.set(m.key, m);
  buildMessage(m);
  place(m);
  return m;
}

function onIncomingMessage(msg) {
  if (msg.from === 'visitor') {
    const key = msg.client_id || `s${msg.seq}`;
    addMessage({ key, client_id: msg.client_id, seq: msg.seq, from: 'visitor', text: msg.text, sent_at: msg.sent_at });
    dropFromOutbox(msg.client_id);
  } else {
    const fresh = !state.messages.has(`s${msg.seq}`) && msg.seq > state.seq.contiguous;
    addMessage({ key: `s${msg.seq}`, seq: msg.seq, from: msg.from, name: msg.name, text: msg.text, sent_at: msg.sent_at });
    setCounsellorTyping(false);
    if (fresh) attention?.notify();
    // Reading further up (or the handoff card): say that something new is below instead of jumping.
    if (fresh && !log?.isPinned()) $('jump-new').hidden = false;
  }
  state.seq.add(msg.seq);
  persist();
  scheduleAck();
}

function scheduleAck() {
  clearTimeout(ackTimer);
  ackTimer = setTimeout(() => {
    const upTo = state.seq.contiguous;
    if (upTo > state.lastAcked && state.bound && conn?.send({ type: 'ack', seq: upTo })) {
      state.lastAcked = upTo;
    }
  }, 50);
}

function dropFromOutbox(clientId) {
  if (!clientId) return;
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((o) => o.client_id !== clientId);
  if (state.inflight === clientId) {
    state.inflight = null;
    clearTimeout(watchdog);
  }
  if (state.outbox.length !== before) persist();
}

// -------------------------------------------------------------- sending

/** Remove what the server refuses anyway: control characters other than tab and line breaks. */
function clean(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g, '');
}

function charCount(text) {
  return [...text].length;
}

function updateComposerCount() {
  const n = charCount($('composer-text').value);
  const el = $('composer-count');
  el.textContent = t('composer.count', { count: n, max: state.maxChars });
  el.classList.toggle('over', n > state.maxChars);
  // On a phone the count shows only from 80 % of the limit (visitor.css).
  el.classList.toggle('near', n >= state.maxChars * 0.8);
}

function submitComposer(ev) {
  ev?.preventDefault();
  const box = $('composer-text');
  const text = clean(box.value);
  if (!text.trim()) {
    box.focus();
    return;
  }
  if (charCount(text) > state.maxChars) {
    notice('error.text_too_long', { max: state.maxChars });
    box.focus();
    return;
  }
  if (noticeSpec?.key === 'error.text_too_long') notice(null);
  const clientId = newClientId();
  state.outbox.push({ client_id: clientId, text });
  box.value = '';
  fitComposer();
  updateComposerCount();
  persist();
  addMessage({ key: clientId, client_id: clientId, from: 'visitor', text, sent_at: Date.now() });
  stopTyping();
  pump();
  box.focus();
}

/** Send the oldest unconfirmed message; one at a time, so order is kept whatever happens. */
function pump() {
  if (!state.bound || state.inflight || !conn) return;
  const head = state.outbox[0];
  if (!head) return;
  if (conn.send({ type: 'send', client_id: head.client_id, text: head.text })) {
    state.inflight = head.client_id;
    clearTimeout(watchdog);
    // No answer for a while on an open socket: send again (the server keeps one copy).
    watchdog = setTimeout(() => {
      if (state.inflight === head.client_id) {
        state.inflight = null;
        pump();
      }
    }, 8000);
  }
  const m = state.messages.get(head.client_id);
  if (m) renderStatus(m);
}

function retryInflightAfter(ms) {
  clearTimeout(watchdog);
  state.inflight = null;
  setTimeout(pump, Math.max(200, ms || 1000));
}

function editFailed(m) {
  const box = $('composer-text');
  box.value = box.value ? `${box.value}\n${m.text}` : m.text;
  fitComposer();
  m.el.remove();
  state.messages.delete(m.key);
  updateComposerCount();
  persist();
  box.focus();
}

function onComposerInput() {
  updateComposerCount();
  clearTimeout(draftTimer);
  draftTimer = setTimeout(persist, 300);
  if (state.phase !== 'active') return;
  const now = Date.now();
  if (!typingActive || now - typingSentAt > 3000) {
    if (conn?.send({ type: 'typing', active: true })) {
      typingActive = true;
      typingSentAt = now;
    }
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 4000);
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingActive && state.phase === 'active') conn?.send({ type: 'typing', active: false });
  typingActive = false;
}

function setCounsellorTyping(active) {
  const el = $('typing');
  clearTimeout(counsellorTypingTimer);
  el.textContent = active ? t('typing.counsellor') : '';
  el.hidden = !active;
  if (active) counsellorTypingTimer = setTimeout(() => setCounsellorTyping(false), 8000);
}

// --------------------------------------------------------- connection

function connect() {
  if (conn) conn.stop();
  conn = new Connection('/ws/visitor', {
    onopen: () => {
      state.bound = false;
      state.inflight = null;
      if (state.conversationId) {
        conn.send({
          type: 'resume',
          conversation_id: state.conversationId,
          token: state.token,
          last_seq: state.seq.contiguous,
        });
      } else if (state.pendingStart) {
        // The page's language, so the counsellor sees which one to answer in.
        conn.send({ type: 'start', ...state.pendingStart, lang: lang() });
      }
    },
    onmessage: onServerMessage,
    onstate: (s) => {
      if (s !== 'open') state.bound = false;
      renderConnection(s);
      if (s === 'offline' && !state.conversationId && state.pendingStart) startFailed({ key: 'error.network' });
    },
    onfail: (code) => {
      if (state.conversationId || !state.pendingStart) return;
      // The connection dropped after `start` and before its `welcome`: the
      // start may have made the conversation already. The socket comes
      // back and sends the same start with the same key, which takes that
      // conversation up (or makes it, if the start never arrived). Only
      // after a few attempts in vain say so; the visitor can press again
      // (the form keeps what they wrote, and the key is kept too).
      if (RECONNECT_CODES.has(code) && conn && conn.attempts < START_ATTEMPTS) return;
      startFailed({ key: 'error.network' });
    },
  });
  conn.start();
}

function onServerMessage(msg) {
  switch (msg.type) {
    case 'welcome':
      return onWelcome(msg);
    case 'requeued':
      return onRequeued();
    case 'queue':
      state.place = msg;
      // Positions come only while waiting: one during a chat also means the
      // visitor is back in the queue (as PROTOCOL.md says of `queue`).
      if (state.phase === 'active') return onRequeued();
      return renderQueue();
    case 'matched': {
      if (noticeSpec?.key === 'wait.requeued') notice(null);
      // Already talking with someone else: a colleague or a supervisor took the conversation over.
      const handedOn = state.phase === 'active' && state.counsellor !== msg.counsellor;
      state.counsellor = msg.counsellor;
      if (state.second === msg.counsellor) state.second = null;
      setPhase('active');
      if (handedOn && msg.counsellor) systemLine('chat.taken_over', { name: msg.counsellor });
      else if (msg.counsellor) {
        // Said aloud in full; on screen a short line, as a messenger shows someone joining.
        systemLine('chat.matched.line', { name: msg.counsellor });
        announce(t('chat.matched', { name: msg.counsellor }));
        greetingLine();
      } else announce(t('chat.matched', { name: msg.counsellor }));
      attention?.notify();
      return undefined;
    }
    case 'counsellor_joined':
      state.second = msg.name || null;
      renderPhase();
      systemLine('chat.joined', { name: msg.name || t('msg.counsellor') });
      attention?.notify();
      return undefined;
    case 'counsellor_left':
      if (state.second === msg.name) state.second = null;
      renderPhase();
      systemLine('chat.left', { name: msg.name || t('msg.counsellor') });
      return undefined;
    case 'observed':
      systemLine(msg.active ? 'chat.observed.on' : 'chat.observed.off');
      return undefined;
    case 'closing':
      state.closing = { closes_at: msg.closes_at || null, next_opening: msg.next_opening || null };
      renderClosing();
      return undefined;
    case 'message':
      return onIncomingMessage(msg);
    case 'sent': {
      const m = state.messages.get(msg.client_id);
      if (m) addMessage({ key: msg.client_id, seq: msg.seq });
      state.seq.add(msg.seq);
      dropFromOutbox(msg.client_id);
      persist();
      if (m) renderStatus(m);
      return pump();
    }
    case 'delivered':
      state.deliveredSeq = Math.max(state.deliveredSeq, msg.seq);
      for (const m of state.messages.values()) renderStatus(m);
      return undefined;
    case 'typing':
      return setCounsellorTyping(Boolean(msg.active));
    case 'ended':
      state.endedBy = msg.by;
      // Someone who switched to another app learns that the counsellor closed the chat.
      if (msg.by !== 'visitor') attention?.notify();
      return onEnded();
    case 'handoff':
      onHandoff(msg.handoff);
      return attention?.notify();
    case 'erased':
      return forgetHere('erase.done');
    case 'safety_info':
      return onSafetyInfo(msg);
    case 'left_quickly':
      // The page is normally gone before this arrives.
      return undefined;
    case 'way_back_code':
      return onWayBackCode(msg);
    case 'relay_changed':
      return refreshRelays();
    case 'error':
      return onError(msg);
    default:
      return undefined;
  }
}

function onWelcome(msg) {
  const fresh = Boolean(msg.resume_token);
  if (fresh) {
    state.conversationId = msg.conversation_id;
    state.token = msg.resume_token;
    state.seq.reset(msg.last_seq);
    const first = state.pendingStart?.first_message;
    if (first && msg.last_seq >= 1) {
      addMessage({ key: '~first', client_id: '~first', seq: 1, from: 'visitor', text: first, sent_at: Date.now() });
    }
    state.pendingStart = null;
    state.startKey = null;
    $('start-form').reset();
  }
  if (msg.max_text_chars) state.maxChars = msg.max_text_chars;
  state.lastSeqAtWelcome = Math.max(state.lastSeqAtWelcome || 0, msg.last_seq || 0);
  state.deliveredSeq = Math.max(state.deliveredSeq, msg.delivered_seq || 0);
  if (msg.counsellor) state.counsellor = msg.counsellor;
  state.bound = true;
  persist();
  // Issue 23: relay sheets of a conversation taken up again (none yet in a new one).
  if (!fresh) refreshRelays();
  const wasHidden = $('screen-chat').hidden;
  setPhase(msg.state);
  showChat({ focus: wasHidden });
  updateComposerCount();
  for (const m of state.messages.values()) renderStatus(m);
  if (msg.state === 'ended') {
    onEnded();
    // The socket closes now, before the `handoff` frame that follows the welcome: ask for it.
    refreshHandoff();
    return;
  }
  pump();
  scheduleAck();
}

/** Focus is nowhere useful: on the body, or on an element that has just been hidden. */
function focusLost() {
  const el = document.activeElement;
  return !el || el === document.body || Boolean(el.closest('[hidden]')) || el.getClientRects().length === 0;
}

/** The counsellor was away past the grace period: first in line again, nothing lost. */
function onRequeued() {
  if (state.phase !== 'active') return;
  state.counsellor = null;
  state.second = null;
  setCounsellorTyping(false);
  setPhase('queued');
  notice('wait.requeued');
}

function onEnded() {
  const focusWasInComposer = $('composer').contains(document.activeElement);
  setPhase('ended');
  state.outbox = [];
  state.inflight = null;
  for (const m of state.messages.values()) {
    if (m.from === 'visitor' && !m.seq && !m.failed) {
      m.failed = true;
      m.error = t('error.conversation_ended');
      renderStatus(m);
    }
  }
  persist();
  // Nothing more can happen in an ended conversation: close the socket.
  conn?.stop();
  renderConnection('idle');
  if (focusWasInComposer || focusLost()) $('chat-heading').focus();
}

function onError(err) {
  if (err.client_id) {
    const m = state.messages.get(err.client_id);
    if (err.code === 'rate_limited' || err.code === 'unavailable') {
      retryInflightAfter(err.retry_after_ms);
      return;
    }
    dropFromOutbox(err.client_id);
    if (m && !m.seq) {
      m.failed = true;
      m.error = errorText(err, { max: state.maxChars });
      renderStatus(m);
    }
    // Said once, calmly, where it is read aloud too: the messages sent
    // are safe and waiting to be read.
    if (err.code === 'waiting_budget_spent') notice('error.waiting_budget_spent');
    if (err.code === 'conversation_ended' && state.phase !== 'ended') onEnded();
    pump();
    return;
  }
  if (!state.bound) {
    // The answer to `start` or `resume`.
    if (!state.conversationId && state.pendingStart?.return_code
        && (err.code === 'resume_failed' || err.code === 'return_code_locked')) {
      // Issue 22: the code led nowhere; nothing was started. Said by the field.
      startFailed(err.code === 'resume_failed' ? { key: 'return.start.failed' } : { err });
      returnStartFailed();
      return;
    }
    if (err.code === 'resume_failed') {
      resetConversation();
      showWelcome({ focus: true });
      notice('error.resume_failed');
      return;
    }
    if (!state.conversationId && err.code === 'closed') {
      // Closed since the page loaded: the closed screen, with what the answer said, then the full facts.
      startFailed(null);
      state.hours = { ...(state.hours || {}), status: 'closed', accepting: false, next_opening: err.next_opening };
      renderClosed();
      $('closed-heading').focus();
      loadInfo().then(() => {
        // The facts say open again (a closure just ended): the form, with what `start` answered.
        if (!isClosed()) showStartError({ err });
      });
      return;
    }
    if (!state.conversationId) {
      if (err.code === 'queue_full') state.lettersBusy = true;
      startFailed({ err });
      return;
    }
    if (err.code === 'rate_limited' || err.code === 'unavailable') {
      setTimeout(() => conn?.retry(), Math.max(500, err.retry_after_ms || 2000));
      conn?.dropSocket();
    }
    return;
  }
  if (err.code === 'rate_limited' && state.inflight) retryInflightAfter(err.retry_after_ms);
}

// ------------------------------------------------------------ actions

function startChat(ev) {
  ev.preventDefault();
  if (state.pendingStart) return;
  const preChat = {};
  for (const [field, id] of [['who', 'pc-who'], ['age_band', 'pc-age'], ['gender', 'pc-gender'], ['topic', 'pc-topic']]) {
    const v = $(id).value;
    if (v) preChat[field] = v;
  }
  const first = clean($('pc-first').value);
  if (charCount(first) > state.maxChars) {
    showStartError({ key: 'error.text_too_long', vars: { max: state.maxChars } });
    return;
  }
  // A press after a start that failed on the network is the same start
  // again: the same key (the server ignores the form's new answers if
  // that start had made its conversation, which is still waiting).
  if (!state.startKey) state.startKey = newClientId();
  state.pendingStart = { pre_chat: preChat, idempotency_key: state.startKey };
  if (first.trim()) state.pendingStart.first_message = first;
  const returnCode = returnCodeToStart();
  if (returnCode) state.pendingStart.return_code = returnCode;
  showStartError(null);
  notice(null);
  $('start-button').disabled = true;
  $('start-button').textContent = t('welcome.starting');
  connect();
}

function showStartError(spec) {
  startErrorSpec = spec;
  const e = $('start-error');
  e.textContent = specText(spec);
  e.hidden = !spec;
}

function startFailed(spec) {
  state.pendingStart = null;
  // A refusal made nothing: the next press is a new start. A network
  // failure may have made the conversation: the next press reuses the key.
  if (spec?.key !== 'error.network') state.startKey = null;
  conn?.stop();
  conn = null;
  showWelcome();
  showStartError(spec);
}

function resetConversation() {
  conn?.stop();
  conn = null;
  forgetSession();
  clearTimeout(watchdog);
  Object.assign(state, {
    phase: null,
    conversationId: null,
    token: null,
    counsellor: null,
    endedBy: null,
    place: null,
    deliveredSeq: 0,
    lastAcked: 0,
    outbox: [],
    inflight: null,
    bound: false,
    pendingStart: null,
    startKey: null,
    closing: null,
    second: null,
    safety: null,
    safetyCollapsed: false,
    systemLines: [],
  });
  state.seq.reset(0);
  state.messages.clear();
  state.lastSeqAtWelcome = 0;
  parkCard();
  $('jump-new').hidden = true;
  $('messages').replaceChildren();
  $('composer-text').value = '';
  fitComposer();
  setCounsellorTyping(false);
  hideConfirm();
  resetHandoff();
  resetRelays();
  renderSafety();
}

function askConfirm(textKey, yesKey, action) {
  $('confirm-text').textContent = t(textKey);
  $('confirm-yes').textContent = t(yesKey);
  state.confirmAction = { textKey, yesKey, action };
  $('confirm').hidden = false;
  $('confirm-no').focus();
}

function hideConfirm() {
  state.confirmAction = null;
  $('confirm').hidden = true;
}

function endConversation() {
  if (state.phase === 'queued' || state.phase === 'active') {
    if (conn?.send({ type: 'end' })) return true;
  }
  return false;
}

/** How long to wait for the server's `erased` before clearing the device anyway. */
const ERASE_WAIT_MS = 5000;
let eraseTimer = null;

/**
 * Erase the conversation on the server (for everyone: the transcript is
 * deleted at once), then from this device. Without a connection, or if
 * the server does not answer in time, only the device is cleared, and
 * the notice says so.
 */
function eraseChat() {
  if (conn?.send({ type: 'erase' })) {
    clearTimeout(eraseTimer);
    eraseTimer = setTimeout(() => forgetHere('erase.device_only'), ERASE_WAIT_MS);
    return;
  }
  forgetHere('erase.device_only');
}

function forgetHere(said) {
  clearTimeout(eraseTimer);
  eraseTimer = null;
  resetConversation();
  showWelcome({ focus: true });
  notice(said);
}

// --------------------------------------------------------------- start

function initMessenger() {
  log = stickToBottom($('messages'), { onPinned: () => ($('jump-new').hidden = true) });
  $('jump-new').addEventListener('click', () => {
    log.toBottom();
    $('composer-text').focus();
  });
  attention = new Attention({ title: () => t('app.name') });
  attention.paint();
  fitComposer = autoGrow($('composer-text'));
  bindTextSize($('settings'), () => log.toBottom());
  const toggle = $('alerts-toggle');
  toggle.checked = attention.alerts;
  toggle.addEventListener('change', async () => {
    const result = await attention.setAlerts(toggle.checked);
    alertsState = result;
    renderAlertsState();
  });
  // The handoff card goes into the log when it opens (handoff.js only shows and hides it).
  new MutationObserver(placeCard).observe($('handoff'), { attributes: true, attributeFilter: ['hidden'] });
}

/** What the alerts toggle last said: 'on', 'sound_only', 'off' (kept as a key for a language change). */
let alertsState = null;

function renderAlertsState() {
  $('alerts-state').textContent = alertsState ? t(`settings.alerts.${alertsState}`) : '';
}

function init() {
  applyI18n();
  initMessenger();
  fillPrechat();
  bindLangSwitch($('lang-switch'));
  onLangChange(() => {
    fillPrechat();
    renderAlertsState();
    renderInfo();
    renderClosed();
    renderPhase();
    renderSystemLines();
    renderSafety();
    renderConnection(conn ? conn.state : 'idle');
    for (const m of state.messages.values()) renderMessage(m);
    if (state.confirmAction) {
      $('confirm-text').textContent = t(state.confirmAction.textKey);
      $('confirm-yes').textContent = t(state.confirmAction.yesKey);
    }
    if ($('start-button').disabled) $('start-button').textContent = t('welcome.starting');
    renderNotice();
    showStartError(startErrorSpec);
    renderHandoff();
  });

  initHandoff({
    auth: () => (state.conversationId ? { conversation_id: state.conversationId, token: state.token } : null),
    announce,
  });
  $('quick-exit').addEventListener('click', leaveNow);
  bindQuickExitKeys();
  initWayBack({
    request: () => conn?.send({ type: 'way_back_code' }),
    redeemed: takeUpWithWayBack,
  });
  initRelays({
    auth: () => (state.conversationId ? { conversation_id: state.conversationId, token: state.token } : null),
    announce,
    showTop: (el) => log?.showTop(el),
  });
  initReturnCode({
    conversation: () => (state.conversationId ? { conversation_id: state.conversationId, token: state.token } : null),
    caseErased: () => forgetHere('case.erased.notice'),
  });
  $('safety-collapse').addEventListener('click', () => setSafetyCollapsed(true));
  $('safety-expand').addEventListener('click', () => setSafetyCollapsed(false));
  $('closed-check').addEventListener('click', checkHoursAgain);
  initLetters({
    // An urgent letter: the page's safety panel at once, as for `safety_info` in a chat.
    safety: (services) => onSafetyInfo({ services }),
    alternativeItem,
  });
  $('start-form').addEventListener('submit', startChat);
  $('composer').addEventListener('submit', submitComposer);
  $('composer-text').addEventListener('input', onComposerInput);
  $('composer-text').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) submitComposer(ev);
  });
  $('conn-retry').addEventListener('click', () => conn?.retry());
  $('end-chat').addEventListener('click', () =>
    state.phase === 'queued'
      ? askConfirm('confirm.leave', 'confirm.leave.yes', () => endConversation())
      : askConfirm('confirm.end', 'confirm.end.yes', () => endConversation()),
  );
  $('erase').addEventListener('click', () =>
    askConfirm('confirm.erase', 'confirm.erase.yes', eraseChat),
  );
  $('confirm-yes').addEventListener('click', () => {
    const action = state.confirmAction?.action;
    // Hiding the focused button would drop focus to the page: put it on the heading first.
    $('chat-heading').focus();
    hideConfirm();
    action?.();
  });
  $('confirm-no').addEventListener('click', () => {
    $('chat-heading').focus();
    hideConfirm();
  });
  $('new-chat').addEventListener('click', () => {
    resetConversation();
    showWelcome({ focus: true });
    loadInfo();
  });

  loadInfo();

  const saved = readSession();
  if (saved?.conversation_id && saved.token) {
    // A reload or a return to this tab: take the conversation up again.
    // The page starts empty, so ask for the whole history (last_seq 0);
    // the messages not yet confirmed are sent again with the same ids.
    state.conversationId = saved.conversation_id;
    state.token = saved.token;
    state.outbox = Array.isArray(saved.outbox) ? saved.outbox : [];
    state.safetyCollapsed = Boolean(saved.safety_collapsed);
    $('composer-text').value = saved.draft || '';
    fitComposer();
    for (const o of state.outbox) {
      addMessage({ key: o.client_id, client_id: o.client_id, from: 'visitor', text: o.text });
    }
    state.phase = null;
    renderPhase();
    showChat();
    connect();
  } else {
    showWelcome();
  }
  updateComposerCount();
}

// ---- issue 19 (exit): the quick exit that protects, and the safety panel

/**
 * The quick exit: tell the server first (the conversation is marked "left
 * quickly", not ended, and waits for a return within the grace period),
 * then leave at once without waiting for an answer. It goes as a beacon,
 * which the browser delivers after the page is gone; a frame on the socket
 * could be lost when the navigation closes the socket before the server
 * reads it, so the frame is only the fallback where no beacon can be sent.
 */
function leaveNow() {
  quickExit(state.info?.site, () => {
    if (state.phase !== 'queued' && state.phase !== 'active') return;
    const body = JSON.stringify({ conversation_id: state.conversationId, token: state.token });
    const sent = state.conversationId && navigator.sendBeacon?.('/api/visitor/leave-quickly', body);
    if (!sent) conn?.send({ type: 'leave_quickly' });
  });
}

/** How close together the presses of the shortcut must be. */
const SHORTCUT_WINDOW_MS = 1000;

/**
 * The quick exit from the keyboard (GOV.UK's pattern): Shift pressed three
 * times, or Escape twice, within a second, with no other key between. An
 * Escape that cancels an input method's conversion does not count.
 */
function bindQuickExitKeys() {
  let key = null;
  let times = [];
  document.addEventListener(
    'keydown',
    (ev) => {
      if (ev.repeat) return;
      if (ev.isComposing || ev.keyCode === 229) {
        key = null;
        times = [];
        return;
      }
      if (ev.key !== 'Shift' && ev.key !== 'Escape') {
        key = null;
        times = [];
        return;
      }
      const now = performance.now();
      if (ev.key !== key) times = [];
      key = ev.key;
      times = times.filter((at) => now - at < SHORTCUT_WINDOW_MS);
      times.push(now);
      if (times.length >= (key === 'Shift' ? 3 : 2)) {
        ev.preventDefault();
        times = [];
        leaveNow();
      }
    },
    true,
  );
}

// ---- issue 19 (return): the way back after a quick exit

/**
 * A way-back code was redeemed on the welcome page: take that conversation
 * up with its new resume token, as after a reload (`resume`, whole history).
 */
function takeUpWithWayBack({ conversation_id, token }) {
  resetConversation();
  state.conversationId = conversation_id;
  state.token = token;
  persist();
  renderPhase();
  showChat({ focus: true });
  connect();
}

function onSafetyInfo(msg) {
  const first = !state.safety;
  state.safety = Array.isArray(msg.services) ? msg.services : [];
  renderSafety();
  if (first) announce(t('safety.heading'));
}

function setSafetyCollapsed(collapsed) {
  state.safetyCollapsed = collapsed;
  persist();
  renderSafety();
  (collapsed ? $('safety-expand') : $('safety-collapse')).focus();
}

/** The safety panel: the emergency numbers and the other lines, or its compact line. */
function renderSafety() {
  const panel = $('safety');
  panel.hidden = !state.safety;
  if (!state.safety) return;
  const services = state.safety;
  $('safety-emergency').replaceChildren(...services.filter((a) => a.emergency).map(alternativeItem));
  $('safety-lines').replaceChildren(...services.filter((a) => !a.emergency).map(alternativeItem));
  $('safety-full').hidden = state.safetyCollapsed;
  $('safety-expand').hidden = !state.safetyCollapsed;
  $('safety-expand').setAttribute('aria-expanded', String(!state.safetyCollapsed));
  panel.classList.toggle('collapsed', state.safetyCollapsed);
}

init();
