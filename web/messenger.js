// What makes the visitor's chat behave like the messenger on their phone:
// the log stays at its true bottom while the visitor is there, the
// composer grows with what is written, the tab title says when something
// arrived while the page was hidden, an opt-in sound and notification,
// and a text size that is kept on this device.
//
// Nothing here sees message text except the composer's height; a
// notification never carries what was written.

import { t, onLangChange } from './i18n.js';

const TEXT_SIZE_KEY = 'tsunagu.text_size';
const ALERTS_KEY = 'tsunagu.alerts';
/** Root font sizes for 標準 / 大 / 特大: every length on the page is in rem. */
export const TEXT_SIZES = { normal: '100%', large: '118.75%', larger: '137.5%' };

function readLocal(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeLocal(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Not kept: the choice holds for this page.
  }
}

// ----------------------------------------------------------- the log

/**
 * Keep a scrolling list at its true bottom while the reader is there:
 * after anything in it changes size or content (a message, its delivery
 * line, the handoff card, the keyboard opening), scroll once layout is
 * done. A reader who scrolled up to read back is left where they are.
 */
export function stickToBottom(list, { onPinned } = {}) {
  let pinned = true;
  let frame = 0;
  const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 24;
  const settle = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      if (pinned) list.scrollTop = list.scrollHeight;
    });
  };
  list.addEventListener('scroll', () => {
    pinned = atBottom();
    if (pinned) onPinned?.();
  }, { passive: true });
  new MutationObserver(settle).observe(list, { childList: true, subtree: true, characterData: true, attributes: true });
  const sizes = new ResizeObserver(settle);
  sizes.observe(list);
  return {
    /** Go to the bottom now and stay there (the visitor sent something; a new conversation). */
    toBottom() {
      pinned = true;
      list.scrollTop = list.scrollHeight;
      settle();
      onPinned?.();
    },
    isPinned: () => pinned,
    /** Show this child from its top (a card taller than the list), and stop following the bottom. */
    showTop(el) {
      pinned = false;
      cancelAnimationFrame(frame);
      const top = el.getBoundingClientRect().top - list.getBoundingClientRect().top;
      list.scrollTop += top - 8;
    },
    /** A child whose size changes without a mutation inside the list (a card being filled in). */
    watch(el) {
      sizes.observe(el);
    },
  };
}

/** A textarea that grows with its text up to a few lines, then scrolls. */
export function autoGrow(box) {
  const fit = () => {
    box.style.height = 'auto';
    const max = parseFloat(getComputedStyle(box).maxHeight) || Infinity;
    const border = box.offsetHeight - box.clientHeight;
    box.style.height = `${Math.min(box.scrollHeight + border, max)}px`;
  };
  box.addEventListener('input', fit);
  return fit;
}

// ----------------------------------------------------------- text size

export function textSize() {
  const v = readLocal(TEXT_SIZE_KEY);
  return v && TEXT_SIZES[v] ? v : 'normal';
}

function applyTextSize(size) {
  document.documentElement.style.fontSize = TEXT_SIZES[size] ?? TEXT_SIZES.normal;
  document.documentElement.dataset.textSize = size;
}

/** Radio buttons named `text-size`: the choice applies at once and is kept in localStorage. */
export function bindTextSize(root, onChange) {
  const size = textSize();
  applyTextSize(size);
  for (const radio of root.querySelectorAll('input[name="text-size"]')) {
    radio.checked = radio.value === size;
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      writeLocal(TEXT_SIZE_KEY, radio.value === 'normal' ? null : radio.value);
      applyTextSize(radio.value);
      onChange?.();
    });
  }
}

// ------------------------------------------------------- hidden tab

/**
 * While the page is hidden, what arrives is counted in the tab's title
 * ("(1) 新しいメッセージ", alternating with the page's own title so the
 * tab blinks); the title comes back when the page is seen again. With
 * alerts turned on, a short tone and a notification that says only that
 * something arrived.
 */
export class Attention {
  /** `title`: a function giving the page's own title (it follows the language). */
  constructor({ title }) {
    this.baseTitle = title;
    this.unread = 0;
    this.timer = null;
    this.showUnread = false;
    this.alerts = readLocal(ALERTS_KEY) === 'on';
    this.audio = null;
    document.addEventListener('visibilitychange', () => {
      if (!this.hidden()) this.clear();
    });
    window.addEventListener('focus', () => {
      if (!this.hidden()) this.clear();
    });
    onLangChange(() => this.paint());
  }

  hidden() {
    return document.visibilityState === 'hidden' || document.hidden === true;
  }

  /** Something the visitor should see arrived: a counsellor joined, a message. */
  notify() {
    if (!this.hidden()) return;
    this.unread += 1;
    this.showUnread = true;
    this.paint();
    if (!this.timer) {
      this.timer = setInterval(() => {
        this.showUnread = !this.showUnread;
        this.paint();
      }, 1500);
    }
    if (this.alerts) {
      this.tone();
      this.popUp();
    }
  }

  clear() {
    clearInterval(this.timer);
    this.timer = null;
    this.unread = 0;
    this.showUnread = false;
    this.paint();
  }

  paint() {
    document.title = this.unread && this.showUnread ? t('title.unread', { count: this.unread }) : this.baseTitle();
  }

  /** A short, soft two-note tone made on the spot: no sound file to fetch. */
  tone() {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      this.audio ??= new Ctx();
      const ctx = this.audio;
      const start = ctx.currentTime + 0.01;
      for (const [i, freq] of [660, 880].entries()) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, start + i * 0.18);
        gain.gain.exponentialRampToValueAtTime(0.15, start + i * 0.18 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.18 + 0.16);
        osc.connect(gain).connect(ctx.destination);
        osc.start(start + i * 0.18);
        osc.stop(start + i * 0.18 + 0.17);
      }
    } catch {
      // No sound on this device: the title still changes.
    }
  }

  popUp() {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    try {
      // Neutral words only: a lock screen is seen by others.
      const n = new Notification(t('alerts.notification'), { tag: 'tsunagu-chat', silent: true });
      n.onclick = () => {
        window.focus();
        n.close();
      };
    } catch {
      // Some phones allow notifications only from a service worker: the tone and title remain.
    }
  }

  /**
   * The visitor turned alerts on or off. Permission for notifications is
   * asked only here, when they turn it on. Returns 'on', 'sound_only' or 'off'.
   */
  async setAlerts(on) {
    this.alerts = on;
    writeLocal(ALERTS_KEY, on ? 'on' : null);
    if (!on) return 'off';
    // A user gesture: the moment a browser lets a page start sound.
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) {
        this.audio ??= new Ctx();
        await this.audio.resume?.();
      }
    } catch {
      // sound unavailable
    }
    if (!('Notification' in window)) return 'sound_only';
    let permission = Notification.permission;
    if (permission === 'default') {
      try {
        permission = await Notification.requestPermission();
      } catch {
        permission = 'denied';
      }
    }
    return permission === 'granted' ? 'on' : 'sound_only';
  }
}
