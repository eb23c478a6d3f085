// Canned replies in the console: a picker beside the composer, and "/"
// plus a few letters at the start of the message box. Inserting puts the
// text into the message box and NEVER sends: the counsellor edits it and
// presses send.
//
// The list is the ARIA listbox pattern: from the picker's search field
// (a combobox) or from the message box itself (which keeps the focus and
// points at the active option with aria-activedescendant); arrows move,
// Enter inserts, Esc closes.

import { t } from '../i18n.js';
import { h } from '../common.js';

/** lang -> entries, loaded once per login (both languages). */
const library = { ja: [], en: [], loaded: false, at: 0 };

export async function loadCannedLibrary() {
  library.at = Date.now();
  const get = async (lang) => {
    try {
      const r = await fetch(`/api/canned-replies?lang=${lang}`, { credentials: 'same-origin' });
      return r.ok ? await r.json() : [];
    } catch {
      return [];
    }
  };
  const [ja, en] = await Promise.all([get('ja'), get('en')]);
  Object.assign(library, { ja, en, loaded: true });
}

/** Read the library again when the list opens (an admin may have changed it), at most every few seconds. */
async function refreshLibrary() {
  if (Date.now() - library.at < 3000) return false;
  await loadCannedLibrary();
  return true;
}

export function clearCannedLibrary() {
  Object.assign(library, { ja: [], en: [], loaded: false, at: 0 });
}

const fold = (s) => s.normalize('NFKC').toLowerCase();

/** Entries of `lang` matching `query` (title first, then text, then kind). */
export function cannedMatches(lang, query) {
  const entries = library[lang] || library.ja;
  const q = fold(query.trim());
  if (!q) return entries;
  const scored = [];
  for (const e of entries) {
    const title = fold(e.title);
    const rank = title.startsWith(q)
      ? 0
      : title.includes(q)
        ? 1
        : fold(e.body).includes(q)
          ? 2
          : fold(t(`canned.cat.${e.category}`)).includes(q)
            ? 3
            : -1;
    if (rank >= 0) scored.push([rank, e]);
  }
  return scored.sort((a, b) => a[0] - b[0]).map(([, e]) => e);
}

/** The "/" query at the start of the box, if the caret is inside it. */
function slashQuery(box) {
  const m = /^\/(\S*)/.exec(box.value);
  if (!m) return null;
  if (box.selectionStart > m[0].length) return null;
  return m[1];
}

let serial = 0;

/**
 * Attach the picker to one conversation's composer. `getLang()` is the
 * visitor's language; `onInserted()` runs after an insertion (count,
 * typing). Returns the button and the popup to place in the form.
 */
