// The counsellor console: log in, availability and capacity, the live
// queue, the conversations assigned to this counsellor (messages, private
// notes, end with an outcome), and reconnection that keeps all of it.
//
// Kept in this tab (sessionStorage): the messages written but not yet
// confirmed, so a reload sends them again with the same ids, and the ids
// of conversations already announced (never their text). The session
// itself is an HttpOnly cookie the page never sees.

import {
  t,
  applyI18n,
  bindLangSwitch,
  onLangChange,
  fillSelect,
  formatTime,
  errorText,
  formatJapanRange,
  consentScope,
  OUTCOMES,
  WITHDRAWAL_BANDS,
  SEVERITIES,
} from '../i18n.js';
import { h, newClientId, SeqTracker, Connection, beep, unlockAudioOnGesture } from '../common.js';
import { hideSecondFactor, secondFactorStatus, showCodeStep, showEnrolment } from '../second-factor.js';
import { cannedPicker, loadCannedLibrary, clearCannedLibrary } from './canned.js';
import { loadCase } from './case.js';
import { startLetters, stopLetters, closeLetter, letterOpen } from './letters.js';
import { referBox } from './refer.js';
import { hearingSheet } from './hearing.js';
import { relaySheet } from './relay.js';

const OUTBOX_KEY = 'tsunagu.console.outbox';
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  status: 'away',
  capacity: 2,
  active: 0,
  matching: 'auto',
  maxChars: 2000,
  queue: { queue_length: 0, entries: [] },
  /** conversation_id -> conversation (see newConversation). */
  conversations: new Map(),
  selected: null,
  bound: false,
  /** Outboxes restored from this tab after a reload, until `welcome` says which conversations exist. */
  restoredOutbox: {},
  /** From welcome.counsellor. */
  myId: null,
  role: null,
  /** `colleagues`: whom a conversation can be handed on to. */
  colleagues: [],
  /** Supervisors: the last `floor` view, and the alerts not yet acknowledged (alert_id -> alert). */
  floor: null,
  alerts: new Map(),
  /** Supervisors: empty-floor episodes not yet acknowledged (alert_id -> episode). */
  floorAlerts: new Map(),
};

const RISK_LEVELS = ['none', 'watch', 'urgent'];

let conn = null;

// -------------------------------------------------------------- helpers

function shortId(id) {
  return id.replace(/-/g, '').slice(-4);
}

function labelOf(c) {
  // A LINE visitor is shown by pseudonym, never by anything from LINE.
  if (c.channel === 'line' && c.visitorName) return t('conv.label.line', { name: c.visitorName });
  return t('conv.label', { short: shortId(c.id) });
}

function preChatText(pc, withEmpty = true) {
  const parts = [];
  if (pc?.who) parts.push(t(`who.${pc.who}`));
  if (pc?.age_band) parts.push(t(`age_band.${pc.age_band}`));
  if (pc?.topic) parts.push(t(`topic.${pc.topic}`));
  if (!parts.length) return withEmpty ? t('queue.no_prechat') : '';
  return parts.join(' · ');
}

/** A risk badge: words, not colour only ("⚠ 緊急" / "要注意"); nothing for `none`. */
function riskBadge(level) {
  if (level !== 'watch' && level !== 'urgent') return null;
  return h('span', { class: `badge risk-${level}`, 'data-risk': level, text: t(`risk.badge.${level}`) });
}

function staffName(id) {
  if (id && id === state.myId) return state.me?.display_name || '';
  const known = state.colleagues.find((x) => x.id === id) || state.floor?.counsellors?.find((x) => x.id === id);
  return known?.display_name || '';
}

function reasonText(r) {
  if (r.source === 'triage') {
    const key = `category.${r.category}`;
    const category = t(key) === key ? r.category || r.rule || '' : t(key);
    return t('risk.reason.triage', { category });
  }
  return t('risk.reason.staff', { by: staffName(r.by) || t('msg.counsellor') });
}

function minutesText(secs) {
  const minutes = Math.floor(Math.max(0, secs) / 60);
  return minutes < 1 ? t('floor.seconds') : t('floor.minutes', { minutes });
}

function charCount(text) {
  return [...text].length;
}

function clean(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g, '');
}

function persistOutbox() {
  const all = {};
  for (const c of state.conversations.values()) if (c.outbox.length) all[c.id] = c.outbox;
  try {
    if (Object.keys(all).length) sessionStorage.setItem(OUTBOX_KEY, JSON.stringify(all));
    else sessionStorage.removeItem(OUTBOX_KEY);
  } catch {
    // not kept across a reload; still kept across reconnects
  }
}

