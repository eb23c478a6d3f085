// Issue 23: the hearing sheet (ヒアリングシート) of a conversation the
// counsellor holds or held. A button in the conversation's head opens the
// sheet beside the chat (it takes the side column's place, wider, so the
// message box stays in view); the form is built from the definition the
// server gives (GET /api/hearing-sheets): sections as fieldsets, a choice
// as radios (with a way to clear), several choices as checkboxes, a scale
// as a row of radios with its end labels, text with a live count. It is
// saved as a draft or complete (PUT .../hearing), a draft also a few
// seconds after the counsellor stops; a refusal is shown by the question
// it names, and nothing typed is lost. When the visitor came back with a
// return code, the earlier sheets (from the case view) are read side by
// side with this one, one row per question id across versions.
//
// Never shown to the visitor; never kept in the page's storage.
//
// The relay sheet (つなぐシート, relay.js), made from the saved sheet,
// shares this column: its button sits in the foot beside "saved at…", and
// its view takes the sheet's place (`relay` below; this module only shows
// and hides it and tells it the sheet as saved).

import { t, lang, formatTime, errorText } from '../i18n.js';
import { h } from '../common.js';

/** A draft is saved this long after the last change. */
const AUTOSAVE_MS = 4000;
const SCALE_MIN = 1;
const SCALE_MAX = 5;
const TEXT_MAX_CHARS = 400;

let definitionsPromise = null;

/** Every version of the sheet, asked for once per page (again after a failure). */
function definitions() {
  if (!definitionsPromise) {
    definitionsPromise = fetch('/api/hearing-sheets', { credentials: 'same-origin' }).then(async (r) => {
      if (!r.ok) throw new Error(`hearing-sheets: ${r.status}`);
      return r.json();
    });
    definitionsPromise.catch(() => {
      definitionsPromise = null;
    });
  }
  return definitionsPromise;
}

/** A label in the console's language: `label_ja`/`label_en`, `title_…`, `min_label_…`. */
function words(o, field) {
  return (lang() === 'en' ? o?.[`${field}_en`] : o?.[`${field}_ja`]) || o?.[`${field}_ja`] || '';
}

function questionsOf(def) {
  return (def?.sections || []).flatMap((s) => s.questions);
}

function questionOf(def, id) {
  return questionsOf(def).find((q) => q.id === id) || null;
}

function scaleRange(q) {
  return [q.min ?? SCALE_MIN, q.max ?? SCALE_MAX];
}

function maxChars(q) {
  return q.max_chars ?? TEXT_MAX_CHARS;
}

function chars(text) {
  return [...(text || '')].length;
}