export function cannedPicker({ textarea, getLang, onInserted }) {
  const id = `canned-${++serial}`;
  const st = { open: false, mode: null, active: 0, items: [] };
  const button = h('button', {
    type: 'button',
    class: 'secondary canned-open',
    'aria-haspopup': 'listbox',
    'aria-expanded': 'false',
    'aria-controls': `${id}-popup`,
  });
  const search = h('input', {
    type: 'text',
    id: `${id}-search`,
    class: 'canned-search',
    role: 'combobox',
    autocomplete: 'off',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': `${id}-list`,
  });
  const searchLabel = h('label', { for: `${id}-search`, class: 'canned-search-label' });
  const list = h('ul', { id: `${id}-list`, class: 'canned-list', role: 'listbox' });
  const empty = h('p', { class: 'hint canned-empty', hidden: true });
  const help = h('p', { class: 'hint canned-help', id: `${id}-help` });
  const closeButton = h('button', { type: 'button', class: 'button-quiet canned-close' });
  const popup = h(
    'div',
    { id: `${id}-popup`, class: 'canned-popup', hidden: true },
    h('div', { class: 'canned-popup-head' }, searchLabel, closeButton),
    search,
    list,
    empty,
    help,
  );
  const live = h('p', { class: 'visually-hidden canned-live', role: 'status' });
  const wrap = h('div', { class: 'canned-wrap' }, popup, live);

  function optionId(i) {
    return `${id}-opt-${i}`;
  }

  function render() {
    button.textContent = t('canned.button');
    button.setAttribute('aria-label', t('canned.button.label'));
    button.setAttribute('aria-expanded', String(st.open && st.mode === 'picker'));
    searchLabel.textContent = t('canned.search');
    list.setAttribute('aria-label', t('canned.list'));
    closeButton.textContent = t('canned.close');
    help.textContent = t('canned.help');
    search.hidden = st.mode !== 'picker';
    searchLabel.hidden = st.mode !== 'picker';
    search.setAttribute('aria-expanded', String(st.open && st.mode === 'picker'));
    popup.hidden = !st.open;
    const lang = getLang();
    const hasAny = (library[lang] || []).length > 0;
    empty.textContent = hasAny ? t('canned.none') : t('canned.empty');
    empty.hidden = st.items.length > 0;
    list.hidden = st.items.length === 0;
    list.replaceChildren(
      ...st.items.map((e, i) =>
        h(
          'li',
          {
            id: optionId(i),
            role: 'option',
            class: 'canned-option',
            'aria-selected': String(i === st.active),
            'data-canned': e.canned_reply_id,
            onmousedown: (ev) => ev.preventDefault(),
            onclick: () => insert(e),
          },
          h('span', { class: 'canned-option-title', text: e.title }),
          h('span', { class: 'canned-option-cat', text: t(`canned.cat.${e.category}`) }),
          h('span', { class: 'canned-option-body', text: e.body.replace(/\s+/g, ' ') }),
        ),
      ),
    );
    const owner = st.mode === 'picker' ? search : textarea;
    const active = st.open && st.items.length ? optionId(st.active) : null;
    for (const el of [search, textarea]) {
      if (el === owner && active) el.setAttribute('aria-activedescendant', active);
      else el.removeAttribute('aria-activedescendant');
    }
    if (st.open && st.mode === 'slash') textarea.setAttribute('aria-controls', `${id}-list`);
    else textarea.removeAttribute('aria-controls');
    list.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }

  function query() {
    return st.mode === 'picker' ? search.value : (slashQuery(textarea) ?? '');
  }

  function open(mode, query_) {
    if (!st.open) {
      refreshLibrary().then((changed) => {
        if (changed && st.open) {
          st.items = cannedMatches(getLang(), query());
          st.active = Math.min(st.active, Math.max(0, st.items.length - 1));
          render();
        }
      });
    }
    st.open = true;
    st.mode = mode;
    st.items = cannedMatches(getLang(), query_);
    st.active = Math.min(st.active, Math.max(0, st.items.length - 1));
    render();
  }

  function close({ focus = false } = {}) {
    if (!st.open) return;
    const mode = st.mode;
    st.open = false;
    st.mode = null;
    st.active = 0;
    st.items = [];
    render();
    if (focus) (mode === 'picker' ? button : textarea).focus();
  }

  function insert(entry) {
    const box = textarea;
    let start;
    let end;
    if (st.mode === 'slash') {
      const m = /^\/\S*/.exec(box.value);
      start = 0;
      end = m ? m[0].length : 0;
    } else {
      start = box.selectionStart ?? box.value.length;
      end = box.selectionEnd ?? start;
    }
    box.value = box.value.slice(0, start) + entry.body + box.value.slice(end);
    const caret = start + entry.body.length;
    close();
    box.focus();
    box.setSelectionRange(caret, caret);
    live.textContent = t('canned.inserted', { title: entry.title });
    onInserted?.();
  }

  function move(delta) {
    if (!st.items.length) return;
    st.active = (st.active + delta + st.items.length) % st.items.length;
    render();
  }

  /** Keys while the list is open; true when handled. */
  function key(ev) {
    if (!st.open) return false;
    if (ev.key === 'ArrowDown') move(1);
    else if (ev.key === 'ArrowUp') move(-1);
    else if (ev.key === 'Enter' && !ev.ctrlKey && !ev.metaKey && !ev.isComposing && st.items.length) insert(st.items[st.active]);
    else if (ev.key === 'Escape') close({ focus: true });
    else return false;
    ev.preventDefault();
    ev.stopPropagation();
    return true;
  }

  button.addEventListener('click', () => {
    if (st.open && st.mode === 'picker') {
      close({ focus: true });
      return;
    }
    search.value = '';
    st.active = 0;
    open('picker', '');
    search.focus();
  });
  closeButton.addEventListener('click', () => close({ focus: true }));
  search.addEventListener('input', () => {
    st.active = 0;
    open('picker', search.value);
  });
  search.addEventListener('keydown', (ev) => {
    if (!key(ev) && ev.key === 'Tab') close();
  });
  textarea.addEventListener('keydown', (ev) => {
    if (st.mode === 'slash') key(ev);
  });
  textarea.addEventListener('input', () => {
    const q = slashQuery(textarea);
    if (q === null) {
      if (st.mode === 'slash') close();
      return;
    }
    if (st.mode !== 'slash') st.active = 0;
    open('slash', q);
  });
  textarea.addEventListener('blur', () => {
    if (st.mode === 'slash') setTimeout(() => document.activeElement !== textarea && close(), 150);
  });
  popup.addEventListener('focusout', (ev) => {
    if (st.mode === 'picker' && !popup.contains(ev.relatedTarget) && ev.relatedTarget !== button) close();
  });

  render();
  return { button, wrap, render, close };
}