function readOutbox() {
  try {
    return JSON.parse(sessionStorage.getItem(OUTBOX_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

function showError(text) {
  const e = $('global-error');
  e.textContent = text;
  e.hidden = !text;
}

/**
 * A notice: a key and the conversation it names, rendered now and again
 * when the language changes (the label is "相談 #1a2b" or "Chat #1a2b").
 */
function addNotice(key, conversationId, { alert = false, vars = {} } = {}) {
  // One banner at a time: the latest, with "ほか2件" to show the ones it
  // covers. The box is aria-live, so each new one is still read out.
  if (!state.notices) state.notices = [];
  state.notices.push({ key, conversationId, alert, vars });
  if (state.notices.length > 10) state.notices.shift();
  state.noticesOpen = false;
  renderNotices();
  clearTimeout(state.noticeTimer);
  state.noticeTimer = setTimeout(clearNotices, 30_000);
}

function clearNotices() {
  clearTimeout(state.noticeTimer);
  state.notices = [];
  state.noticesOpen = false;
  renderNotices();
}

function noticeText(n) {
  return t(n.key, { ...n.vars, label: t('conv.label', { short: shortId(n.conversationId) }) });
}

function renderNotices() {
  const box = $('notices');
  const items = state.notices || [];
  if (!items.length) {
    box.replaceChildren();
    return;
  }
  const latest = items[items.length - 1];
  const earlier = items.slice(0, -1).reverse();
  const historyId = 'notice-history';
  const more = earlier.length
    ? h('button', {
        type: 'button',
        class: 'button-quiet notice-more',
        'aria-expanded': String(Boolean(state.noticesOpen)),
        'aria-controls': historyId,
        text: t('notice.more', { count: earlier.length }),
        onclick: () => {
          state.noticesOpen = !state.noticesOpen;
          renderNotices();
          $('notices').querySelector('.notice-more')?.focus();
        },
      })
    : null;
  const dismiss = h('button', { type: 'button', class: 'button-quiet notice-dismiss', text: t('notice.dismiss'), onclick: clearNotices });
  const history = earlier.length
    ? h('ul', { id: historyId, class: 'notice-history', hidden: !state.noticesOpen }, ...earlier.map((n) => h('li', { text: noticeText(n) })))
    : null;
  box.replaceChildren(
    h(
      'div',
      { class: latest.alert ? 'notice notice-alert' : 'notice', 'data-others': String(earlier.length) },
      h('span', { class: 'notice-text', text: noticeText(latest) }),
      more,
      dismiss,
    ),
    // (replaceChildren would print a null as the text "null")
    ...(history ? [history] : []),
  );
}

function updateTitle() {
  let unread = 0;
  for (const c of state.conversations.values()) unread += c.unread;
  document.title = (unread ? `(${unread}) ` : '') + t('console.title');
}

// ---------------------------------------------------------------- login

async function checkSession() {
  try {
    const r = await fetch('/api/me', { credentials: 'same-origin' });
    if (r.status === 401) return null;
    if (!r.ok) throw new Error(String(r.status));
    return await r.json();
  } catch {
    return undefined; // unknown: network
  }
}

/** What the login form says is wrong: a string key, or an error body; null for nothing. */
let loginProblem = null;

function renderLoginError() {
  const err = $('login-error');
  const p = loginProblem;
  err.textContent = !p ? '' : typeof p === 'string' ? t(p) : errorText(p);
  err.hidden = !p;
}

/** Admin and intake accounts work on their own pages: say which, with a link. */
function renderOtherPage() {
  const page = { admin: ['/admin/', 'admin.open'], intake: ['/intake/', 'intake.open'] }[state.me?.role];
  $('login-other').hidden = !page || $('login').hidden;
  if (!page) return;
  $('login-other-link').href = page[0];
  $('login-other-link').textContent = t(page[1]);
}

function showLogin(problem) {
  $('login-other').hidden = true;
  hideSecondFactor();
  $('sf-open').hidden = true;
  stopConnection();
  stopLetters();
  $('workspace').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = !state.me;
  $('me').hidden = true;
  loginProblem = problem || null;
  renderLoginError();
  $('login-submit').disabled = false;
  $('login-heading').focus();
}

async function login(ev) {
  ev.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  loginProblem = null;
  renderLoginError();
  $('login-submit').disabled = true;
  try {
    const r = await fetch('/api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await r.json().catch(() => ({}));
    if (r.status === 202) {
      // A second factor: the code next; the session cookie only after it.
      $('login-password').value = '';
      $('login-submit').disabled = false;
      $('login').hidden = true;
      showCodeStep(body, { onDone: enter, onBack: (p) => showLogin(p) });
      return;
    }
    if (!r.ok) {
      loginProblem = body.code === 'login_failed' ? 'login.failed' : body.code ? body : 'error.network';
      renderLoginError();
      $('login-submit').disabled = false;
      $('login-password').focus();
      return;
    }
    $('login-password').value = '';
    enter(body);
  } catch {
    loginProblem = 'error.network';
    renderLoginError();
    $('login-submit').disabled = false;
  }
}

async function logout() {
  stopConnection();
  try {
    await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' });
  } catch {
    // the cookie expires on its own
  }
  state.me = null;
  clearCannedLibrary();
  clearWorkspace();
  try {
    sessionStorage.removeItem(OUTBOX_KEY);
  } catch {
    // nothing kept
  }
  $('logout').hidden = true;
  showLogin(null);
}

function enter(me) {
  state.me = me;
  $('me').textContent = me.display_name;
  $('me').hidden = false;
  $('logout').hidden = false;
  if (me.role !== 'counsellor' && me.role !== 'supervisor') {
    showLogin('login.role');
    renderOtherPage();
    return;
  }
  $('login').hidden = true;
  // A role that must use a second factor: nothing else until it is set up
  // (the server refuses the socket with second_factor_required anyway).
  secondFactorStatus().then((sf) => {
    if (state.me !== me) return;
    if (sf?.required && !sf.enrolled) {
      $('workspace').hidden = true;
      showEnrolment({ required: true, onDone: () => enter(me) });
      return;
    }
    $('sf-open').hidden = false;
    $('workspace').hidden = false;
    connect();
    startLetters({ onReader: onLetterReader });
  });
}

/** The top bar's "second factor": set it up, or say it is. */
async function openSecondFactor() {
  const sf = await secondFactorStatus();
  if (!sf) return;
  const back = () => {
    $('workspace').hidden = false;
    $('sf-open').focus();
  };
  $('workspace').hidden = true;
  showEnrolment({ required: false, enrolled: sf.enrolled, onDone: back, onLater: back });
}

// ------------------------------------------------------------ connection

function connect() {
  stopConnection();
  state.restoredOutbox = readOutbox();
  conn = new Connection('/ws/counsellor', {
    onopen: () => {
      state.bound = false;
      const lastSeq = {};
      for (const c of state.conversations.values()) {
        c.inflight = null;
        lastSeq[c.id] = c.seq.contiguous;
      }
      conn.send({ type: 'hello', last_seq: lastSeq });
    },
    onmessage: onServerMessage,
    onstate: (s) => {
      if (s !== 'open') state.bound = false;
      renderConnection(s);
    },
    onfail: async (code, reason) => {
      // A refused upgrade looks like any dropped socket: ask whether the session is still good.
      const me = await checkSession();
      // An admin's change (issue 21) says what happened, not "expired".
      if (me === null) showLogin(reason === 'account_deactivated' ? 'login.deactivated' : reason === 'role_changed' ? 'login.role_changed' : 'login.expired');
    },
  });
  conn.start();
}

function stopConnection() {
  if (conn) conn.stop();
  conn = null;
  state.bound = false;
}

let wasDown = false;
function renderConnection(s) {
  const text = $('conn-text');
  $('conn-retry').hidden = s !== 'closed';
  $('conn-status').dataset.state = s;
  if (s === 'open') {
    text.textContent = wasDown ? t('conn.back') : '';
    wasDown = false;
  } else if (s === 'connecting') text.textContent = t('conn.connecting');
  else if (s === 'reconnecting') text.textContent = t('conn.reconnecting');
  else if (s === 'offline') text.textContent = t('conn.offline');
  else if (s === 'closed') text.textContent = t('conn.closed');
  else text.textContent = '';
  if (s === 'reconnecting' || s === 'offline' || s === 'closed') wasDown = true;
  for (const c of state.conversations.values()) for (const m of c.messages.values()) renderMsgStatus(c, m);
}

function onServerMessage(msg) {
  const c = msg.conversation_id ? state.conversations.get(msg.conversation_id) : null;
  switch (msg.type) {
    case 'welcome':
      return onWelcome(msg);
    case 'status':
      state.status = msg.status;
      state.activity = msg.activity || null;
      state.capacity = msg.capacity;
      state.active = msg.active;
      return renderControls();
    case 'queue':
      state.queue = { queue_length: msg.queue_length, entries: msg.entries || [] };
      return renderQueue();
    case 'assigned': {
      const conv = upsertConversation(msg.conversation);
      if (!wasAnnounced(conv.id)) {
        markAnnounced(conv.id);
        addNotice('notice.assigned', conv.id, { alert: true });
        conv.fresh = true;
        beep();
      }
      const current = state.conversations.get(state.selected);
      if (!current || (current.state === 'ended' && conv.state !== 'ended')) select(conv.id, { focus: false });
      renderConvList();
      return undefined;
    }
    case 'message':
      if (c) onMessage(c, msg);
      return undefined;
    case 'sent':
      if (c) onSent(c, msg);
      return undefined;
    case 'delivered':
      if (c) {
        c.deliveredSeq = Math.max(c.deliveredSeq, msg.seq);
        for (const m of c.messages.values()) renderMsgStatus(c, m);
      }
      return undefined;
    case 'typing':
      if (c) setTyping(c, Boolean(msg.active));
      return undefined;
    case 'presence':
      if (c) {
        c.visitorOnline = msg.visitor_online;
        c.offlineSince = msg.visitor_online ? null : c.offlineSince || Date.now();
        scheduleLeftCheck(c);
        renderConvHead(c);
        renderConvList();
      }
      return undefined;
    case 'left_quickly':
      if (c) onLeftQuickly(c, msg);
      return undefined;
    case 'note_saved':
      if (c) onNoteSaved(c, msg.note);
      return undefined;
    case 'whisper':
      if (c) addWhisper(c, msg.whisper);
      return undefined;
    case 'ended':
      if (c) onEnded(c, msg);
      return undefined;
    case 'requeued':
      if (c) {
        addNotice('notice.requeued', c.id, { alert: true });
        removeConversation(c);
      }
      return undefined;
    case 'released':
      if (c) {
        addNotice(`notice.released.${msg.reason}`, c.id, { vars: { name: msg.to?.display_name || '' } });
        removeConversation(c);
      }
      return undefined;
    case 'risk':
      if (c) {
        notifyTriageRaise(c, msg);
        c.risk = msg.level;
        c.riskReasons = msg.reasons || [];
        renderConvHead(c);
        renderRisk(c);
        c.els.riskSelect.value = c.risk;
        renderConvList();
      }
      return undefined;
    case 'line_delivery':
      // Delivery to LINE, per message: sent, or failed with the reason.
      if (c) {
        for (const m of c.messages.values()) {
          if (m.seq !== msg.seq) continue;
          m.line = msg.state === 'sent' ? t('line.sent') : t('line.failed', { reason: msg.reason || '' });
          renderMsgStatus(c, m);
        }
      }
      return undefined;
    case 'silent':
      if (c) {
        c.silentSince = msg.since;
        renderConvHead(c);
        addNotice('notice.silent', c.id);
      }
      return undefined;
    case 'colleagues':
      state.colleagues = msg.counsellors || [];
      for (const conv of state.conversations.values()) renderTransfer(conv);
      return undefined;
    case 'supervision':
      if (c) onSupervision(c, msg);
      return undefined;
    case 'handoff':
      if (c) onHandoff(c, msg.handoff);
      return undefined;
    case 'relay_changed':
      if (c) c.els.relay.changed();
      return undefined;
    case 'supervising':
      return onSupervising(msg.conversation);
    case 'alert':
      state.alerts.set(msg.alert.alert_id, msg.alert);
      renderAlerts();
      announceAlert(msg.alert);
      beep();
      return undefined;
    case 'alert_acked':
      state.alerts.delete(msg.alert.alert_id);
      renderAlerts();
      return undefined;
    case 'floor_alert':
      return onFloorAlert(msg.alert);
    case 'floor':
      state.floor = msg;
      return renderFloor();
    case 'error':
      return onError(msg, c);
    default:
      return undefined;
  }
}

function onWelcome(msg) {
  state.myId = msg.counsellor?.id || null;
  state.role = msg.counsellor?.role || state.me?.role || null;
  $('floor').hidden = state.role !== 'supervisor';
  if (Array.isArray(msg.alerts)) {
    state.alerts = new Map(msg.alerts.map((a) => [a.alert_id, a]));
    renderAlerts();
  }
  state.floorAlerts = new Map((msg.floor_alerts || []).map((a) => [a.alert_id, a]));
  renderFloorAlerts();
  state.status = msg.status;
  state.activity = msg.activity || null;
  state.graceSecs = msg.visitor_grace_secs ?? null;
  state.capacity = msg.capacity;
  state.active = msg.active;
  state.matching = msg.matching;
  // The library may have changed since the last connection.
  loadCannedLibrary().then(() => {
    for (const c of state.conversations.values()) c.els?.canned?.render();
  });
  state.maxChars = msg.max_text_chars || state.maxChars;
  if (msg.max_capacity) $('capacity').max = String(msg.max_capacity);
  const held = new Set();
  for (const view of msg.conversations || []) {
    const conv = upsertConversation(view);
    conv.lastSeq = view.last_seq || 0;
    scheduleLeftCheck(conv);
    held.add(view.conversation_id);
    // Already held when we (re)connected: announced before, or never new to this page.
    markAnnounced(view.conversation_id);
  }
  // Ours in this page but no longer the counsellor's: taken back into the
  // queue while we were away. Conversations already closed with an outcome
  // stay until the counsellor closes them.
  for (const c of [...state.conversations.values()]) {
    if (!held.has(c.id) && !c.outcome) {
      addNotice('notice.requeued', c.id, { alert: true });
      removeConversation(c);
    }
  }
  state.restoredOutbox = {};
  state.bound = true;
  renderControls();
  renderConvList();
  for (const c of state.conversations.values()) {
    pump(c);
    scheduleAck(c);
    // A relay may have been answered while the socket was away.
    c.els.relay.changed();
  }
  // Open the most urgent live chat once the catch-up has said who wrote last.
  scheduleAutoSelect();
}

// --------------------------------------------------------- conversations

function newConversation(view) {
  const c = {
    id: view.conversation_id,
    state: view.state,
    channel: view.channel || 'web',
    visitorName: view.visitor_name || null,
    preChat: view.pre_chat || {},
    startedAt: view.started_at,
    deliveredSeq: view.delivered_seq || 0,
    visitorOnline: view.visitor_online,
    notes: view.notes || [],
    endedBy: view.ended_by || null,
    outcome: view.outcome || null,
    risk: view.risk || 'none',
    riskReasons: view.risk_reasons || [],
    counsellor: view.counsellor || null,
    supervisors: view.supervisors || [],
    supervision: view.supervision || null,
    silentSince: view.silent_since || null,
    leftQuicklyAt: view.left_quickly_at || null,
    erased: Boolean(view.erased),
    lang: view.lang || 'ja',
    offlineSince: view.visitor_offline_since || null,
    handoff: null,
    pendingHandoff: false,
    seq: new SeqTracker(),
    messages: new Map(),
    outbox: [],
    inflight: null,
    unread: 0,
    lastAcked: 0,
    fresh: false,
    typingTimer: null,
    watchdog: null,
    els: null,
  };
  const restored = state.restoredOutbox[c.id];
  if (Array.isArray(restored)) c.outbox = restored;
  buildPanel(c);
  // The case's earlier hearing sheets are read beside this one's (issue 23).
  if (!c.supervision) loadCase(c.id, c.els.caseBox).then((kase) => c.els.hearing.setCase(kase));
  for (const o of c.outbox) addMessage(c, { key: o.client_id, client_id: o.client_id, from: 'counsellor', text: o.text });
  return c;
}

function upsertConversation(view) {
  let c = state.conversations.get(view.conversation_id);
  if (!c) {
    c = newConversation(view);
    state.conversations.set(c.id, c);
  } else {
    c.state = view.state;
    c.preChat = view.pre_chat || {};
    c.startedAt = view.started_at;
    c.deliveredSeq = Math.max(c.deliveredSeq, view.delivered_seq || 0);
    c.visitorOnline = view.visitor_online;
    c.notes = view.notes || [];
    c.endedBy = view.ended_by || null;
    c.outcome = view.outcome || null;
    c.risk = view.risk || 'none';
    c.riskReasons = view.risk_reasons || [];
    c.counsellor = view.counsellor || null;
    c.supervisors = view.supervisors || [];
    c.supervision = view.supervision || null;
    c.silentSince = view.silent_since || null;
    c.lang = view.lang || c.lang || 'ja';
    c.offlineSince = view.visitor_online ? null : view.visitor_offline_since || c.offlineSince || null;
  }
  for (const w of view.whispers || []) addWhisper(c, w);
  renderConversation(c);
  return c;
}

/** A supervisor's whisper (issue 20): inline in the log by time, marked as
 *  not visible to the visitor. Never sent anywhere but staff consoles. */
function addWhisper(c, w) {
  c.whispers = c.whispers || new Map();
  const key = `${w.at}-${w.supervisor?.id || ''}-${w.text}`;
  if (c.whispers.has(key)) return;
  const label = h('span', { class: 'whisper-mark' });
  const who = h('span', { class: 'msg-who', text: w.supervisor?.display_name || '' });
  const time = h('time', { class: 'msg-time', text: formatTime(w.at) });
  const el = h(
    'div',
    { class: 'msg msg-whisper', 'data-at': String(w.at) },
    h('p', { class: 'msg-meta' }, label, ' ', who, ' ', time),
    h('p', { class: 'msg-text', text: w.text }),
  );
  c.whispers.set(key, { at: w.at, el, label });
  renderWhispers(c);
  placeWhispers(c);
  const log = c.els.log;
  log.scrollTop = log.scrollHeight;
}

function renderWhispers(c) {
  for (const w of (c.whispers || new Map()).values()) w.label.textContent = t('whisper.mark');
}

/** Each whisper before the first message written after it. */
function placeWhispers(c) {
  if (!c.whispers || c.whispers.size === 0) return;
  const log = c.els.log;
  const ordered = [...c.whispers.values()].sort((a, b) => a.at - b.at);
  for (const w of ordered) {
    let before = null;
    for (const el of log.children) {
      if (el.classList.contains('msg-whisper')) continue;
      const at = Number(el.dataset.at || 0);
      if (at && at > w.at) {
        before = el;
        break;
      }
    }
    log.insertBefore(w.el, before);
  }
}

function submitWhisper(ev, c) {
  ev.preventDefault();
  const text = c.els.whisperText.value.trim();
  if (!text) return;
  if (conn?.send({ type: 'whisper', conversation_id: c.id, text })) {
    c.els.whisperText.value = '';
  } else {
    showError(t('conn.reconnecting'));
  }
}

function removeConversation(c) {
  clearTimeout(c.typingTimer);
  clearTimeout(c.watchdog);
  c.els.hearing.dispose();
  c.els.relay.dispose();
  c.els.panel.remove();
  state.conversations.delete(c.id);
  if (state.selected === c.id) {
    state.selected = null;
    const next = mostNeeded();
    if (next) select(next.id, { focus: false });
  }
  persistOutbox();
  renderConvList();
  renderSelection();
  updateTitle();
}

/**
 * Show conversation `id`. Chosen by the counsellor (`focus`), it puts an
 * open letter away (its draft is kept); chosen by the console (a new
 * chat, the one before ended) it waits behind the letter, unread.
 */
function select(id, { focus = true, putLetterAway = focus } = {}) {
  state.selected = id;
  if (putLetterAway) closeLetter();
  const c = state.conversations.get(id);
  if (c && !letterOpen()) {
    c.unread = 0;
    c.fresh = false;
  }
  renderSelection();
  renderConvList();
  updateTitle();
  if (c && focus) c.els.heading.focus();
  if (c) c.els.log.scrollTop = c.els.log.scrollHeight;
}

/** The conversation in the main pane: the selected one, unless a letter is open there. */
function shownId() {
  return letterOpen() ? null : state.selected;
}

function renderSelection() {
  const shown = shownId();
  for (const c of state.conversations.values()) c.els.panel.hidden = c.id !== shown;
  $('no-selection').hidden = letterOpen() || Boolean(state.selected && state.conversations.has(state.selected));
  renderFloorSize();
}

/** A letter opened in the main pane, or put away (back, Esc, sent, a chat chosen). */
function onLetterReader(open) {
  const c = open ? null : state.conversations.get(state.selected);
  if (c) {
    c.unread = 0;
    c.fresh = false;
  }
  renderSelection();
  renderConvList();
  updateTitle();
  if (c) c.els.log.scrollTop = c.els.log.scrollHeight;
}

/**
 * A supervisor with a chat open gets a compact floor (its own scrolling
 * region a few lines tall), so that the chat and its message box stay in
 * view at 1280x800; the button shows the whole floor again.
 */
function renderFloorSize() {
  const open = letterOpen() || Boolean(state.selected && state.conversations.has(state.selected));
  const compact = open && !state.floorExpanded;
  $('floor').classList.toggle('compact', compact);
  $('floor-toggle').hidden = !open;
  $('floor-toggle').textContent = t(compact ? 'floor.expand' : 'floor.collapse');
  $('floor-toggle').setAttribute('aria-expanded', String(!compact));
}

function renderConvList() {
  // Held chats (and chats taken over or joined) by need; observed ones apart.
  const held = [];
  const observed = [];
  for (const c of byNeed()) (c.supervision === 'observe' ? observed : held).push(convRow(c));
  $('conv-list').replaceChildren(...held);
  $('convs-empty').hidden = held.length > 0;
  $('observed-list').replaceChildren(...observed);
  $('observed-panel').hidden = observed.length === 0;
}

function buildPanel(c) {
  const hid = `conv-${c.id}-heading`;
  const textId = `conv-${c.id}-text`;
  const noteId = `conv-${c.id}-note`;
  const outcomeId = `conv-${c.id}-outcome`;
  const els = {};
  els.heading = h('h2', { id: hid, tabindex: '-1' });
  els.riskNow = h('p', { class: 'conv-risk' });
  els.meta = h('p', { class: 'conv-meta' });
  els.supervisionLine = h('p', { class: 'supervision-line', hidden: true });
  els.silent = h('p', { class: 'silent-hint', role: 'status', hidden: true });
  // Issue 22: the earlier conversations of a returning visitor (case.js).
  els.caseBox = h('details', { class: 'case-box', hidden: true });
  els.leaveButton = h('button', { type: 'button', class: 'secondary leave-button', onclick: () => supervise('leave', c.id) });
  els.joinButton = h('button', { type: 'button', class: 'secondary join-button', onclick: () => supervise('join', c.id) });
  els.takeOverButton = h('button', { type: 'button', class: 'secondary take-over-button', onclick: () => supervise('take_over', c.id) });
  els.superviseActions = h('div', { class: 'supervise-actions', hidden: true }, els.joinButton, els.takeOverButton, els.leaveButton);

  const riskId = `conv-${c.id}-risk`;
  els.riskHeading = h('h3', {});
  els.riskReasons = h('ul', { class: 'risk-reasons' });
  els.riskLabel = h('label', { for: riskId });
  els.riskSelect = h('select', { id: riskId });
  els.riskButton = h('button', { type: 'submit', class: 'secondary' });
  els.riskForm = h(
    'form',
    { class: 'risk-form', novalidate: true, onsubmit: (ev) => submitRisk(ev, c) },
    els.riskLabel,
    els.riskSelect,
    els.riskButton,
  );
  els.riskBox = h('section', { class: 'side-box risk-box' }, els.riskHeading, els.riskReasons, els.riskForm);

  const transferId = `conv-${c.id}-transfer`;
  const transferNoteId = `conv-${c.id}-transfer-note`;
  els.transferHeading = h('h3', {});
  els.transferLabel = h('label', { for: transferId });
  els.transferSelect = h('select', { id: transferId });
  els.transferNoteLabel = h('label', { for: transferNoteId });
  els.transferNote = h('textarea', { id: transferNoteId, rows: '2' });
  els.transferError = h('p', { class: 'error', role: 'alert', hidden: true });
  els.transferButton = h('button', { type: 'submit', class: 'secondary' });
  els.transferForm = h(
    'form',
    { class: 'transfer-form', novalidate: true, onsubmit: (ev) => submitTransfer(ev, c) },
    els.transferLabel,
    els.transferSelect,
    els.transferNoteLabel,
    els.transferNote,
    els.transferError,
    els.transferButton,
  );
  els.transferBox = h('section', { class: 'side-box transfer-box' }, els.transferHeading, els.transferForm);
  els.log = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' });
  els.typing = h('p', { class: 'typing', hidden: true });
  els.textLabel = h('label', { for: textId });
  els.text = h('textarea', { id: textId, rows: '3' });
  els.sendButton = h('button', { type: 'submit', class: 'primary' });
  els.count = h('span', { class: 'hint' });
  // Canned replies: a picker, and "/" + letters at the start of the box. Inserting never sends.
  els.canned = cannedPicker({ textarea: els.text, getLang: () => c.lang || 'ja', onInserted: () => onComposerInput(c) });
  els.composer = h(
    'form',
    { class: 'composer', novalidate: true, onsubmit: (ev) => submitMessage(ev, c) },
    els.textLabel,
    els.canned.wrap,
    els.text,
    h('div', { class: 'composer-row' }, els.canned.button, els.count, els.sendButton),
  );
  // A supervisor observing or joined writes to the counsellor only (issue 20).
  els.whisperLabel = h('label', { for: `${textId}-whisper` });
  els.whisperText = h('textarea', { id: `${textId}-whisper`, rows: '2', class: 'whisper-text' });
  els.whisperButton = h('button', { type: 'submit', class: 'secondary' });
  els.whisperForm = h(
    'form',
    { class: 'whisper-form', novalidate: true, hidden: true, onsubmit: (ev) => submitWhisper(ev, c) },
    els.whisperLabel,
    els.whisperText,
    h('div', { class: 'composer-row' }, els.whisperButton),
  );
  els.text.addEventListener('input', () => onComposerInput(c));
  els.text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) submitMessage(ev, c);
  });

  els.notesHeading = h('h3', {});
  els.notes = h('ul', { class: 'notes' });
  els.notesEmpty = h('p', { class: 'hint' });
  els.noteLabel = h('label', { for: noteId });
  els.note = h('textarea', { id: noteId, rows: '3' });
  els.noteButton = h('button', { type: 'submit', class: 'secondary' });
  els.noteError = h('p', { class: 'error', role: 'alert', hidden: true });
  const noteForm = h(
    'form',
    { class: 'note-form', novalidate: true, onsubmit: (ev) => submitNote(ev, c) },
    els.noteLabel,
    els.note,
    els.noteError,
    els.noteButton,
  );

  els.endHeading = h('h3', {});
  els.endState = h('p', { class: 'end-state' });
  els.outcomeLabel = h('label', { for: outcomeId });
  els.outcome = h('select', { id: outcomeId, class: 'end-outcome' });
  // Optional, for the centre's yearly statistics (never required).
  els.withdrawalLabel = h('label', { for: `${outcomeId}-withdrawal` });
  els.withdrawal = h('select', { id: `${outcomeId}-withdrawal`, class: 'end-withdrawal' });
  els.severityLabel = h('label', { for: `${outcomeId}-severity` });
  els.severity = h('select', { id: `${outcomeId}-severity`, class: 'end-severity' });
  // Issue 23: filled from the hearing sheet's answers while the counsellor has not chosen.
  els.fromSheet = h('p', { id: `${outcomeId}-from-sheet`, class: 'hint end-from-sheet', hidden: true });
  for (const select of [els.withdrawal, els.severity]) {
    select.setAttribute('aria-describedby', els.fromSheet.id);
    select.addEventListener('change', () => {
      select.dataset.touched = 'true';
      renderFromSheet(c);
    });
  }
  // Issue 23: the relay sheet, made from the hearing sheet and shown in its column.
  els.relay = relaySheet(c.id, {
    getPreChat: () => c.preChat,
    onNotice: (key) => addNotice(key, c.id),
  });
  els.hearing = hearingSheet(c.id, {
    onStats: (stats) => prefillEnd(c, stats),
    onToggle: (open) => els.body.classList.toggle('sheet-open', open),
    relay: els.relay,
  });
  els.referral = h('input', { type: 'checkbox', id: `${outcomeId}-referral`, class: 'end-referral' });
  els.referralLabel = h('label', { for: `${outcomeId}-referral` });
  // Issue 23: the partner services referred to, when the outcome is a referral.
  els.refer = referBox(c.id, () => c.preChat);
  const showRefer = () => els.refer.update(els.outcome.value === 'referred' || els.referral.checked);
  els.outcome.addEventListener('change', showRefer);
  els.referral.addEventListener('change', showRefer);
  els.endError = h('p', { class: 'error', role: 'alert', hidden: true });
  els.endButton = h('button', { type: 'submit', class: 'danger' });
  els.endForm = h(
    'form',
    { class: 'end-form', novalidate: true, onsubmit: (ev) => submitEnd(ev, c) },
    els.outcomeLabel,
    els.outcome,
    els.withdrawalLabel,
    els.withdrawal,
    els.severityLabel,
    els.severity,
    els.fromSheet,
    h('div', { class: 'check' }, els.referral, els.referralLabel),
    els.refer.box,
    els.endError,
    els.endButton,
  );
  els.closeButton = h('button', { type: 'button', class: 'secondary close-conv', hidden: true, onclick: () => closeConversation(c) });

  buildHandoffBox(c, els);
  els.notesBox = h('section', { class: 'side-box' }, els.notesHeading, els.notes, els.notesEmpty, noteForm);
  els.endBox = h('section', { class: 'side-box' }, els.endHeading, els.endState, els.endForm, els.closeButton);
  els.noteForm = noteForm;
  els.panel = h(
    'section',
    { class: 'conv-panel', 'aria-labelledby': hid, hidden: true },
    h(
      'div',
      { class: 'conv-head' },
      h('div', { class: 'conv-title' }, els.heading, els.hearing.toggle),
      els.riskNow,
      els.meta,
      els.supervisionLine,
      els.superviseActions,
      els.silent,
      els.caseBox,
    ),
    (els.body = h(
      'div',
      { class: 'conv-body' },
      h('div', { class: 'conv-chat' }, els.log, els.typing, els.composer, els.whisperForm),
      buildSideTabs(c, els),
      els.hearing.column,
    )),
  );
  c.els = els;
  $('conv-area').append(els.panel);
}

function renderConvHead(c) {
  const { els } = c;
  els.heading.textContent = labelOf(c);
  els.log.setAttribute('aria-label', t('conv.messages', { label: labelOf(c) }));
  const parts = [preChatText(c.preChat)];
  if (c.startedAt) parts.push(t('conv.started', { time: formatTime(c.startedAt) }));
  parts.push(t('conv.lang', { lang: t(`lang.name.${c.lang || 'ja'}`) }));
  parts.push(presenceText(c));
  els.meta.textContent = parts.join(' · ');
  els.meta.dataset.left = String(visitorLeft(c));
  els.meta.dataset.online = String(Boolean(c.visitorOnline) && c.state !== 'ended');
  els.meta.dataset.leftQuickly = String(leftQuickly(c));
  // The risk level in words (and a badge), next to the heading.
  els.riskNow.replaceChildren(
    h('span', { class: 'conv-risk-label', text: `${t('risk.label')}: ` }),
    riskBadge(c.risk) || h('span', { text: t('risk.none') }),
  );
  els.riskNow.dataset.risk = c.risk;
  els.panel.classList.toggle('risk-urgent', c.risk === 'urgent');
  // Who else is in it: for the counsellor, supervisors; for a supervisor, the counsellor.
  const who = [];
  if (c.supervision && c.counsellor) who.push(t('supervision.counsellor', { name: c.counsellor.display_name }));
  if (c.supervision) who.push(t(`supervision.mine.${c.supervision}`));
  for (const s of c.supervisors) {
    if (s.id !== state.myId) who.push(t(`supervision.${s.mode}`, { name: s.display_name }));
  }
  els.supervisionLine.textContent = who.join(' · ');
  els.supervisionLine.hidden = who.length === 0;
  const live = c.state !== 'ended';
  els.superviseActions.hidden = !c.supervision || !live;
  els.leaveButton.textContent = t('supervision.leave');
  els.joinButton.textContent = t('supervision.join.button');
  els.joinButton.hidden = c.supervision !== 'observe';
  els.takeOverButton.textContent = t('supervision.take_over');
  const silent = Boolean(c.silentSince) && live && !c.supervision;
  els.silent.hidden = !silent;
  els.silent.textContent = silent ? t('silent.hint', { time: formatTime(c.silentSince) }) : '';
}

function renderRisk(c) {
  const { els } = c;
  els.riskHeading.textContent = t('risk.heading');
  els.riskLabel.textContent = t('risk.label');
  els.riskButton.textContent = t('risk.set');
  const chosen = els.riskSelect.value || c.risk;
  fillSelect(els.riskSelect, RISK_LEVELS, 'risk', null);
  els.riskSelect.value = chosen;
  els.riskReasons.replaceChildren(
    ...c.riskReasons.map((r) => h('li', {}, `${t(`risk.${r.level}`)}: ${reasonText(r)} (${formatTime(r.at)})`)),
  );
  els.riskReasons.hidden = c.riskReasons.length === 0;
  els.riskBox.hidden = c.state === 'ended';
}

function renderTransfer(c) {
  const { els } = c;
  els.transferHeading.textContent = t('transfer.heading');
  els.transferLabel.textContent = t('transfer.to');
  els.transferNoteLabel.textContent = t('transfer.note');
  els.transferButton.textContent = t('transfer.submit');
  const chosen = els.transferSelect.value;
  const options = [h('option', { value: '', text: t('transfer.queue') })];
  for (const col of state.colleagues) {
    if (col.id === state.myId) continue;
    const ok = col.available && col.free > 0;
    const st = !col.available
      ? t('transfer.colleague.away')
      : col.free > 0
        ? t('transfer.colleague.free', { free: col.free })
        : t('transfer.colleague.full');
    options.push(h('option', { value: col.id, disabled: !ok, text: t('transfer.colleague', { name: col.display_name, state: st }) }));
  }
  els.transferSelect.replaceChildren(...options);
  els.transferSelect.value = options.some((o) => o.value === chosen && !o.disabled) ? chosen : '';
  // Only the conversation's own counsellor hands it on, and only while it goes on.
  els.transferBox.hidden = c.state !== 'active' || Boolean(c.supervision);
}

function submitRisk(ev, c) {
  ev.preventDefault();
  const level = c.els.riskSelect.value;
  if (!RISK_LEVELS.includes(level)) return;
  conn?.send({ type: 'set_risk', conversation_id: c.id, level });
}

function submitTransfer(ev, c) {
  ev.preventDefault();
  const { els } = c;
  els.transferError.hidden = true;
  const note = clean(els.transferNote.value).trim();
  if (charCount(note) > state.maxChars) {
    els.transferError.textContent = t('error.text_too_long', { max: state.maxChars });
    els.transferError.hidden = false;
    return;
  }
  const msg = { type: 'transfer', conversation_id: c.id };
  if (els.transferSelect.value) msg.to = els.transferSelect.value;
  if (note) msg.note = note;
  c.pendingTransfer = true;
  if (!conn?.send(msg)) {
    c.pendingTransfer = false;
    els.transferError.textContent = t('conn.reconnecting');
    els.transferError.hidden = false;
  }
}

/** Supervisors: observe, join, leave, take over. */
function supervise(type, conversationId) {
  if (!conn?.send({ type, conversation_id: conversationId })) showError(t('conn.reconnecting'));
}

function onSupervising(view) {
  const existing = state.conversations.get(view.conversation_id);
  const c = upsertConversation(view);
  renderConvList();
  renderFloor();
  if (!existing || state.selected !== c.id) select(c.id);
  else c.els.heading.focus();
}

function onSupervision(c, msg) {
  const about = msg.supervisor || {};
  if (about.id === state.myId && !msg.mode) {
    // I left: drop it.
    removeConversation(c);
    renderFloor();
    return;
  }
  if (about.id === state.myId) {
    c.supervision = msg.mode;
  } else {
    const others = c.supervisors.filter((s) => s.id !== about.id);
    if (msg.mode) others.push({ id: about.id, display_name: about.display_name, mode: msg.mode });
    c.supervisors = others;
    const key = msg.mode ? `notice.supervision.${msg.mode}` : 'notice.supervision.left';
    addNotice(key, c.id, { vars: { name: about.display_name || '' } });
  }
  renderConversation(c);
  renderConvList();
}

// -------------------------------------------------------------- handoff

/** The longest summary the server takes (core::handoff::SUMMARY_MAX_CHARS). */
const SUMMARY_MAX_CHARS = 2000;

function buildHandoffBox(c, els) {
  const summaryId = `conv-${c.id}-handoff-summary`;
  const transcriptId = `conv-${c.id}-handoff-transcript`;
  els.handoffHeading = h('h3', {});
  els.handoffState = h('p', { class: 'handoff-state', role: 'status' });
  els.handoffBooked = h('p', { class: 'handoff-booked', hidden: true });
  els.handoffSummaryLabel = h('label', { for: summaryId });
  els.handoffSummary = h('textarea', { id: summaryId, rows: '5', maxlength: String(SUMMARY_MAX_CHARS) });
  els.handoffTranscript = h('input', { id: transcriptId, type: 'checkbox' });
  els.handoffTranscriptLabel = h('label', { for: transcriptId });
  els.handoffError = h('p', { class: 'error', role: 'alert', hidden: true });
  els.handoffButton = h('button', { type: 'submit', class: 'primary' });
  els.handoffForm = h(
    'form',
    { class: 'handoff-form', novalidate: true, onsubmit: (ev) => submitHandoff(ev, c) },
    els.handoffSummaryLabel,
    els.handoffSummary,
    h('div', { class: 'check' }, els.handoffTranscript, els.handoffTranscriptLabel),
    els.handoffError,
    els.handoffButton,
  );
  els.handoffBox = h('section', { class: 'side-box handoff-box' }, els.handoffHeading, els.handoffState, els.handoffBooked, els.handoffForm);
}

function renderHandoff(c) {
  const { els } = c;
  const v = c.handoff;
  els.handoffHeading.textContent = t('handoff.heading');
  els.handoffSummaryLabel.textContent = t('handoff.summary');
  els.handoffTranscriptLabel.textContent = t('handoff.transcript');
  els.handoffButton.textContent = v ? t('handoff.revise') : t('handoff.offer');
  let line = '';
  if (v?.state === 'consented') line = t('handoff.state.consented', { scope: consentScope(v.consent) });
  else if (v) line = t(`handoff.state.${v.state}`, { version: v.version });
  els.handoffState.textContent = line;
  els.handoffState.hidden = !line;
  els.handoffBox.dataset.state = v?.state || 'none';
  const consented = v?.state === 'consented';
  els.handoffBooked.hidden = !consented;
  if (consented) {
    els.handoffBooked.textContent = v.booking
      ? t('handoff.booked', { when: formatJapanRange(v.booking.slot.starts_at, v.booking.slot.ends_at), place: v.booking.slot.place })
      : `${t('handoff.not_booked')} ${t('handoff.locked')}`;
  }
  // The conversation's own counsellor offers, while it goes on, and revises until the visitor agrees.
  els.handoffForm.hidden = consented || c.state !== 'active' || Boolean(c.supervision);
  els.handoffBox.hidden = !v && (c.state !== 'active' || Boolean(c.supervision));
}

function onHandoff(c, view) {
  const first = !c.handoff;
  c.handoff = view;
  if (c.pendingHandoff) {
    c.pendingHandoff = false;
    c.els.handoffError.hidden = true;
  }
  // Revising starts from what the visitor was shown.
  if (first && !c.els.handoffSummary.value) {
    c.els.handoffSummary.value = view.summary;
    c.els.handoffTranscript.checked = view.include_transcript;
  }
  renderHandoff(c);
}

function submitHandoff(ev, c) {
  ev.preventDefault();
  const { els } = c;
  els.handoffError.hidden = true;
  const summary = clean(els.handoffSummary.value).trim();
  let problem = '';
  if (!summary) problem = t('handoff.need_summary');
  else if (charCount(summary) > SUMMARY_MAX_CHARS) problem = t('error.text_too_long', { max: SUMMARY_MAX_CHARS });
  if (problem) {
    els.handoffError.textContent = problem;
    els.handoffError.hidden = false;
    els.handoffSummary.focus();
    return;
  }
  c.pendingHandoff = true;
  const msg = { type: 'offer_handoff', conversation_id: c.id, summary, include_transcript: els.handoffTranscript.checked };
  if (!conn?.send(msg)) {
    c.pendingHandoff = false;
    els.handoffError.textContent = t('conn.reconnecting');
    els.handoffError.hidden = false;
  }
}

// ---------------------------------------------------------------- floor

function announceAlert(a) {
  const live = $('alerts-live');
  live.textContent = '';
  setTimeout(() => {
    live.textContent = alertText(a);
  }, 50);
}

function alertText(a) {
  return t('floor.alert.text', {
    level: t(`risk.${a.level}`),
    label: t('conv.label', { short: shortId(a.conversation_id) }),
    reasons: (a.reasons || []).map(reasonText).join(', '),
    time: formatTime(a.at),
  });
}

function renderAlerts() {
  const items = [...state.alerts.values()].sort((a, b) => a.at - b.at);
  $('alerts').replaceChildren(
    ...items.map((a) =>
      h(
        'li',
        { class: `alert-item level-${a.level}`, 'data-alert': a.alert_id, 'data-conversation': a.conversation_id },
        h('span', { class: 'alert-text', text: alertText(a) }),
        h('button', {
          type: 'button',
          class: 'secondary ack-alert',
          text: t('floor.alert.ack'),
          onclick: () => conn?.send({ type: 'ack_alert', alert_id: a.alert_id }),
        }),
      ),
    ),
  );
  renderAlertsNone();
}

// Under the floor's alert list: "none", unless an empty-floor alert is up
// (counted in the summary above, shown in the banner at the top): then
// the list says where it is instead of "no open alerts".
function renderAlertsNone() {
  const none = $('alerts-none');
  none.hidden = state.alerts.size > 0;
  none.textContent = t(state.floorAlerts.size > 0 ? 'floor.alerts.see_banner' : 'floor.alerts.none');
}

// The empty-floor alert: a banner above everything for supervisors,
// raised once per episode, shown cleared when a counsellor is available
// again, and kept until someone acknowledges it.

function onFloorAlert(a) {
  const before = state.floorAlerts.get(a.alert_id);
  if (a.acked_by) state.floorAlerts.delete(a.alert_id);
  else state.floorAlerts.set(a.alert_id, a);
  renderFloorAlerts();
  renderFloor();
  const news = !a.acked_by && (!before || (!before.cleared_at && a.cleared_at));
  if (news) {
    const live = $('floor-alert-live');
    live.textContent = '';
    setTimeout(() => {
      live.textContent = floorAlertText(a);
    }, 50);
    if (!a.cleared_at) beep();
  }
}

function floorAlertText(a) {
  const vars = { since: formatTime(a.since), waiting: a.waiting };
  let text = t(`floor_alert.${a.cause}`, vars);
  if (a.cleared_at) {
    text += ' ' + t(`floor_alert.cleared.${a.cleared}`, { time: formatTime(a.cleared_at) });
  }
  return text;
}

function renderFloorAlerts() {
  const items = [...state.floorAlerts.values()].sort((a, b) => a.raised_at - b.raised_at);
  $('floor-alert-list').replaceChildren(
    ...items.map((a) =>
      h(
        'li',
        { class: a.cleared_at ? 'floor-alert cleared' : 'floor-alert', 'data-alert': a.alert_id },
        h('span', { class: 'floor-alert-text', text: floorAlertText(a) }),
        h('button', {
          type: 'button',
          class: 'secondary ack-floor-alert',
          text: t('floor.alert.ack'),
          onclick: () => conn?.send({ type: 'ack_alert', alert_id: a.alert_id }),
        }),
      ),
    ),
  );
  $('floor-alerts').hidden = items.length === 0 || state.role !== 'supervisor';
  renderAlertsNone();
}

function renderFloor() {
  const f = state.floor;
  if (!f || state.role !== 'supervisor') return;
  const q = f.queue || { length: 0, urgent: 0 };
  const summary = [t('floor.queue', { length: q.length }), t('floor.urgent', { count: q.urgent || 0 })];
  if (q.longest_wait_secs !== undefined && q.longest_wait_secs !== null) {
    summary.push(t('floor.longest', { time: minutesText(q.longest_wait_secs) }));
  }
  // Risk alerts (from the floor view) and empty-floor episodes, both unacknowledged.
  summary.push(t('floor.alerts.count', { count: (f.open_alerts ?? state.alerts.size) + state.floorAlerts.size }));
  summary.push(t('floor.stats', { left: f.stats?.left_queue ?? 0, silent: f.stats?.went_silent ?? 0 }));
  $('floor-summary').textContent = summary.join(' · ');

  const counsellors = f.counsellors || [];
  $('floor-counsellors').replaceChildren(
    ...counsellors.map((x) =>
      h('li', {
        text: t('floor.counsellor.load', {
          name: x.display_name,
          status: x.online ? t(`status.now.${x.activity || x.status}`) : t('floor.counsellor.offline'),
          active: x.active,
          capacity: x.capacity,
        }),
      }),
    ),
  );
  $('floor-counsellors-none').hidden = counsellors.length > 0;

  const convs = f.conversations || [];
  const elapsed = Math.max(0, Date.now() - (f.at || Date.now())) / 1000;
  $('floor-convs-body').replaceChildren(
    ...convs.map((x) => {
      const label = t('conv.label', { short: shortId(x.conversation_id) });
      const mine = state.conversations.get(x.conversation_id);
      const holder = x.counsellor?.id === state.myId;
      const actions = [];
      const button = (key, type, cls) =>
        h('button', {
          type: 'button',
          class: `secondary ${cls}`,
          'aria-label': `${t(key)} ${label}`,
          text: t(key),
          onclick: () => supervise(type, x.conversation_id),
        });
      if (holder) {
        actions.push(h('button', { type: 'button', class: 'secondary floor-open', 'aria-label': `${t('floor.open')} ${label}`, text: t('floor.open'), onclick: () => select(x.conversation_id) }));
      } else if (mine?.supervision) {
        actions.push(h('button', { type: 'button', class: 'secondary floor-open', 'aria-label': `${t('floor.open')} ${label}`, text: t('floor.open'), onclick: () => select(x.conversation_id) }));
        if (mine.supervision === 'observe' && x.state === 'active') actions.push(button('floor.join', 'join', 'floor-join'));
        actions.push(button('floor.take_over', 'take_over', 'floor-take-over'));
        actions.push(button('floor.leave', 'leave', 'floor-leave'));
      } else {
        actions.push(button('floor.observe', 'observe', 'floor-observe'));
        if (x.state === 'active') actions.push(button('floor.join', 'join', 'floor-join'));
        actions.push(button('floor.take_over', 'take_over', 'floor-take-over'));
      }
      const stateCell = [t(`floor.state.${x.state}`) || x.state];
      if (x.silent_since) stateCell.push(t('floor.silent'));
      const counsellor = holder ? t('floor.mine') : x.counsellor?.display_name || '—';
      const sup = (x.supervisors || []).map((s) => t(`supervision.${s.mode}`, { name: s.display_name }));
      return h(
        'tr',
        { class: x.risk === 'urgent' ? 'risk-urgent' : '', 'data-conversation': x.conversation_id, 'data-state': x.state },
        h('td', { text: label }),
        h('td', { text: stateCell.join(' · ') }),
        h('td', {}, riskBadge(x.risk) || h('span', { text: t('risk.none') })),
        h('td', {}, counsellor, sup.length ? h('span', { class: 'hint', text: ` (${sup.join(', ')})` }) : null),
        h('td', { text: minutesText((x.age_secs || 0) + elapsed) }),
        h('td', {}, h('div', { class: 'floor-actions' }, ...actions)),
      );
    }),
  );
  $('floor-convs').hidden = convs.length === 0;
  $('floor-convs-none').hidden = convs.length > 0;
}

function renderConversation(c) {
  const { els } = c;
  renderConvHead(c);
  els.textLabel.textContent = t('composer.label');
  els.sendButton.textContent = t('composer.send');
  els.canned.render();
  els.whisperLabel.textContent = t('whisper.compose');
  els.whisperButton.textContent = t('whisper.send');
  renderWhispers(c);
  els.notesHeading.textContent = t('notes.heading');
  els.notesEmpty.textContent = t('notes.empty');
  els.noteLabel.textContent = t('notes.label');
  els.noteButton.textContent = t('notes.save');
  els.endHeading.textContent = t('end.heading');
  els.outcomeLabel.textContent = t('end.outcome');
  fillSelect(els.outcome, OUTCOMES, 'outcome', 'end.choose');
  els.withdrawalLabel.textContent = t('end.withdrawal');
  fillSelect(els.withdrawal, WITHDRAWAL_BANDS, 'stats.withdrawal', 'end.optional');
  els.severityLabel.textContent = t('end.severity');
  fillSelect(els.severity, SEVERITIES, 'stats.severity', 'end.optional');
  els.referralLabel.textContent = t('end.referral');
  renderFromSheet(c);
  els.closeButton.textContent = t('end.close');
  // The hearing sheet: the one who holds (or held) the chat fills it.
  els.hearing.sync(!c.supervision);
  // A relay needs the web page for the visitor to read and agree to it.
  els.relay.sync(!c.supervision && c.channel === 'web' && !c.erased);
  if (c.typingActive) els.typing.textContent = t('typing.visitor');
  renderNotes(c);
  renderRisk(c);
  renderTransfer(c);
  renderEnd(c);
  renderHandoff(c);
  renderSideTabs(c);
  renderCount(c);
  for (const m of c.messages.values()) renderMessage(c, m);
}

function renderNotes(c) {
  const { els } = c;
  els.notes.replaceChildren(
    ...c.notes.map((n) =>
      h('li', {}, h('p', { class: 'note-text', text: n.text }), h('p', { class: 'hint', text: formatTime(n.at) })),
    ),
  );
  els.notesEmpty.hidden = c.notes.length > 0;
}

function renderEnd(c) {
  const { els } = c;
  const ended = c.state === 'ended';
  // Observing is reading only; a joined supervisor writes and keeps notes but does not end it.
  els.composer.hidden = ended || c.supervision === 'observe';
  els.whisperForm.hidden = ended || !c.supervision;
  els.noteForm.hidden = c.supervision === 'observe';
  if (ended) setTyping(c, false);
  els.transferBox.hidden = ended || Boolean(c.supervision);
  els.riskBox.hidden = ended;
  if (c.supervision) {
    els.endHeading.hidden = !ended;
    els.endHeading.textContent = t('conv.state.ended');
    els.endState.textContent = '';
    els.endState.hidden = true;
    els.endForm.hidden = true;
    els.closeButton.hidden = !ended;
    return;
  }
  els.endHeading.hidden = false;
  if (c.outcome) {
    els.endState.textContent = t('end.recorded', { outcome: t(`outcome.${c.outcome}`) });
    els.endForm.hidden = true;
    els.closeButton.hidden = false;
  } else if (ended) {
    els.endState.textContent = c.erased ? t('end.visitor_erased') : c.endedBy === 'system' ? t('end.system_ended') : t('end.visitor_ended');
    els.endForm.hidden = false;
    els.endButton.textContent = t('end.record');
    els.closeButton.hidden = true;
  } else {
    els.endState.textContent = '';
    els.endForm.hidden = false;
    els.endButton.textContent = t('end.submit');
    els.closeButton.hidden = true;
  }
  els.endState.hidden = !els.endState.textContent;
}

/**
 * Issue 23: the statistics the hearing sheet records fill the end form's
 * withdrawal and severity while they are empty (or still as the sheet
 * filled them); once the counsellor chooses, the choice stands.
 */
function prefillEnd(c, stats) {
  const { els } = c;
  for (const [select, value] of [[els.withdrawal, stats.withdrawal], [els.severity, stats.severity]]) {
    if (select.dataset.touched) continue;
    if (select.value !== '' && select.value !== select.dataset.fromSheet) continue;
    select.value = value || '';
    select.dataset.fromSheet = select.value ? value : '';
  }
  renderFromSheet(c);
}

function renderFromSheet(c) {
  const { els } = c;
  const filled = [els.withdrawal, els.severity].some((s) => s.value && s.value === s.dataset.fromSheet && !s.dataset.touched);
  els.fromSheet.textContent = t('end.from_sheet');
  els.fromSheet.hidden = !filled;
}

function closeConversation(c) {
  removeConversation(c);
  const first = document.querySelector('#conv-list button');
  (first || $('convs-heading')).focus?.();
}

// -------------------------------------------------------------- messages

function statusOf(c, m) {
  if (m.failed) return 'failed';
  if (m.seq) return m.seq <= c.deliveredSeq ? 'delivered' : 'sent';
  return conn?.isOpen() && state.bound ? 'sending' : 'queued';
}

function renderMsgStatus(c, m) {
  if (!m.own || !m.el) return;
  const s = statusOf(c, m);
  m.el.dataset.status = s;
  m.stateEl.textContent = t(`msg.state.${s}`) + (m.failed && m.error ? `: ${m.error}` : '') + (m.line ? ` · ${m.line}` : '');
}

function renderMessage(c, m) {
  const who = m.own ? (m.name || state.me?.display_name || t('msg.counsellor')) : t('msg.visitor');
  m.whoEl.textContent = who;
  m.timeEl.textContent = m.sent_at ? formatTime(m.sent_at) : '';
  if (m.seq) m.el.dataset.seq = String(m.seq);
  if (m.sent_at) m.el.dataset.at = String(m.sent_at);
  renderMsgStatus(c, m);
}

function addMessage(c, m) {
  const existing = c.messages.get(m.key);
  if (existing) {
    if (m.seq && !existing.seq) {
      existing.seq = m.seq;
      if (m.sent_at) existing.sent_at = m.sent_at;
      renderMessage(c, existing);
      placeMessage(c, existing);
    }
    return existing;
  }
  m.own = m.from === 'counsellor';
  m.whoEl = h('span', { class: 'msg-who' });
  m.timeEl = h('time', { class: 'msg-time' });
  const text = h('p', { class: 'msg-text' });
  text.textContent = m.text;
  m.stateEl = h('span', { class: 'msg-state' });
  m.el = h(
    'div',
    { class: m.own ? 'msg msg-own' : 'msg msg-other' },
    h('p', { class: 'msg-meta' }, m.whoEl, ' ', m.timeEl),
    text,
    m.own ? h('p', { class: 'msg-status' }, m.stateEl) : null,
  );
  c.messages.set(m.key, m);
  renderMessage(c, m);
  placeMessage(c, m);
  return m;
}

function placeMessage(c, m) {
  const log = c.els.log;
  let before = null;
  for (const other of c.messages.values()) {
    if (other === m || !other.el || other.el.parentNode !== log) continue;
    const after = m.seq ? !other.seq || other.seq > m.seq : false;
    if (after && (!before || other.el.compareDocumentPosition(before.el) & Node.DOCUMENT_POSITION_FOLLOWING)) {
      before = other;
    }
  }
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.insertBefore(m.el, before ? before.el : null);
  placeWhispers(c);
  if (atBottom || m.own) log.scrollTop = log.scrollHeight;
}

function onMessage(c, msg) {
  const own = msg.from === 'counsellor';
  const key = own && msg.client_id ? msg.client_id : `s${msg.seq}`;
  const known = c.messages.has(key);
  addMessage(c, { key, client_id: msg.client_id, seq: msg.seq, from: msg.from, name: msg.name, text: msg.text, sent_at: msg.sent_at });
  if (own) dropFromOutbox(c, msg.client_id);
  c.seq.add(msg.seq);
  noteLastLine(c, msg);
  if (state.autoSelectPending && caughtUp()) runAutoSelect();
  if (!own && !known) {
    setTyping(c, false);
    if (c.silentSince && msg.sent_at > c.silentSince) {
      c.silentSince = null;
      renderConvHead(c);
    }
    const seen = c.id === shownId() && document.visibilityState === 'visible';
    if (!seen) {
      c.unread += 1;
      renderConvList();
      updateTitle();
    }
  }
  scheduleAck(c);
}

function scheduleAck(c) {
  clearTimeout(c.ackTimer);
  c.ackTimer = setTimeout(() => {
    const upTo = c.seq.contiguous;
    if (c.supervision === 'observe') return;
    if (upTo > c.lastAcked && state.bound && conn?.send({ type: 'ack', conversation_id: c.id, seq: upTo })) {
      c.lastAcked = upTo;
    }
  }, 50);
}

function onSent(c, msg) {
  const m = c.messages.get(msg.client_id);
  if (m) addMessage(c, { key: msg.client_id, seq: msg.seq });
  c.seq.add(msg.seq);
  if (m) noteLastLine(c, { seq: msg.seq, from: 'counsellor', text: m.text, sent_at: m.sent_at || Date.now() });
  dropFromOutbox(c, msg.client_id);
  if (m) renderMsgStatus(c, m);
  pump(c);
}

function dropFromOutbox(c, clientId) {
  if (!clientId) return;
  const before = c.outbox.length;
  c.outbox = c.outbox.filter((o) => o.client_id !== clientId);
  if (c.inflight === clientId) {
    c.inflight = null;
    clearTimeout(c.watchdog);
  }
  if (before !== c.outbox.length) persistOutbox();
}

function renderCount(c) {
  const n = charCount(c.els.text.value);
  c.els.count.textContent = t('composer.count', { count: n, max: state.maxChars });
  c.els.count.classList.toggle('over', n > state.maxChars);
}

function submitMessage(ev, c) {
  ev.preventDefault();
  const box = c.els.text;
  const text = clean(box.value);
  if (!text.trim() || c.state === 'ended') return;
  if (charCount(text) > state.maxChars) {
    showError(t('error.text_too_long', { max: state.maxChars }));
    return;
  }
  const clientId = newClientId();
  c.outbox.push({ client_id: clientId, text });
  persistOutbox();
  box.value = '';
  renderCount(c);
  addMessage(c, { key: clientId, client_id: clientId, from: 'counsellor', text, sent_at: Date.now() });
  stopTyping(c);
  pump(c);
  box.focus();
}

/** One message in flight per conversation, oldest first: order is kept through drops and refusals. */
function pump(c) {
  if (!state.bound || c.inflight || !conn) return;
  const head = c.outbox[0];
  if (!head) return;
  if (conn.send({ type: 'send', conversation_id: c.id, client_id: head.client_id, text: head.text })) {
    c.inflight = head.client_id;
    clearTimeout(c.watchdog);
    c.watchdog = setTimeout(() => {
      if (c.inflight === head.client_id) {
        c.inflight = null;
        pump(c);
      }
    }, 8000);
  }
  const m = c.messages.get(head.client_id);
  if (m) renderMsgStatus(c, m);
}

function onComposerInput(c) {
  renderCount(c);
  if (c.state !== 'active') return;
  const now = Date.now();
  if (!c.typingSent || now - c.typingSentAt > 3000) {
    if (conn?.send({ type: 'typing', conversation_id: c.id, active: true })) {
      c.typingSent = true;
      c.typingSentAt = now;
    }
  }
  clearTimeout(c.typingStop);
  c.typingStop = setTimeout(() => stopTyping(c), 4000);
}

function stopTyping(c) {
  clearTimeout(c.typingStop);
  if (c.typingSent && c.state === 'active') conn?.send({ type: 'typing', conversation_id: c.id, active: false });
  c.typingSent = false;
}

function setTyping(c, active) {
  clearTimeout(c.typingTimer);
  c.typingActive = active;
  c.els.typing.textContent = active ? t('typing.visitor') : '';
  c.els.typing.hidden = !active;
  if (active) c.typingTimer = setTimeout(() => setTyping(c, false), 8000);
}

// ------------------------------------------------------------ notes, end

function submitNote(ev, c) {
  ev.preventDefault();
  const text = clean(c.els.note.value);
  c.els.noteError.hidden = true;
  if (!text.trim()) return;
  if (charCount(text) > state.maxChars) {
    c.els.noteError.textContent = t('error.text_too_long', { max: state.maxChars });
    c.els.noteError.hidden = false;
    return;
  }
  c.pendingNote = text;
  if (!conn?.send({ type: 'note', conversation_id: c.id, text })) {
    c.pendingNote = null;
    c.els.noteError.textContent = t('conn.reconnecting');
    c.els.noteError.hidden = false;
  }
}

function onNoteSaved(c, note) {
  c.notes.push(note);
  if (c.pendingNote === note.text) {
    c.pendingNote = null;
    c.els.note.value = '';
  }
  renderNotes(c);
}

function submitEnd(ev, c) {
  ev.preventDefault();
  const outcome = c.els.outcome.value;
  c.els.endError.hidden = true;
  if (!outcome) {
    c.els.endError.textContent = t('end.need_outcome');
    c.els.endError.hidden = false;
    c.els.outcome.focus();
    return;
  }
  if (c.els.refer.tooMany()) {
    c.els.refer.box.querySelector('input')?.focus();
    return;
  }
  const reason = c.state === 'active' ? endNeedsConfirm(c) : null;
  if (reason && !c.endConfirmed) {
    confirmEnd(c, reason);
    return;
  }
  c.endConfirmed = false;
  c.pendingEnd = true;
  const frame = { type: 'end', conversation_id: c.id, outcome };
  if (c.els.withdrawal.value) frame.withdrawal = c.els.withdrawal.value;
  if (c.els.severity.value) frame.severity = c.els.severity.value;
  if (c.els.referral.checked) frame.referral = true;
  const referredTo = c.els.refer.chosen();
  if (referredTo.length) frame.referred_to = referredTo;
  c.sentReferredTo = referredTo.length > 0;
  if (!conn?.send(frame)) {
    c.pendingEnd = false;
    c.els.endError.textContent = t('conn.reconnecting');
    c.els.endError.hidden = false;
  }
}

function onEnded(c, msg) {
  const wasActive = c.state !== 'ended';
  if (msg.outcome) c.pendingEnd = false;
  c.state = 'ended';
  c.endedBy = msg.by;
  if (msg.outcome) c.outcome = msg.outcome;
  if (msg.erased) c.erased = true;
  if (wasActive && msg.by !== 'counsellor' && !c.supervision) {
    addNotice(msg.erased ? 'notice.visitor_erased' : 'notice.visitor_ended', c.id, { alert: true });
  }
  for (const m of c.messages.values()) {
    if (m.own && !m.seq && !m.failed) {
      m.failed = true;
      m.error = t('error.conversation_ended');
      renderMsgStatus(c, m);
    }
  }
  c.outbox = [];
  c.inflight = null;
  persistOutbox();
  renderConvHead(c);
  renderEnd(c);
  renderHandoff(c);
  renderConvList();
}

function onError(err, c) {
  if (c && err.client_id) {
    const m = c.messages.get(err.client_id);
    if (err.code === 'rate_limited' || err.code === 'unavailable') {
      c.inflight = null;
      setTimeout(() => pump(c), Math.max(200, err.retry_after_ms || 1000));
      return;
    }
    dropFromOutbox(c, err.client_id);
    if (m && !m.seq) {
      m.failed = true;
      m.error = errorText(err, { max: state.maxChars });
      renderMsgStatus(c, m);
    }
    pump(c);
    return;
  }
  if (err.code === 'rate_limited') {
    for (const conv of state.conversations.values()) {
      if (conv.inflight) {
        conv.inflight = null;
        setTimeout(() => pump(conv), Math.max(200, err.retry_after_ms || 1000));
      }
    }
  }
  if (c && c.pendingNote && ['text_too_long', 'text_empty', 'invalid_message', 'not_your_conversation'].includes(err.code)) {
    c.pendingNote = null;
    c.els.noteError.textContent = errorText(err, { max: state.maxChars });
    c.els.noteError.hidden = false;
    return;
  }
  if (c && c.pendingHandoff) {
    c.pendingHandoff = false;
    c.els.handoffError.textContent = errorText(err, { max: SUMMARY_MAX_CHARS, message: err.message || '' });
    c.els.handoffError.hidden = false;
    return;
  }
  if (c && c.pendingTransfer) {
    c.pendingTransfer = false;
    c.els.transferError.textContent = errorText(err, { max: state.maxChars });
    c.els.transferError.hidden = false;
    return;
  }
  if (c && c.pendingEnd) {
    c.pendingEnd = false;
    // A ticked partner the directory no longer holds: nothing ended; the list is loaded again.
    if (err.code === 'bad_request' && c.sentReferredTo) {
      c.els.refer.gone();
      return;
    }
    c.els.endError.textContent = errorText(err, { max: state.maxChars });
    c.els.endError.hidden = false;
    return;
  }
  // A typing notice or an acknowledgement that crossed the conversation's
  // end: nothing to tell the counsellor.
  if (c && (err.code === 'conversation_ended' || err.code === 'not_your_conversation')) return;
  if (err.code === 'invalid_capacity') renderControls();
  showError(errorText(err, { max: state.maxChars }));
}

// -------------------------------------------------------------- controls

function renderControls() {
  $('available').checked = state.status === 'available';
  // What the server says to show (`busy`: away from new chats but holding one).
  const shown = state.activity || state.status;
  $('status-now').textContent = t(`status.now.${shown}`);
  $('status-now').dataset.status = state.status;
  $('status-now').dataset.activity = shown;
  if (document.activeElement !== $('capacity')) $('capacity').value = String(state.capacity);
  $('active-count').textContent = t('capacity.active', { active: state.active, capacity: state.capacity });
}

function renderQueue() {
  const { entries, queue_length: length } = state.queue;
  $('queue-count').textContent = t('queue.count', { count: length });
  $('queue-empty').hidden = length > 0;
  const more = length - entries.length;
  $('queue-more').hidden = more <= 0;
  $('queue-more').textContent = more > 0 ? t('queue.more', { count: more }) : '';
  const now = Date.now();
  $('queue-list').replaceChildren(
    ...entries.map((e) => {
      const minutes = Math.floor(Math.max(0, now - e.queued_at) / 60_000);
      const waited = minutes < 1 ? t('queue.waited.short') : t('queue.waited', { minutes });
      const head = h(
        'p',
        { class: 'qi-head' },
        h('span', { class: 'qi-wait', text: waited }),
        riskBadge(e.risk),
        e.priority === 'urgent' && e.risk !== 'urgent' ? h('span', { class: 'badge urgent', text: t('queue.urgent') }) : null,
        e.requeued ? h('span', { class: 'badge', text: t('queue.requeued') }) : null,
      );
      return h(
        'li',
        { class: `queue-item${e.priority === 'urgent' || e.risk === 'urgent' ? ' urgent' : ''}`, 'data-conversation': e.conversation_id, 'data-risk': e.risk || 'none' },
        head,
        h('p', { class: 'qi-prechat', text: preChatText(e.pre_chat) }),
        e.first_message
          ? h('p', { class: 'qi-first' }, h('span', { class: 'qi-label', text: t('queue.first_message') }), ' ', h('span', { text: e.first_message }))
          : null,
        state.matching === 'manual'
          ? h('button', {
              type: 'button',
              class: 'secondary',
              text: t('queue.pick'),
              onclick: () => conn?.send({ type: 'pick', conversation_id: e.conversation_id }),
            })
          : null,
      );
    }),
  );
}

function clearWorkspace() {
  for (const c of [...state.conversations.values()]) {
    clearTimeout(c.typingTimer);
    clearTimeout(c.watchdog);
    c.els.hearing.dispose({ flush: false });
    c.els.relay.dispose();
    c.els.panel.remove();
  }
  state.conversations.clear();
  state.selected = null;
  state.queue = { queue_length: 0, entries: [] };
  state.floor = null;
  state.alerts = new Map();
  state.floorAlerts = new Map();
  renderFloorAlerts();
  state.role = null;
  $('floor').hidden = true;
  $('alerts').replaceChildren();
  state.notices = [];
  $('notices').replaceChildren();
  renderConvList();
  renderSelection();
  renderQueue();
  updateTitle();
}

// ---- issue 20 (console on a busy evening): rows, order by need, tabs, confirm end

const ANNOUNCED_KEY = 'tsunagu.console.announced';

/** Assignments already announced in this tab (kept across logins and reloads). */
function announcedIds() {
  try {
    const list = JSON.parse(sessionStorage.getItem(ANNOUNCED_KEY) || '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

function wasAnnounced(id) {
  return announcedIds().includes(id);
}

function markAnnounced(id) {
  const list = announcedIds().filter((x) => x !== id);
  list.push(id);
  try {
    sessionStorage.setItem(ANNOUNCED_KEY, JSON.stringify(list.slice(-200)));
  } catch {
    // not kept: at worst announced once more after a reload
  }
}

/** Keep the last line and who is waiting for whom, from every message seen once. */
function noteLastLine(c, msg) {
  if (!msg.seq) return;
  if (!c.noted) c.noted = new Set();
  if (c.noted.has(msg.seq)) return;
  c.noted.add(msg.seq);
  const at = msg.sent_at || Date.now();
  if (!c.last || msg.seq > c.last.seq) c.last = { seq: msg.seq, from: msg.from, text: msg.text || '', at };
  if (msg.from === 'counsellor') {
    c.ownCount = (c.ownCount || 0) + 1;
    if (msg.seq > (c.lastOwnSeq || 0)) {
      c.lastOwnSeq = msg.seq;
      c.waitingSince = null;
      // A reply means what came before it was read (a catch-up after a login counts it again otherwise).
      let after = 0;
      for (const m of c.messages.values()) if (m.from === 'visitor' && m.seq > msg.seq) after += 1;
      if (c.unread > after) {
        c.unread = after;
        updateTitle();
      }
    }
  } else if (msg.from === 'visitor' && msg.seq > (c.lastOwnSeq || 0) && !c.waitingSince) {
    c.waitingSince = at;
  }
  renderConvList();
}

/** The visitor wrote last and has had no reply. */
function awaitingReply(c) {
  return c.state !== 'ended' && Boolean(c.waitingSince);
}

/** Live first; then urgent; then unread or unanswered; then the longest waiting; then the oldest. */
function needCompare(a, b) {
  const key = (c) => [
    c.state === 'ended' ? 1 : 0,
    c.risk === 'urgent' ? 0 : 1,
    c.unread > 0 || awaitingReply(c) ? 0 : 1,
    awaitingReply(c) ? c.waitingSince : Number.MAX_SAFE_INTEGER,
    c.risk === 'watch' ? 0 : 1,
    c.startedAt || 0,
  ];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i += 1) if (ka[i] !== kb[i]) return ka[i] - kb[i];
  return 0;
}

function byNeed() {
  return [...state.conversations.values()].sort(needCompare);
}

/** What to open: the most urgent live chat held (observed ones only when nothing else is there). */
function mostNeeded() {
  const all = byNeed();
  return all.find((c) => c.supervision !== 'observe') || all[0] || null;
}

function caughtUp() {
  for (const c of state.conversations.values()) if (c.lastSeq && c.seq.contiguous < c.lastSeq) return false;
  return true;
}

function scheduleAutoSelect() {
  clearTimeout(state.autoSelectTimer);
  state.autoSelectPending = true;
  if (caughtUp()) {
    runAutoSelect();
    return;
  }
  // The catch-up may be cut short (a drop); choose with what there is.
  state.autoSelectTimer = setTimeout(runAutoSelect, 1500);
}

function runAutoSelect() {
  clearTimeout(state.autoSelectTimer);
  state.autoSelectPending = false;
  const current = state.conversations.get(state.selected);
  const best = mostNeeded();
  if (!best) return;
  // Keep a live chat the counsellor is in; never stay on (or open) an ended one while live ones exist.
  if (current && current.state !== 'ended') return;
  if (current && best.state === 'ended') return;
  select(best.id, { focus: false });
}

function rowMinutes(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  return minutes < 1 ? t('row.seconds') : t('row.minutes', { minutes });
}

/** Waiting (the visitor wrote last), silent (no answer since), or quiet since the last line. */
function rowTime(c) {
  if (c.state === 'ended') return null;
  const now = Date.now();
  if (awaitingReply(c)) return { kind: 'waiting', text: t('row.waiting', { time: rowMinutes(now - c.waitingSince) }) };
  if (c.silentSince) return { kind: 'silent', text: t('row.silent', { time: rowMinutes(now - c.silentSince) }) };
  const since = c.last?.at || c.startedAt;
  return since ? { kind: 'quiet', text: t('row.quiet', { time: rowMinutes(now - since) }) } : null;
}

function lastLineText(c) {
  if (!c.last) return t('row.no_messages');
  const who = c.last.from === 'counsellor' ? t('row.you') : c.last.from === 'visitor' ? t('row.visitor') : '';
  return who + c.last.text.replace(/\s+/g, ' ').trim();
}

function convRow(c) {
  const current = c.id === shownId();
  const time = rowTime(c);
  const cls = ['conv-tab', `risk-${c.risk}`];
  if (current) cls.push('current');
  if (c.fresh) cls.push('fresh');
  if (c.state === 'ended') cls.push('ended');
  if (awaitingReply(c)) cls.push('awaiting');
  const button = h(
    'button',
    {
      type: 'button',
      class: cls.join(' '),
      'aria-current': current ? 'true' : null,
      onclick: () => select(c.id),
    },
    h(
      'span',
      { class: 'conv-row-head' },
      // What the chat is (wraps if it must) ...
      h(
        'span',
        { class: 'conv-row-tags' },
        h('span', { class: 'conv-tab-label', text: labelOf(c) }),
        h('span', { class: `badge channel channel-${c.channel}`, text: t(`row.channel.${c.channel}`) }),
        h('span', { class: `badge lang lang-${c.lang}`, lang: c.lang, title: t('row.lang', { lang: t(`lang.name.${c.lang}`) }) }, h('span', { 'aria-hidden': 'true', text: t(`lang.tag.${c.lang}`) }), h('span', { class: 'visually-hidden', text: t('row.lang', { lang: t(`lang.name.${c.lang}`) }) })),
        c.supervision ? h('span', { class: 'badge', text: t(`supervision.mine.${c.supervision}`) }) : null,
      ),
      // ... and what needs the counsellor (risk, unread): kept whole, on
      // the first line, at its end, where the eye runs down the list.
      h(
        'span',
        { class: 'conv-row-flags' },
        riskBadge(c.risk) || h('span', { class: 'visually-hidden', text: t('row.risk.none') }),
        c.unread ? h('span', { class: 'badge unread', text: t('conv.unread', { count: c.unread }) }) : null,
      ),
    ),
    h('span', { class: 'conv-row-last', text: lastLineText(c) }),
    h(
      'span',
      { class: 'conv-tab-details' },
      time ? h('span', { class: `conv-row-time time-${time.kind}`, text: time.text }) : null,
      time ? ' · ' : null,
      [preChatText(c.preChat, false), presenceText(c)].filter(Boolean).join(' · '),
    ),
  );
  return h('li', { 'data-conversation': c.id, 'data-risk': c.risk, 'data-channel': c.channel, 'data-state': c.state }, button);
}

// Keep the waiting times in the list current.
setInterval(() => {
  if (state.conversations.size) renderConvList();
}, 15_000);

/** The side column as tabs: risk, notes, hand on (to intake or a colleague), end. */
function buildSideTabs(c, els) {
  const boxes = {
    notes: [els.notesBox],
    risk: [els.riskBox],
    handoff: [els.handoffBox, els.transferBox],
    end: [els.endBox],
  };
  const names = Object.keys(boxes);
  els.tabButtons = {};
  els.tabPanels = {};
  const list = h('div', { role: 'tablist', class: 'side-tabs' });
  for (const name of names) {
    const tabId = `conv-${c.id}-tab-${name}`;
    const panelId = `conv-${c.id}-tabpanel-${name}`;
    const button = h('button', {
      type: 'button',
      role: 'tab',
      id: tabId,
      class: 'side-tab',
      'data-tab': name,
      'aria-controls': panelId,
      onclick: () => showTab(c, name, { focus: true }),
    });
    button.addEventListener('keydown', (ev) => {
      const i = names.indexOf(name);
      let next = null;
      if (ev.key === 'ArrowRight') next = names[(i + 1) % names.length];
      else if (ev.key === 'ArrowLeft') next = names[(i + names.length - 1) % names.length];
      else if (ev.key === 'Home') next = names[0];
      else if (ev.key === 'End') next = names[names.length - 1];
      if (!next) return;
      ev.preventDefault();
      showTab(c, next, { focus: true });
    });
    els.tabButtons[name] = button;
    els.tabPanels[name] = h('div', { role: 'tabpanel', id: panelId, class: 'side-panel', 'data-tab': name, 'aria-labelledby': tabId, tabindex: '0' }, ...boxes[name]);
    list.append(button);
  }
  els.tabList = list;
  c.els = els;
  showTab(c, 'notes');
  return h('div', { class: 'conv-side' }, list, ...names.map((n) => els.tabPanels[n]));
}

function showTab(c, name, { focus = false } = {}) {
  c.sideTab = name;
  for (const [n, button] of Object.entries(c.els?.tabButtons || {})) {
    const on = n === name;
    button.setAttribute('aria-selected', String(on));
    button.tabIndex = on ? 0 : -1;
    c.els.tabPanels[n].hidden = !on;
  }
  if (focus) c.els.tabButtons[name].focus();
}

function renderSideTabs(c) {
  const { els } = c;
  els.tabList.setAttribute('aria-label', t('tabs.label'));
  for (const [n, button] of Object.entries(els.tabButtons)) button.textContent = t(`tabs.${n}`);
}

/** Why ending needs a second look: no reply sent at all, or the visitor wrote last. */
function endNeedsConfirm(c) {
  if (c.outbox.length) return null;
  if (!c.ownCount) return 'no_reply';
  if (awaitingReply(c)) return 'visitor_last';
  return null;
}

function endDialog() {
  let d = $('end-confirm');
  if (d) return d;
  const title = h('h2', { id: 'end-confirm-title' });
  const why = h('p', { id: 'end-confirm-why', class: 'end-confirm-why' });
  const question = h('p', { id: 'end-confirm-question' });
  const no = h('button', { type: 'submit', value: 'no', class: 'secondary end-confirm-no' });
  const yes = h('button', { type: 'submit', value: 'yes', class: 'danger end-confirm-yes' });
  d = h(
    'dialog',
    { id: 'end-confirm', class: 'confirm-dialog', 'aria-labelledby': 'end-confirm-title', 'aria-describedby': 'end-confirm-why end-confirm-question' },
    title,
    why,
    question,
    h('form', { method: 'dialog', class: 'confirm-actions' }, no, yes),
  );
  d.parts = { title, why, question, no, yes };
  d.addEventListener('close', () => {
    const c = d.forConv;
    d.forConv = null;
    if (!c || !state.conversations.has(c.id)) return;
    if (d.returnValue === 'yes') {
      c.endConfirmed = true;
      c.els.endForm.requestSubmit();
    } else if (!c.els.composer.hidden) {
      c.els.text.focus();
    } else {
      c.els.endButton.focus();
    }
  });
  document.body.append(d);
  return d;
}

function confirmEnd(c, reason) {
  const d = endDialog();
  d.parts.title.textContent = t('confirm.end.title');
  d.parts.why.textContent = t(`confirm.end.${reason}`);
  d.parts.question.textContent = t('confirm.end.question');
  d.parts.no.textContent = t('confirm.end.no');
  d.parts.yes.textContent = t('confirm.end.yes');
  d.dataset.reason = reason;
  d.forConv = c;
  d.returnValue = '';
  d.showModal();
  d.parts.no.focus();
}

/** Keyboard shortcuts, listed in a dialog: Alt+N next chat in need, Alt+M message box, Ctrl+Enter send, ? this list. */
const SHORTCUTS = [
  ['Alt + N', 'keys.next'],
  ['Alt + M', 'keys.composer'],
  ['Ctrl + Enter', 'keys.send'],
  ['?', 'keys.help'],
];

function keysDialog() {
  let d = $('keys-dialog');
  if (!d) {
    d = h('dialog', { id: 'keys-dialog', class: 'confirm-dialog keys-dialog', 'aria-labelledby': 'keys-title' });
    d.addEventListener('close', () => $('keys-open').focus());
    document.body.append(d);
  }
  d.replaceChildren(
    h('h2', { id: 'keys-title', text: t('keys.title') }),
    h('dl', { class: 'keys-list' }, ...SHORTCUTS.flatMap(([k, key]) => [h('dt', {}, h('kbd', { text: k })), h('dd', { text: t(key) })])),
    h('form', { method: 'dialog', class: 'confirm-actions' }, h('button', { type: 'submit', class: 'secondary', text: t('keys.close') })),
  );
  return d;
}

function openKeys() {
  const d = keysDialog();
  if (!d.open) d.showModal();
}

/** The chat that needs the counsellor next: the first in need order after the open one, live first. */
function nextNeeded() {
  const live = byNeed().filter((c) => c.state !== 'ended' && c.supervision !== 'observe');
  const others = live.filter((c) => c.id !== state.selected);
  return others.find((c) => c.unread > 0 || awaitingReply(c)) || others[0] || null;
}

function onShortcut(ev) {
  if ($('workspace').hidden || document.querySelector('dialog[open]')) return;
  const key = ev.key.toLowerCase();
  const typing = ev.target instanceof HTMLElement && ev.target.closest('input, textarea, select, [contenteditable]');
  if (ev.altKey && !ev.ctrlKey && !ev.metaKey && (ev.code === 'KeyN' || key === 'n')) {
    ev.preventDefault();
    const next = nextNeeded();
    if (next) select(next.id);
  } else if (ev.altKey && !ev.ctrlKey && !ev.metaKey && (ev.code === 'KeyM' || key === 'm')) {
    const c = state.conversations.get(state.selected);
    if (c && !c.els.composer.hidden) {
      ev.preventDefault();
      if (letterOpen()) select(c.id, { focus: false, putLetterAway: true });
      c.els.text.focus();
    }
  } else if (ev.key === '?' && !typing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
    ev.preventDefault();
    openKeys();
  }
}

// ------------------------------------------------------------------ start

async function init() {
  applyI18n();
  unlockAudioOnGesture();
  bindLangSwitch($('lang-switch'));
  updateTitle();
  onLangChange(() => {
    renderControls();
    renderQueue();
    renderConvList();
    for (const c of state.conversations.values()) renderConversation(c);
    renderConnection(conn ? conn.state : 'idle');
    renderLoginError();
    renderOtherPage();
    renderNotices();
    renderAlerts();
    renderFloor();
    renderFloorSize();
    updateTitle();
  });
  $('floor-toggle').addEventListener('click', () => {
    state.floorExpanded = $('floor').classList.contains('compact');
    renderFloorSize();
  });
  // Keep the ages on the floor current.
  setInterval(renderFloor, 15_000);
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('sf-open').addEventListener('click', openSecondFactor);
  $('conn-retry').addEventListener('click', () => conn?.retry());
  $('keys-open').addEventListener('click', openKeys);
  document.addEventListener('keydown', onShortcut);
  $('available').addEventListener('change', (ev) => {
    const status = ev.target.checked ? 'available' : 'away';
    if (!conn?.send({ type: 'set_status', status })) ev.target.checked = !ev.target.checked;
  });
  $('capacity').addEventListener('change', (ev) => {
    const capacity = Number.parseInt(ev.target.value, 10);
    if (!Number.isInteger(capacity) || capacity < 1) {
      renderControls();
      return;
    }
    showError('');
    conn?.send({ type: 'set_capacity', capacity });
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.selected) select(state.selected, { focus: false });
  });
  // Keep the waiting times in the queue current.
  setInterval(renderQueue, 15_000);
  renderControls();
  renderQueue();
  renderConvList();
  renderSelection();

  const me = await checkSession();
  if (me) enter(me);
  else showLogin(me === undefined ? 'error.network' : null);
}

init();

// ---- issue 19 (exit): "left quickly" and "erased", distinct from an end

/**
 * Away longer than the server's grace period (`visitor_grace_secs`): the
 * visitor has left, as the server counts it. The conversation goes on
 * until someone ends it (they may come back with their token or code).
 */
function visitorLeft(c) {
  if (c.state === 'ended' || c.channel !== 'web' || c.visitorOnline || !c.offlineSince) return false;
  if (state.graceSecs === null || state.graceSecs === undefined) return false;
  return Date.now() - c.offlineSince >= state.graceSecs * 1000;
}

/** Show "has left" the moment the grace period runs out (not at the next 15 s refresh). */
function scheduleLeftCheck(c) {
  clearTimeout(c.leftTimer);
  if (!c.offlineSince || state.graceSecs === null || state.graceSecs === undefined) return;
  const due = c.offlineSince + state.graceSecs * 1000 - Date.now();
  if (due < 0) return;
  c.leftTimer = setTimeout(() => {
    if (!state.conversations.has(c.id)) return;
    renderConvHead(c);
    renderConvList();
  }, due + 50);
}

/** The visitor used the quick exit and has not come back (the conversation goes on). */
function leftQuickly(c) {
  return c.state !== 'ended' && Boolean(c.leftQuicklyAt) && !c.visitorOnline;
}

/** Where the visitor is, in words: ended, erased, left quickly, online or offline. */
function presenceText(c) {
  if (c.state === 'ended') return c.erased ? t('conv.erased') : t('conv.state.ended');
  if (leftQuickly(c)) return t('conv.left_quickly');
  if (visitorLeft(c)) return t('conv.left.since', { time: rowMinutes(Date.now() - c.offlineSince) });
  return c.visitorOnline ? t('conv.online') : t('conv.offline');
}

function onLeftQuickly(c, msg) {
  c.leftQuicklyAt = msg.at || Date.now();
  c.visitorOnline = false;
  if (!c.supervision) addNotice('notice.left_quickly', c.id, { alert: true });
  renderConvHead(c);
  renderConvList();
}

const RISK_RANK = { none: 0, watch: 1, urgent: 2 };

/**
 * Triage raised the level of a conversation you hold (the visitor wrote
 * something flagged mid-chat): say so where you will see it, with a beep,
 * as a new alert does for supervisors.
 */
function notifyTriageRaise(c, msg) {
  const rose = (RISK_RANK[msg.level] ?? 0) > (RISK_RANK[c.risk] ?? 0);
  const reasons = msg.reasons || [];
  const byTriage = reasons.length > 0 && reasons[reasons.length - 1].source === 'triage';
  if (!rose || !byTriage || c.supervision || c.state === 'ended') return;
  addNotice('notice.triage_raised', c.id, { alert: true, vars: { level: t(`risk.${msg.level}`) } });
  beep();
}
