// What the pages share: building elements (text only, never HTML), JSON
// POSTs, the quick exit, the ids clients choose for their messages,
// sequence tracking, and a WebSocket connection that reconnects with
// backoff.

/**
 * Create an element. Props: `class`, `text` (textContent), `on<event>`
 * handlers, `hidden`, anything else as an attribute. Children: nodes or
 * strings (inserted as text nodes).
 */
export function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

/**
 * POST a JSON body to this site. Returns {ok, status, body}: the answer's
 * JSON (an error body on refusal), or {code: 'network'} when nothing came
 * back. With `blob`, a successful answer's body is a Blob (a file).
 */
export async function postJson(url, body, { blob = false } = {}) {
  let r;
  try {
    r = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, body: { code: 'network' } };
  }
  if (blob && r.ok) {
    const file = await r.blob().catch(() => null);
    if (file) return { ok: true, status: r.status, body: file };
    return { ok: false, status: 0, body: { code: 'network' } };
  }
  const json = await r.json().catch(() => ({}));
  return { ok: r.ok, status: r.status, body: json };
}

/** Where "Quick exit" goes: the server's `site.quick_exit_url`, else the page's meta tag. */
/** GET /api/info (the site's name, hours, quick exit), or null if it fails. */
export async function fetchInfo() {
  try {
    const r = await fetch('/api/info', { credentials: 'same-origin' });
    if (r.ok) return await r.json();
  } catch {
    // Offline or refused: the caller shows what it can without it.
  }
  return null;
}

export function quickExitUrl(site) {
  const fromInfo = site?.quick_exit_url;
  if (typeof fromInfo === 'string' && /^https?:\/\//.test(fromInfo)) return fromInfo;
  const meta = document.querySelector('meta[name="tsunagu-quick-exit"]');
  return meta?.content || 'https://www.google.co.jp/';
}

/**
 * Leave at once for a neutral page, leaving nothing behind in this tab:
 * `beforeLeaving` (the page's own last step) runs first, then this tab's
 * storage is cleared, the page emptied, and the neutral page replaces
 * this one in the history.
 */
export function quickExit(site, beforeLeaving) {
  const url = quickExitUrl(site);
  try {
    beforeLeaving?.();
  } catch {
    // leaving matters more
  }
  try {
    sessionStorage.clear();
  } catch {
    // nothing kept
  }
  document.title = '';
  document.getElementById('main')?.replaceChildren();
  location.replace(url);
}

/** A fresh message id: 32 hex characters, inside the protocol's [A-Za-z0-9_-]{1,64}. */
export function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The highest sequence number up to which every message has been seen.
 * A `sent` for our own message can arrive before the other side's message
 * just before it; resuming from the highest seen number would skip that
 * one, so resume from the highest contiguous one.
 */
export class SeqTracker {
  constructor(start = 0) {
    this.contiguous = start;
    this.seen = new Set();
  }
  add(seq) {
    if (seq <= this.contiguous) return;
    this.seen.add(seq);
    while (this.seen.has(this.contiguous + 1)) {
      this.contiguous += 1;
      this.seen.delete(this.contiguous);
    }
  }
  reset(start = 0) {
    this.contiguous = start;
    this.seen.clear();
  }
}

/** Close codes after which a client reconnects (going away, abnormal, server error, restart, try again). */
export const RECONNECT_CODES = new Set([1001, 1006, 1011, 1012, 1013]);

/**
 * One WebSocket that comes back. It reconnects with exponential backoff
 * after the close codes above, goes quiet while the browser is offline and
 * reconnects at once when it is back. `state` is one of: idle, connecting,
 * open, reconnecting, offline, closed.
 */
export class Connection {
  constructor(path, { onopen, onmessage, onstate, onfail } = {}) {
    this.path = path;
    this.onopen = onopen ?? (() => {});
    this.onmessage = onmessage ?? (() => {});
    this.onstate = onstate ?? (() => {});
    this.onfail = onfail ?? (() => {});
    this.ws = null;
    this.state = 'idle';
    this.attempts = 0;
    this.timer = null;
    this.stopped = true;
    this.closeCode = null;
    this.openedOnce = false;
    this.handlers = {
      online: () => {
        if (!this.stopped && this.state !== 'open' && this.state !== 'connecting') this.connectNow();
      },
      offline: () => {
        // The network is gone: drop the socket now rather than wait for
        // the operating system to notice, and wait for `online`.
        if (this.stopped) return;
        this.dropSocket();
        this.setState('offline');
      },
      visibilitychange: () => {
        if (document.visibilityState === 'visible' && this.state === 'reconnecting') this.connectNow();
      },
    };
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.onstate(s, this.closeCode);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.handlers.online);
    window.addEventListener('offline', this.handlers.offline);
    document.addEventListener('visibilitychange', this.handlers.visibilitychange);
    this.connectNow();
  }

  /** Stop for good (no reconnect). */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.handlers.online);
    window.removeEventListener('offline', this.handlers.offline);
    document.removeEventListener('visibilitychange', this.handlers.visibilitychange);
    clearTimeout(this.timer);
    this.dropSocket();
    this.setState('idle');
  }

  dropSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        // already closed
      }
    }
  }

  connectNow() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setState('offline');
      return;
    }
    this.dropSocket();
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.ws = ws;
    this.setState(this.openedOnce ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      this.attempts = 0;
      this.openedOnce = true;
      this.closeCode = null;
      this.setState('open');
      this.onopen();
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onmessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closeCode = ev.code;
      if (this.stopped) return;
      if (!navigator.onLine) {
        this.setState('offline');
      } else if (RECONNECT_CODES.has(ev.code)) {
        this.scheduleReconnect();
      } else {
        this.setState('closed');
      }
      this.onfail(ev.code, ev.reason);
    };
  }

  scheduleReconnect() {
    const base = Math.min(30_000, 500 * 2 ** this.attempts);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempts += 1;
    this.setState('reconnecting');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connectNow(), delay);
  }

  /** Reconnect at once (a "reconnect" button). */
  retry() {
    this.attempts = 0;
    this.connectNow();
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a message; false if the socket is not open (the caller keeps it). */
  send(msg) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }
}

function audioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  beep.ctx = beep.ctx || new Ctx();
  return beep.ctx;
}

/**
 * Browsers let a page make sound only after the person has interacted
 * with it: prepare the sound on the first click or key press.
 */
export function unlockAudioOnGesture() {
  const unlock = () => {
    try {
      const ctx = audioContext();
      if (ctx && ctx.state === 'suspended') ctx.resume();
    } catch {
      // no audio
    }
  };
  document.addEventListener('pointerdown', unlock, { once: true, capture: true });
  document.addEventListener('keydown', unlock, { once: true, capture: true });
}

/** A short beep made on the spot (no file, nothing fetched). */
export function beep() {
  try {
    const ctx = audioContext();
    if (!ctx) return;
    if (ctx.state === 'suspended') ctx.resume();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.35);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  } catch {
    // No audio: the visual notice is still there.
  }
}