function answered(v) {
  if (v === null || v === undefined) return false;
  if (typeof v === 'string') return v.trim() !== '';
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/** "12/3 14:05", "3 Dec 14:05": a column's date, Japan time. */
function shortDate(ms) {
  const en = lang() === 'en';
  const p = {};
  for (const x of new Intl.DateTimeFormat(en ? 'en-GB' : 'ja-JP', {
    timeZone: 'Asia/Tokyo',
    month: en ? 'short' : 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms))) {
    p[x.type] = x.value;
  }
  return en ? `${p.day} ${p.month} ${p.hour}:${p.minute}` : `${p.month}/${p.day} ${p.hour}:${p.minute}`;
}

/**
 * The sheet of conversation `id`. Returns {toggle, column, sync, setCase,
 * dispose}: `toggle` (the head's button) and `column` (the sheet) go in
 * the panel; `sync(available)` after each render of the conversation
 * (loads the sheet the first time, renders again after a language
 * change); `setCase(case)` the case view (earlier sheets). `onStats` is
 * told the statistics the sheet's answers record ({withdrawal, severity,
 * ...}); `onToggle(open)` when the sheet opens or closes. `relay` (from
 * relay.js, optional) is shown in the sheet's place when it asks.
 */
export function hearingSheet(id, { onStats = () => {}, onToggle = () => {}, relay = null } = {}) {
  const base = `conv-${id}-hearing`;
  const st = {
    defs: null,
    def: null,
    saved: null,
    answers: {},
    /** question id -> the server's message about it. */
    errors: {},
    /** The message under the buttons: {key, vars} or null. */
    general: null,
    status: 'idle',
    dirty: false,
    saving: false,
    queued: null,
    erased: false,
    earlier: [],
    open: false,
    builtLang: null,
    timer: null,
    compareTimer: null,
    disposed: false,
  };
  /** question id -> {wrap, error, inputs, focus(), paint()}. */
  let fields = {};

  const badge = h('span', { class: 'badge hearing-badge', hidden: true });
  const toggleText = h('span', {});
  const toggle = h(
    'button',
    { type: 'button', class: 'secondary hearing-toggle', 'aria-expanded': 'false', 'aria-controls': base, hidden: true },
    toggleText,
    badge,
  );
  const heading = h('h3', { id: `${base}-heading`, class: 'hearing-heading', tabindex: '-1' });
  const headBadge = h('span', { class: 'badge hearing-badge' });
  const versionText = h('span', { class: 'hint hearing-version' });
  const close = h('button', { type: 'button', class: 'button-quiet hearing-close' });
  const intro = h('p', { class: 'hint hearing-intro' });
  const compare = h('details', { class: 'hearing-compare', open: true, hidden: true });
  const message = h('p', { class: 'hint hearing-message', hidden: true });
  const retry = h('button', { type: 'button', class: 'secondary hearing-retry', hidden: true });
  const sections = h('div', { class: 'hearing-sections' });
  const scroll = h('div', { class: 'hearing-scroll' }, intro, compare, message, retry, sections);
  const status = h('p', { class: 'hearing-status', role: 'status', 'aria-live': 'polite' });
  const general = h('p', { class: 'error hearing-error', role: 'alert', hidden: true });
  const draftButton = h('button', { type: 'button', class: 'secondary hearing-save-draft' });
  const completeButton = h('button', { type: 'button', class: 'primary hearing-save-complete' });
  // The relay sheet's button beside "saved at…": it is made from what is saved.
  const statusLine = h('div', { class: 'hearing-status-line' }, status, relay?.opener);
  const foot = h('div', { class: 'hearing-foot' }, statusLine, general, h('div', { class: 'hearing-actions' }, draftButton, completeButton));
  const head = h('div', { class: 'hearing-head' }, heading, headBadge, versionText, close);
  const form = h('form', { class: 'hearing-form', novalidate: true, onsubmit: (ev) => ev.preventDefault() }, scroll, foot);
  const column = h('section', { id: base, class: 'hearing-col', 'aria-labelledby': heading.id, hidden: true }, head, form, relay?.view);

  toggle.addEventListener('click', () => setOpen(!st.open));
  close.addEventListener('click', () => setOpen(false));
  retry.addEventListener('click', () => load());
  draftButton.addEventListener('click', () => save(false));
  completeButton.addEventListener('click', () => save(true));

  function setOpen(open, { focus = true } = {}) {
    st.open = open;
    if (!open) showRelay(false);
    column.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    onToggle(open);
    if (focus) (open ? heading : toggle).focus();
  }

  /** The relay view in the sheet's place (`on`), or the sheet again; the column opens if it was closed. */
  function showRelay(on) {
    if (!relay) return;
    if (on && !st.open) setOpen(true, { focus: false });
    head.hidden = on;
    form.hidden = on;
    column.setAttribute('aria-labelledby', on ? relay.view.getAttribute('aria-labelledby') : heading.id);
    relay.shown(on);
  }
  relay?.attach({ show: showRelay });

  /** The relay sheet is made from the sheet as saved. */
  function tellRelay() {
    relay?.setSheet({ saved: st.saved, def: st.def, dirty: st.dirty });
  }

  // ------------------------------------------------------------ loading

  function defOf(version) {
    return st.defs?.sheets.find((d) => d.version === version) || null;
  }

  async function load() {
    st.status = 'loading';
    renderAll();
    try {
      const [defs, r] = await Promise.all([
        definitions(),
        fetch(`/api/counsellor/conversations/${encodeURIComponent(id)}/hearing`, { credentials: 'same-origin' }),
      ]);
      if (!r.ok) throw new Error(`hearing: ${r.status}`);
      const { sheet } = await r.json();
      st.defs = defs;
      st.saved = sheet;
      // A saved sheet is filled on under its own version; a new one under the current.
      st.def = (sheet && defOf(sheet.version)) || defOf(defs.current) || defs.sheets[defs.sheets.length - 1];
      st.answers = {};
      for (const q of questionsOf(st.def)) {
        const v = sheet?.answers?.[q.id];
        if (answered(v)) st.answers[q.id] = Array.isArray(v) ? [...v] : v;
      }
      st.status = 'ready';
    } catch {
      if (st.disposed) return;
      st.status = 'failed';
    }
    if (st.disposed) return;
    st.builtLang = null;
    renderAll();
    onStats(stats());
  }

  // ------------------------------------------------------------ answers

  /** The statistics the answers record, as the end form names them: {withdrawal: 'under_one_year', ...}. */
  function stats() {
    const out = {};
    for (const q of questionsOf(st.def)) {
      if (!q.stats || q.kind !== 'choice') continue;
      const o = (q.options || []).find((x) => x.id === st.answers[q.id]);
      if (o?.stats) out[q.stats] = o.stats;
    }
    return out;
  }

  function payload() {
    const answers = {};
    for (const q of questionsOf(st.def)) {
      const v = st.answers[q.id];
      answers[q.id] = answered(v) ? v : null;
    }
    return answers;
  }

  /** The counsellor changed question `qid`: keep it, and save a draft a little later. */
  function changed(qid, value) {
    if (answered(value)) st.answers[qid] = value;
    else delete st.answers[qid];
    st.dirty = true;
    fields[qid]?.paint();
    onStats(stats());
    renderStatus();
    renderToggle();
    clearTimeout(st.compareTimer);
    st.compareTimer = setTimeout(renderCompare, 250);
    clearTimeout(st.timer);
    // A sheet marked complete is saved again only by hand.
    if (!st.saved?.complete && !st.erased) st.timer = setTimeout(() => save(false, { auto: true }), AUTOSAVE_MS);
  }

  // ------------------------------------------------------------- saving

  async function save(complete, { auto = false } = {}) {
    clearTimeout(st.timer);
    if (st.status !== 'ready' || st.erased) return;
    if (auto && !st.dirty) return;
    if (st.saving) {
      // The last asked for runs when this one is back.
      if (!(auto && st.queued)) st.queued = { complete, auto };
      return;
    }
    st.saving = true;
    st.general = null;
    renderStatus();
    const answers = payload();
    const sent = JSON.stringify(answers);
    let res;
    try {
      const r = await fetch(`/api/counsellor/conversations/${encodeURIComponent(id)}/hearing`, {
        method: 'PUT',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ version: st.def.version, answers, complete }),
      });
      res = { ok: r.ok, body: await r.json().catch(() => ({})) };
    } catch {
      res = { ok: false, body: { code: 'network' } };
    }
    st.saving = false;
    if (res.ok && res.body.sheet) {
      st.saved = res.body.sheet;
      st.errors = {};
      // What was typed while it was on its way is still to be saved.
      st.dirty = JSON.stringify(payload()) !== sent;
      if (st.dirty && !st.saved.complete) st.timer = setTimeout(() => save(false, { auto: true }), AUTOSAVE_MS);
    } else {
      refused(res.body, auto);
    }
    if (st.disposed) return;
    renderErrors();
    renderStatus();
    renderToggle();
    renderCompare();
    const next = st.queued;
    st.queued = null;
    if (next) save(next.complete, next);
  }

  /** Not saved: say why, by the question the server names (focused unless it was the autosave). */
  function refused(err, auto) {
    const named = err?.code === 'bad_request' && /question `([a-z0-9_]+)`/.exec(err.message || '');
    if (named && fields[named[1]]) {
      st.errors = { [named[1]]: err.message };
      st.general = { key: 'hearing.error.summary' };
      if (!auto) {
        renderErrors();
        const f = fields[named[1]];
        f.focus();
        f.wrap.scrollIntoView({ block: 'nearest' });
        f.error.scrollIntoView({ block: 'nearest' });
      }
      return;
    }
    if (err?.code === 'conversation_erased') {
      st.erased = true;
      st.general = { key: 'hearing.erased' };
      return;
    }
    st.general = { key: 'hearing.save_failed', vars: { reason: errorText(err, { message: err?.message || '' }) } };
  }

  /** The refusal of question `q` in the counsellor's words (the server's are English). */
  function errorFor(q, message) {
    if (q.kind === 'text' && chars(st.answers[q.id]) > maxChars(q)) {
      return t('hearing.error.too_long', { max: maxChars(q), count: chars(st.answers[q.id]) });
    }
    if (q.kind === 'scale' && /whole number/.test(message)) {
      const [lo, hi] = scaleRange(q);
      return t('hearing.error.scale', { min: lo, max: hi });
    }
    if ((q.kind === 'choice' || q.kind === 'choices') && /option/.test(message)) return t('hearing.error.choice');
    return t('hearing.error.other', { message: message.replace(/^question `[^`]*`: /, '') });
  }

  // ------------------------------------------------------------ the form

  function errorLine(qid) {
    return h('p', { id: `${base}-q-${qid}-error`, class: 'error hearing-q-error', hidden: true });
  }

  /** One radio or checkbox with its label. */
  function option(q, o, type) {
    const input = h('input', { type, id: `${base}-q-${q.id}-${o.id}`, name: `${base}-q-${q.id}`, value: o.id });
    return { input, row: h('div', { class: 'hearing-opt' }, input, h('label', { for: input.id, text: words(o, 'label') })) };
  }

  function choiceField(q) {
    const opts = (q.options || []).map((o) => option(q, o, 'radio'));
    const inputs = opts.map((o) => o.input);
    const clear = h('button', {
      type: 'button',
      class: 'button-quiet hearing-clear',
      text: t('hearing.clear'),
      'aria-label': t('hearing.clear.of', { label: words(q, 'label') }),
    });
    for (const input of inputs) input.addEventListener('change', () => changed(q.id, input.value));
    clear.addEventListener('click', () => {
      changed(q.id, null);
      inputs[0]?.focus();
    });
    const paint = () => {
      for (const input of inputs) input.checked = input.value === st.answers[q.id];
      clear.hidden = !answered(st.answers[q.id]);
    };
    const wrap = h(
      'fieldset',
      { class: 'hearing-q', 'data-question': q.id, 'data-kind': q.kind },
      h('legend', { text: words(q, 'label') }),
      h('div', { class: 'hearing-opts' }, ...opts.map((o) => o.row)),
      clear,
    );
    return { wrap, inputs, paint, focus: () => (inputs.find((i) => i.checked) || inputs[0])?.focus() };
  }

  function choicesField(q) {
    const opts = (q.options || []).map((o) => option(q, o, 'checkbox'));
    const inputs = opts.map((o) => o.input);
    for (const input of inputs) {
      input.addEventListener('change', () => changed(q.id, inputs.filter((i) => i.checked).map((i) => i.value)));
    }
    const paint = () => {
      const chosen = st.answers[q.id] || [];
      for (const input of inputs) input.checked = chosen.includes(input.value);
    };
    const wrap = h(
      'fieldset',
      { class: 'hearing-q', 'data-question': q.id, 'data-kind': q.kind },
      h('legend', { text: words(q, 'label') }),
      h('p', { class: 'hint hearing-q-hint', text: t('hearing.choices.hint') }),
      h('div', { class: 'hearing-opts' }, ...opts.map((o) => o.row)),
    );
    return { wrap, inputs, paint, focus: () => inputs[0]?.focus() };
  }

  function scaleField(q) {
    const [lo, hi] = scaleRange(q);
    const lowWords = words(q, 'min_label');
    const highWords = words(q, 'max_label');
    const inputs = [];
    const points = [];
    for (let n = lo; n <= hi; n += 1) {
      const input = h('input', { type: 'radio', id: `${base}-q-${q.id}-${n}`, name: `${base}-q-${q.id}`, value: String(n) });
      input.addEventListener('change', () => changed(q.id, n));
      inputs.push(input);
      // The ends' words are in the first and last label (shown once beside the row).
      const end = n === lo ? lowWords : n === hi ? highWords : '';
      const label = h('label', { for: input.id }, String(n), end ? h('span', { class: 'visually-hidden', text: t('hearing.scale.end', { words: end }) }) : null);
      points.push(h('div', { class: 'hearing-scale-pt' }, input, label));
    }
    const clear = h('button', {
      type: 'button',
      class: 'button-quiet hearing-clear',
      text: t('hearing.clear'),
      'aria-label': t('hearing.clear.of', { label: words(q, 'label') }),
    });
    clear.addEventListener('click', () => {
      changed(q.id, null);
      inputs[0]?.focus();
    });
    const paint = () => {
      for (const input of inputs) input.checked = Number(input.value) === st.answers[q.id];
      clear.hidden = !answered(st.answers[q.id]);
    };
    const wrap = h(
      'fieldset',
      { class: 'hearing-q hearing-scale', 'data-question': q.id, 'data-kind': q.kind },
      h('legend', { text: words(q, 'label') }),
      h(
        'div',
        { class: 'hearing-scale-line' },
        h('span', { class: 'hearing-scale-end', 'aria-hidden': 'true', text: lowWords }),
        h('div', { class: 'hearing-scale-row' }, ...points),
        h('span', { class: 'hearing-scale-end', 'aria-hidden': 'true', text: highWords }),
      ),
      clear,
    );
    return { wrap, inputs, paint, focus: () => (inputs.find((i) => i.checked) || inputs[0])?.focus() };
  }

  function textField(q) {
    const boxId = `${base}-q-${q.id}`;
    const countId = `${boxId}-count`;
    const count = h('span', { id: countId, class: 'hint hearing-count' });
    const box = h('textarea', { id: boxId, rows: '3', 'aria-describedby': countId });
    box.addEventListener('input', () => {
      renderCount();
      changed(q.id, box.value);
    });
    const renderCount = () => {
      const n = chars(box.value);
      count.textContent = t('hearing.count', { count: n, max: maxChars(q) });
      count.classList.toggle('over', n > maxChars(q));
    };
    const paint = () => {
      // Typing is never overwritten: only a box that differs is set.
      const v = st.answers[q.id] || '';
      if (box.value !== v && document.activeElement !== box) box.value = v;
      renderCount();
    };
    const wrap = h(
      'div',
      { class: 'hearing-q hearing-text', 'data-question': q.id, 'data-kind': q.kind },
      h('label', { for: boxId, text: words(q, 'label') }),
      box,
      count,
    );
    return { wrap, inputs: [box], paint, focus: () => box.focus() };
  }

  function field(q) {
    const f = { choice: choiceField, choices: choicesField, scale: scaleField, text: textField }[q.kind]?.(q);
    if (!f) return null;
    // Between the question's label and its answers, so it is in view with the answer focused.
    f.error = errorLine(q.id);
    f.wrap.firstElementChild.after(f.error);
    f.paint();
    return f;
  }

  function buildForm() {
    fields = {};
    const sets = (st.def?.sections || []).map((s) => {
      const qs = s.questions.map((q) => {
        const f = field(q);
        if (f) fields[q.id] = f;
        return f?.wrap;
      });
      return h('fieldset', { class: 'hearing-section', 'data-section': s.id }, h('legend', { text: words(s, 'title') }), ...qs);
    });
    sections.replaceChildren(...sets);
    renderErrors();
  }

  function renderErrors() {
    for (const [qid, f] of Object.entries(fields)) {
      const message = st.errors[qid];
      const q = questionOf(st.def, qid);
      f.error.textContent = message ? errorFor(q, message) : '';
      f.error.hidden = !message;
      f.wrap.classList.toggle('invalid', Boolean(message));
      for (const input of f.inputs) {
        if (message) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
        const ids = new Set((input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean));
        if (message) ids.add(f.error.id);
        else ids.delete(f.error.id);
        if (ids.size) input.setAttribute('aria-describedby', [...ids].join(' '));
        else input.removeAttribute('aria-describedby');
      }
    }
    general.textContent = st.general ? t(st.general.key, st.general.vars) : '';
    general.hidden = !st.general;
  }

  // ------------------------------------------------------ side by side

  /** The value of question `qid` in `sheet`, in words: an option's label, a number of its range, text. */
  function valueText(sheet, qid) {
    const v = sheet.answers?.[qid];
    if (!answered(v)) return null;
    const q = questionOf(defOf(sheet.version), qid);
    // A version no longer defined: the raw ids.
    if (!q) return Array.isArray(v) ? v.join(', ') : String(v);
    const label = (oid) => words((q.options || []).find((o) => o.id === oid), 'label') || oid;
    if (q.kind === 'choice') return label(v);
    if (q.kind === 'choices') return (Array.isArray(v) ? v : [v]).map(label).join(t('hearing.compare.sep'));
    if (q.kind === 'scale') return t('hearing.compare.scale', { n: v, max: scaleRange(q)[1] });
    return String(v);
  }

  /** One row per question id, in the newest definition's order; a question only older versions had, after. */
  function rows(sheets) {
    const versions = new Set(sheets.map((s) => s.version));
    const byNewest = [...(st.defs?.sheets || [])].sort((a, b) => b.version - a.version);
    const current = defOf(st.defs?.current);
    const order = [];
    const seen = new Set();
    const add = (qid, def) => {
      if (seen.has(qid)) return;
      seen.add(qid);
      order.push({ id: qid, def });
    };
    for (const d of byNewest) {
      if (!versions.has(d.version)) continue;
      for (const q of questionsOf(d)) add(q.id, d);
    }
    for (const s of sheets) for (const qid of Object.keys(s.answers || {})) add(qid, null);
    // Its label from the newest definition that has it, whichever sheets are shown.
    return order.map(({ id: qid, def }) => {
      const newest = byNewest.find((d) => questionOf(d, qid)) || def;
      const gone = newest && !questionOf(current, qid);
      return { id: qid, label: words(questionOf(newest, qid), 'label') || qid, until: gone ? newest.version : null };
    });
  }

  function cell(sheet, qid, before) {
    const text = valueText(sheet, qid);
    if (text === null) return h('td', { class: 'hearing-none' }, h('span', { 'aria-hidden': 'true', text: '—' }), h('span', { class: 'visually-hidden', text: t('hearing.unanswered') }));
    const v = sheet.answers[qid];
    const was = before?.answers?.[qid];
    const td = h('td', {}, h('span', { text }));
    if (before && answered(was) && JSON.stringify(was) !== JSON.stringify(v)) {
      td.classList.add('changed');
      const up = typeof v === 'number' && typeof was === 'number' ? (v > was ? 'up' : 'down') : null;
      if (up) td.append(h('span', { class: `hearing-trend ${up}`, 'aria-hidden': 'true', text: up === 'up' ? ' ↑' : ' ↓' }));
      td.append(h('span', { class: 'visually-hidden', text: t(up ? `hearing.compare.${up}` : 'hearing.compare.changed') }));
    }
    return td;
  }

  function renderCompare() {
    const earlier = st.earlier.filter((e) => e.hearing).map((e) => ({ at: e.started_at, sheet: e.hearing }));
    compare.hidden = !earlier.length || st.status !== 'ready';
    if (compare.hidden) return;
    const now = { version: st.def.version, answers: st.answers, complete: Boolean(st.saved?.complete) };
    const cols = [...earlier, { now: true, sheet: now }];
    const stateWord = (c) => t(`hearing.state.${c.now ? stateKey() || 'new' : c.sheet.complete ? 'complete' : 'draft'}`);
    const versionWord = (v) => (defOf(v) ? t('hearing.version', { v }) : t('hearing.version.gone', { v }));
    const head = h(
      'tr',
      {},
      h('th', { scope: 'col', text: t('hearing.compare.question') }),
      ...cols.map((c) =>
        h(
          'th',
          { scope: 'col', class: c.now ? 'hearing-now' : '' },
          h('span', { class: 'hearing-col-date', text: c.now ? t('hearing.compare.now') : shortDate(c.at) }),
          h('span', { class: 'hearing-col-meta', text: t('hearing.compare.meta', { version: versionWord(c.sheet.version), state: stateWord(c) }) }),
        ),
      ),
    );
    const body = rows(cols.map((c) => c.sheet)).map((r) =>
      h(
        'tr',
        { 'data-question': r.id },
        h('th', { scope: 'row' }, r.label, r.until ? h('span', { class: 'hearing-old', text: t('hearing.compare.old_only', { v: r.until }) }) : null),
        ...cols.map((c, i) => {
          const td = cell(c.sheet, r.id, i > 0 ? cols[i - 1].sheet : null);
          if (c.now) td.classList.add('hearing-now');
          return td;
        }),
      ),
    );
    const caption = h('caption', { class: 'visually-hidden', text: t('hearing.compare.caption') });
    const table = h('table', { class: 'hearing-table' }, caption, h('thead', {}, head), h('tbody', {}, ...body));
    compare.replaceChildren(
      h('summary', { text: t('hearing.compare.summary', { n: earlier.length }) }),
      h('div', { class: 'hearing-table-wrap', role: 'region', tabindex: '0', 'aria-label': t('hearing.compare.caption') }, table),
    );
  }

  // ------------------------------------------------------------ render

  function stateKey() {
    if (!st.saved) return null;
    return st.saved.complete ? 'complete' : 'draft';
  }

  function renderToggle() {
    toggleText.textContent = t('hearing.open');
    const k = stateKey();
    badge.hidden = !k;
    badge.textContent = k ? t(`hearing.state.${k}`) : '';
    badge.dataset.state = k || '';
    headBadge.textContent = t(`hearing.state.${k || 'new'}`);
    headBadge.dataset.state = k || 'new';
  }

  function renderStatus() {
    let text = '';
    if (st.saving) text = t('hearing.saving');
    else if (st.dirty && st.saved) text = t('hearing.dirty');
    else if (st.saved) text = t('hearing.saved', { time: formatTime(st.saved.saved_at), name: st.saved.saved_by?.display_name || '' });
    else if (st.status === 'ready') text = st.dirty ? t('hearing.dirty') : t('hearing.not_saved');
    status.textContent = text;
    status.dataset.state = st.saving ? 'saving' : st.dirty ? 'dirty' : stateKey() || 'new';
    tellRelay();
    const ready = st.status === 'ready' && !st.erased;
    draftButton.disabled = !ready;
    completeButton.disabled = !ready;
    general.textContent = st.general ? t(st.general.key, st.general.vars) : '';
    general.hidden = !st.general;
  }

  function renderAll() {
    st.builtLang = lang();
    heading.textContent = t('hearing.heading');
    close.textContent = t('hearing.close');
    intro.textContent = t('hearing.intro');
    retry.textContent = t('hearing.retry');
    draftButton.textContent = t('hearing.save_draft');
    completeButton.textContent = t('hearing.save_complete');
    versionText.textContent = st.def ? t('hearing.version', { v: st.def.version }) : '';
    message.hidden = st.status === 'ready';
    message.textContent = st.status === 'failed' ? t('hearing.load_failed') : t('hearing.loading');
    retry.hidden = st.status !== 'failed';
    if (st.status === 'ready') buildForm();
    else sections.replaceChildren();
    renderToggle();
    renderStatus();
    renderCompare();
  }

  return {
    toggle,
    column,
    /** After each render of the conversation: shown to the one who holds it; loaded once; a new language rebuilt. */
    sync(available) {
      toggle.hidden = !available;
      if (!available) {
        if (st.open) setOpen(false, { focus: false });
        return;
      }
      if (st.status === 'idle') load();
      else if (st.builtLang !== lang()) renderAll();
    },
    /** The case view of a returning visitor (or null): its earlier sheets, side by side. */
    setCase(kase) {
      st.earlier = kase?.earlier || [];
      renderCompare();
    },
    /** The panel is going: a draft not yet saved is saved now (`flush`), timers stop. */
    dispose({ flush = true } = {}) {
      clearTimeout(st.compareTimer);
      if (flush && st.dirty && !st.saved?.complete) save(false, { auto: true });
      clearTimeout(st.timer);
      st.disposed = true;
    },
  };
}
