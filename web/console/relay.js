// Issue 23: the relay sheet (つなぐシート) of a conversation, in the
// hearing sheet's column: hearing.js puts `opener` in its foot and shows
// `view` in the sheet's place. The view lists the relays proposed so far
// (per partner: the visitor's answer, when, how often the partner opened
// it; for a consent, a one-time link with a copy button and the printed
// sheet; after a withdrawal, that both stopped), read again on every
// `relay_changed`. Its form prepares a new one from the SAVED hearing
// sheet: why (shown to the visitor and the partners), up to five partners
// that take relays (those fitting the visitor's age band), and for each
// the answered questions to pass on, none ticked until the counsellor
// chooses; then what the visitor will read, and 「相談者に提案する」.
//
// Only answers the counsellor ticks leave the sheet; the link's token is
// kept in this page's memory only (never in storage) while it is shown.

import { t, lang, formatJapanDateTime, errorText } from '../i18n.js';
import { h } from '../common.js';
import { copyFrom } from '../copy.js';

/** The server's limits (core::relay). */
const PURPOSE_MAX_CHARS = 300;
const PARTNERS_MAX = 5;
const STATES = ['asked', 'given', 'refused', 'withdrawn'];

function chars(text) {
  return [...(text || '')].length;
}

/** `o.{field}_ja` or `_en` in the console's language (Japanese when there is no English). */
function words(o, field) {
  return (lang() === 'en' ? o?.[`${field}_en`] : o?.[`${field}_ja`]) || o?.[`${field}_ja`] || '';
}

function questionsOf(def) {
  return (def?.sections || []).flatMap((s) => s.questions);
}

/**
 * The answered questions of a saved sheet as a relay would pass them on,
 * word for word: the server renders them (`shared` in the sheet it
 * returns; core::relay::shareable), so what is offered here is what the
 * visitor and the partner read.
 */
function shareable(saved) {
  return saved?.shared || [];
}

function nameOf(p) {
  return (lang() === 'en' && p.name_en) || p.name_ja;
}

function kindsOf(offers) {
  return (offers || []).map((o) => t(`partners.offer.${o}`)).join(t('refer.sep'));
}

async function fetchPartners(ageBand) {
  const q = ageBand ? `?age_band=${encodeURIComponent(ageBand)}` : '';
  const r = await fetch(`/api/partners${q}`, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`partners: ${r.status}`);
  return (await r.json()).partners || [];
}

async function send(method, url, body) {
  try {
    const r = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { ok: r.ok, status: r.status, body: await r.json().catch(() => ({})) };
  } catch {
    return { ok: false, status: 0, body: { code: 'network' } };
  }
}

/**
 * The relay sheets of conversation `id`. `getPreChat()` gives the
 * visitor's pre-chat answers (the age band filters the partners);
 * `onNotice(key)` is told when the visitor answered or withdrew (for the
 * console's banner). Returns {opener, view, attach, setSheet, sync,
 * changed, dispose}.
 */
export function relaySheet(id, { getPreChat = () => ({}), onNotice = () => {} } = {}) {
  const base = `conv-${id}-relay`;
  const api = `/api/counsellor/conversations/${encodeURIComponent(id)}/relays`;
  const st = {
    available: false,
    /** The hearing sheet as hearing.js has it: {saved, def, dirty}. */
    sheet: { saved: null, def: null, dirty: false },
    relays: null,
    load: 'idle',
    loadSeq: 0,
    formOpen: false,
    purpose: '',
    /** Partner ids chosen, in the order chosen. */
    chosen: [],
    /** partner id -> Set of question ids ticked. */
    picks: new Map(),
    partners: null,
    partnersLoad: 'idle',
    ageBand: null,
    hiddenPartners: 0,
    /** Refusals by where they are shown: purpose, partners, part:<id>, general. */
    errors: {},
    sending: false,
    /** `${relay}:${partner}` -> {url, expires_at}: a link shown once. */
    links: new Map(),
    /** `${relay}:${partner}` -> a refusal of a link, {err} or {key}. */
    linkErrors: new Map(),
    issuing: new Set(),
    shown: false,
    show: () => {},
    builtLang: null,
    disposed: false,
  };

  // ------------------------------------------------------------ elements

  const openerText = h('span', {});
  const openerBadge = h('span', { class: 'badge relayc-opener-badge', hidden: true });
  const opener = h(
    'button',
    { type: 'button', class: 'secondary relayc-opener', 'aria-controls': base, hidden: true },
    openerText,
    openerBadge,
  );
  const heading = h('h3', { id: `${base}-heading`, class: 'relayc-heading', tabindex: '-1' });
  const back = h('button', { type: 'button', class: 'button-quiet relayc-back' });
  const intro = h('p', { class: 'hint relayc-intro' });
  const sheetNote = h('p', { class: 'relayc-sheet-note', hidden: true });
  const live = h('p', { class: 'visually-hidden relayc-live', role: 'status', 'aria-live': 'polite' });
  const listHeading = h('h4', { id: `${base}-list-heading`, class: 'relayc-list-heading' });
  const listMessage = h('p', { class: 'hint relayc-list-message', hidden: true });
  const listRetry = h('button', { type: 'button', class: 'secondary relayc-retry', hidden: true });
  const list = h('ol', { class: 'relayc-relays', 'aria-labelledby': listHeading.id });
  const listBox = h('section', { class: 'relayc-list', 'aria-labelledby': listHeading.id, hidden: true }, listHeading, listMessage, listRetry, list);
  const newButton = h('button', { type: 'button', class: 'primary relayc-new' });

  // The form: 1 why, 2 to whom, 3 what each is told, 4 what the visitor reads.
  const formHeading = h('h4', { id: `${base}-form-heading`, class: 'relayc-form-heading', tabindex: '-1' });
  const replaceNote = h('p', { class: 'relayc-replace', hidden: true });
  const purposeId = `${base}-purpose`;
  const purposeLabel = h('label', { for: purposeId, class: 'relayc-step-title' });
  const purposeHint = h('p', { id: `${purposeId}-hint`, class: 'hint relayc-purpose-hint' });
  const purposeCount = h('span', { id: `${purposeId}-count`, class: 'hint relayc-count' });
  const purposeError = h('p', { id: `${purposeId}-error`, class: 'error relayc-field-error', hidden: true });
  const purpose = h('textarea', {
    id: purposeId,
    rows: '2',
    class: 'relayc-purpose',
    'aria-describedby': `${purposeHint.id} ${purposeCount.id}`,
  });
  const purposeStep = h('div', { class: 'relayc-step', 'data-step': 'purpose' }, purposeLabel, purposeHint, purposeError, purpose, purposeCount);

  const partnersLegend = h('legend', { class: 'relayc-step-title' });
  const partnersIntro = h('p', { id: `${base}-partners-intro`, class: 'hint relayc-partners-intro' });
  const partnersError = h('p', { id: `${base}-partners-error`, class: 'error relayc-field-error', hidden: true });
  const partnerList = h('ul', { class: 'relayc-partners' });
  const partnersEmpty = h('p', { class: 'hint relayc-partners-empty', hidden: true });
  const partnersCount = h('p', { class: 'hint relayc-partners-count', 'aria-live': 'polite' });
  const partnersRetry = h('button', { type: 'button', class: 'secondary relayc-retry', hidden: true });
  const partnersStep = h(
    'fieldset',
    { class: 'relayc-step', 'data-step': 'partners', 'aria-describedby': partnersIntro.id },
    partnersLegend,
    partnersIntro,
    partnersError,
    partnerList,
    partnersEmpty,
    partnersRetry,
    partnersCount,
  );

  const answersTitle = h('h5', { class: 'relayc-step-title' });
  const answersHint = h('p', { class: 'hint relayc-answers-hint' });
  const answersBox = h('div', { class: 'relayc-answer-sets' });
  const answersStep = h('div', { class: 'relayc-step', 'data-step': 'answers' }, answersTitle, answersHint, answersBox);

  const previewTitle = h('h5', { id: `${base}-preview-title`, class: 'relayc-step-title' });
  const previewNote = h('p', { class: 'hint relayc-preview-note' });
  const previewBox = h('div', { class: 'relayc-preview-body' });
  const previewStep = h(
    'section',
    { class: 'relayc-step relayc-preview', 'data-step': 'preview', 'aria-labelledby': previewTitle.id },
    previewTitle,
    previewNote,
    previewBox,
  );

  const formBody = h('div', { class: 'relayc-form-body', hidden: true }, formHeading, replaceNote, purposeStep, partnersStep, answersStep, previewStep);
  const scroll = h('div', { class: 'relayc-scroll' }, intro, sheetNote, live, listBox, newButton, formBody);

  const general = h('p', { class: 'error relayc-error', role: 'alert', hidden: true });
  const sending = h('p', { class: 'hint relayc-sending', role: 'status' });
  const cancel = h('button', { type: 'button', class: 'secondary relayc-cancel' });
  const submit = h('button', { type: 'submit', class: 'primary relayc-submit' });
  const foot = h('div', { class: 'relayc-foot', hidden: true }, general, sending, h('div', { class: 'relayc-actions' }, cancel, submit));
  const form = h('form', { class: 'relayc-form', novalidate: true, onsubmit: (ev) => propose(ev) }, scroll, foot);
  const view = h(
    'section',
    { id: base, class: 'relayc-view', 'aria-labelledby': heading.id, hidden: true },
    h('div', { class: 'relayc-head' }, heading, back),
    form,
  );

  opener.addEventListener('click', () => {
    st.show(true);
    // Nothing proposed yet: the form is what the counsellor came for.
    if (st.relays && st.relays.length === 0 && canPrepare()) openForm();
    else heading.focus();
  });
  back.addEventListener('click', () => {
    st.show(false);
    opener.focus();
  });
  listRetry.addEventListener('click', () => load());
  partnersRetry.addEventListener('click', () => loadPartners());
  newButton.addEventListener('click', () => openForm());
  cancel.addEventListener('click', () => closeForm({ focus: true }));
  purpose.addEventListener('input', () => {
    st.purpose = purpose.value;
    if (st.errors.purpose) setError('purpose', null);
    renderPurposeCount();
    renderPreview();
  });

  // ------------------------------------------------------------ loading

  async function load() {
    const seq = (st.loadSeq += 1);
    if (!st.relays) {
      st.load = 'loading';
      renderList();
    }
    const r = await send('GET', api);
    if (seq !== st.loadSeq || st.disposed) return;
    if (!r.ok) {
      st.load = st.relays ? 'ready' : 'failed';
      renderList();
      return;
    }
    const before = st.relays;
    st.relays = r.body.relays || [];
    st.load = 'ready';
    // A link whose consent is gone no longer works: it is not shown.
    for (const key of [...st.links.keys()]) if (stateOf(key) !== 'given') st.links.delete(key);
    if (before) announceChanges(before, st.relays);
    renderAll({ keepFocus: true });
  }

  function stateOf(key) {
    const [rid, pid] = key.split(':');
    return st.relays?.find((x) => x.relay_id === rid)?.parts.find((p) => p.partner_id === pid)?.consent.state;
  }

  /** The visitor answered or withdrew: said in the view and, for the console's banner, told. */
  function announceChanges(before, after) {
    const said = [];
    let kind = null;
    for (const r of after) {
      const old = before.find((x) => x.relay_id === r.relay_id);
      for (const p of r.parts) {
        const was = old?.parts.find((x) => x.partner_id === p.partner_id)?.consent.state || 'asked';
        const now = p.consent.state;
        if (was === now || now === 'asked') continue;
        said.push(t('relayc.live.part', { name: nameOf(p), state: t(`relayc.state.${now}`) }));
        kind = now === 'withdrawn' ? 'withdrawn' : kind || 'answered';
      }
    }
    if (!said.length) return;
    live.textContent = said.join(' ');
    onNotice(kind === 'withdrawn' ? 'relayc.notice.withdrawn' : 'relayc.notice.answered');
  }

  function usableAge() {
    const a = getPreChat()?.age_band;
    return a && a !== 'rather_not_say' ? a : null;
  }

  async function loadPartners() {
    st.partnersLoad = 'loading';
    st.ageBand = usableAge();
    renderPartners();
    try {
      const all = await fetchPartners(st.ageBand);
      if (st.disposed) return;
      const taking = all.filter((p) => p.accepts_relays);
      st.hiddenPartners = all.length - taking.length;
      st.partners = taking;
      st.partnersLoad = 'ready';
      // A partner no longer offered is no longer chosen.
      const ids = new Set(taking.map((p) => p.partner_id));
      for (const pid of [...st.chosen]) if (!ids.has(pid)) unchoose(pid);
    } catch {
      if (st.disposed) return;
      st.partnersLoad = 'failed';
    }
    renderPartners();
    renderAnswers();
    renderPreview();
  }

  // --------------------------------------------------------------- form

  function canPrepare() {
    return Boolean(st.sheet.saved && shareable(st.sheet.saved).length);
  }

  function pending() {
    return (st.relays || []).find((r) => r.parts.every((p) => p.consent.state === 'asked')) || null;
  }

  function openForm() {
    if (!canPrepare()) return;
    st.formOpen = true;
    st.errors = {};
    renderAll();
    loadPartners();
    formHeading.focus();
    formHeading.scrollIntoView({ block: 'start' });
  }

  function closeForm({ focus = false } = {}) {
    st.formOpen = false;
    st.purpose = '';
    st.chosen = [];
    st.picks = new Map();
    st.errors = {};
    purpose.value = '';
    renderAll();
    if (focus) (newButton.hidden ? heading : newButton).focus();
  }

  function choose(pid, on) {
    if (on && !st.chosen.includes(pid)) {
      st.chosen.push(pid);
      st.picks.set(pid, new Set());
    }
    if (!on) unchoose(pid);
    if (st.errors.partners) setError('partners', null);
    renderPartnerLimits();
    renderAnswers();
    renderPreview();
  }

  function unchoose(pid) {
    st.chosen = st.chosen.filter((x) => x !== pid);
    st.picks.delete(pid);
    delete st.errors[`part:${pid}`];
  }

  function partnerOf(pid) {
    return (st.partners || []).find((p) => p.partner_id === pid) || null;
  }

  /** What the form would send, or the first thing missing: {where, key}. */
  function check() {
    const text = st.purpose.trim();
    if (!text) return { where: 'purpose', key: 'relayc.error.purpose_empty' };
    if (chars(text) > PURPOSE_MAX_CHARS) return { where: 'purpose', key: 'relayc.error.purpose_long', vars: { max: PURPOSE_MAX_CHARS, count: chars(text) } };
    if (!st.chosen.length) return { where: 'partners', key: 'relayc.error.no_partner' };
    if (st.chosen.length > PARTNERS_MAX) return { where: 'partners', key: 'relayc.error.too_many', vars: { max: PARTNERS_MAX } };
    for (const pid of st.chosen) {
      if (!st.picks.get(pid)?.size) return { where: `part:${pid}`, key: 'relayc.error.no_answer', vars: { name: nameOf(partnerOf(pid) || {}) } };
    }
    return null;
  }

  async function propose(ev) {
    ev.preventDefault();
    if (st.sending) return;
    st.errors = {};
    const missing = check();
    if (missing) {
      showRefusal(missing.where, { key: missing.key, vars: missing.vars });
      return;
    }
    const order = questionsOf(st.sheet.def).map((q) => q.id);
    const body = {
      purpose: st.purpose.trim(),
      partners: st.chosen.map((pid) => ({ partner_id: pid, questions: order.filter((q) => st.picks.get(pid).has(q)) })),
    };
    st.sending = true;
    renderFoot();
    const r = await send('POST', api, body);
    st.sending = false;
    if (st.disposed) return;
    if (r.ok && r.body.relay) {
      const made = r.body.relay;
      st.relays = [...(st.relays || []).filter((x) => x.parts.some((p) => p.consent.state !== 'asked')), made];
      closeForm();
      live.textContent = t('relayc.proposed');
      const item = list.querySelector(`[data-relay="${made.relay_id}"] .relayc-relay-title`);
      item?.focus();
      item?.scrollIntoView({ block: 'nearest' });
      load();
      return;
    }
    refused(r.body);
  }

  /** The server said no: shown by what it names (the purpose, a partner, a question), focus there. */
  async function refused(err) {
    const message = err?.message || '';
    const named = /partner ([0-9a-f-]{36})/.exec(message)?.[1];
    const question = /question `([a-z0-9_]+)`/.exec(message)?.[1];
    if (err?.code === 'partner_not_accepting' || (named && /^no partner/.test(message))) {
      const name = nameOf(partnerOf(named) || { name_ja: '' });
      const key = err?.code === 'partner_not_accepting' ? 'relayc.error.not_accepting' : 'relayc.error.partner_gone';
      if (named) unchoose(named);
      // The list as it is now, then the refusal by it (focus is not lost to the reload).
      await loadPartners();
      showRefusal('partners', { key, vars: { name } });
      return;
    }
    if (err?.code === 'bad_request' && /^purpose/.test(message)) {
      showRefusal('purpose', { err });
      return;
    }
    if (err?.code === 'bad_request' && /^partners:/.test(message)) {
      showRefusal('partners', { err });
      return;
    }
    if (err?.code === 'bad_request' && question) {
      const pid = st.chosen.find((p) => st.picks.get(p)?.has(question)) || st.chosen[0];
      const label = words(questionsOf(st.sheet.def).find((q) => q.id === question), 'label') || question;
      showRefusal(`part:${pid}`, { key: 'relayc.error.question', vars: { label } });
      return;
    }
    if (err?.code === 'bad_request' && named && st.chosen.includes(named)) {
      showRefusal(`part:${named}`, { err });
      return;
    }
    if (err?.code === 'bad_request' && /hearing sheet first/.test(message)) {
      showRefusal('general', { key: 'relayc.error.no_sheet' });
      return;
    }
    showRefusal('general', { key: 'relayc.error.failed', vars: { reason: errorText(err, { message }) } });
  }

  function setError(where, spec) {
    if (spec) st.errors[where] = spec;
    else delete st.errors[where];
    renderErrors();
  }

  function showRefusal(where, spec) {
    st.errors = { [where]: spec };
    renderAll();
    const target =
      where === 'purpose'
        ? purpose
        : where === 'partners'
          ? partnerList.querySelector('input:not(:disabled)') || partnersError
          : where.startsWith('part:')
            ? answersBox.querySelector(`[data-partner="${where.slice(5)}"] input`)
            : null;
    if (target) {
      if (target === partnersError) partnersError.setAttribute('tabindex', '-1');
      target.focus();
      target.closest('.relayc-step, .relayc-answer-set')?.scrollIntoView({ block: 'nearest' });
    } else {
      general.scrollIntoView({ block: 'nearest' });
    }
  }

  function errorWords(spec) {
    if (!spec) return '';
    if (spec.err) return t('relayc.error.server', { message: spec.err.message || errorText(spec.err) });
    return t(spec.key, spec.vars);
  }

  // ------------------------------------------------------- link, print

  async function issue(relay, part) {
    const key = `${relay.relay_id}:${part.partner_id}`;
    if (st.issuing.has(key)) return;
    st.issuing.add(key);
    st.linkErrors.delete(key);
    renderList({ keepFocus: true });
    const r = await send('POST', `${api}/${encodeURIComponent(relay.relay_id)}/link`, { partner_id: part.partner_id });
    st.issuing.delete(key);
    if (st.disposed) return;
    if (r.ok && r.body.link) {
      st.links.set(key, { url: `${location.origin}${r.body.link}`, expires_at: r.body.expires_at });
      renderList();
      live.textContent = t('relayc.link.issued', { name: nameOf(part) });
      list.querySelector(`[data-focus="copy:${key}"]`)?.focus();
      load();
      return;
    }
    st.linkErrors.set(key, r.body?.code === 'outside_consent' ? { key: 'relayc.link.outside' } : { err: r.body });
    renderList();
    list.querySelector(`[data-focus="issue:${key}"]`)?.focus();
    if (r.body?.code === 'outside_consent') load();
  }

  function hideLink(key) {
    st.links.delete(key);
    renderList();
    list.querySelector(`[data-focus="issue:${key}"]`)?.focus();
  }

  function printHref(relay, part) {
    const q = new URLSearchParams({ c: id, r: relay.relay_id, p: part.partner_id });
    return `/console/relay-print.html?${q}`;
  }

  /** The printed sheet (relay-print.html) in a new tab. */
  function printLink(relay, part, key, detailsId) {
    return h(
      'a',
      {
        class: 'button-link relayc-print',
        href: printHref(relay, part),
        target: '_blank',
        rel: 'noopener',
        'data-focus': `print:${key}`,
        'aria-describedby': detailsId,
      },
      t('relayc.print'),
      h('span', { class: 'visually-hidden', text: t('relayc.new_tab') }),
    );
  }

  // ------------------------------------------------------------- render

  function renderOpener() {
    const latest = st.relays?.[st.relays.length - 1];
    openerText.textContent = latest ? t('relayc.opener.some') : t('relayc.opener.none');
    let badge = '';
    if (latest) {
      const parts = latest.parts;
      const given = parts.filter((p) => p.consent.state === 'given').length;
      if (parts.every((p) => p.consent.state === 'asked')) badge = t('relayc.badge.asked');
      else badge = t('relayc.badge.given', { n: given, total: parts.length });
    }
    openerBadge.textContent = badge;
    openerBadge.hidden = !badge;
    opener.setAttribute('aria-expanded', String(st.shown));
  }

  function renderSheetNote() {
    let key = null;
    if (!st.sheet.saved) key = 'relayc.sheet.none';
    else if (!shareable(st.sheet.saved).length) key = 'relayc.sheet.empty';
    else if (st.sheet.dirty) key = 'relayc.sheet.dirty';
    sheetNote.textContent = key ? t(key) : '';
    sheetNote.hidden = !key;
    sheetNote.dataset.kind = key ? key.split('.').pop() : '';
  }

  function when(ms) {
    return ms ? formatJapanDateTime(ms) : '';
  }

  /** A moment of this relay's life, short: "14:05" today, else "12/3 14:05" ("3 Dec 14:05"), Japan time. */
  function moment(ms) {
    if (!ms) return '';
    const en = lang() === 'en';
    const parts = (d) => {
      const p = {};
      for (const x of new Intl.DateTimeFormat(en ? 'en-GB' : 'ja-JP', {
        timeZone: 'Asia/Tokyo',
        month: en ? 'short' : 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: '2-digit',
        hourCycle: 'h23',
      }).formatToParts(d)) {
        p[x.type] = x.value;
      }
      return p;
    };
    const p = parts(new Date(ms));
    const today = parts(new Date());
    const time = `${p.hour}:${p.minute}`;
    if (p.month === today.month && p.day === today.day) return time;
    return en ? `${p.day} ${p.month} ${time}` : `${p.month}/${p.day} ${time}`;
  }

  function stateLine(part) {
    const c = part.consent;
    if (c.state === 'withdrawn') return t('relayc.when.withdrawn', { when: moment(c.at_ms), given: moment(c.given_at_ms) });
    if (c.state === 'given' || c.state === 'refused') return t('relayc.when.answered', { when: moment(c.at_ms) });
    return '';
  }

  function viewsLine(part) {
    const s = part.consent.state;
    if (s !== 'given' && s !== 'withdrawn') return '';
    if (!part.link_expires_at && !part.views) return t('relayc.views.no_link');
    if (part.views === 0) return t('relayc.views.none');
    return part.views === 1 ? t('relayc.views.one') : t('relayc.views', { n: part.views });
  }

  function fieldList(fields, cls = 'relayc-fields') {
    return h(
      'dl',
      { class: cls },
      ...fields.flatMap((f) => [h('dt', { text: words(f, 'label') }), h('dd', { text: words(f, 'answer') })]),
    );
  }

  function linkBox(key, part) {
    const link = st.links.get(key);
    if (!link) return null;
    const urlId = `${base}-link-${key.replace(':', '-')}`;
    const noteId = `${urlId}-note`;
    const statusId = `${urlId}-copied`;
    const copy = h('button', {
      type: 'button',
      class: 'primary relayc-copy',
      'data-focus': `copy:${key}`,
      'aria-describedby': `${urlId}-label ${noteId}`,
      text: t('relayc.link.copy'),
    });
    copy.addEventListener('click', () => copyFrom(urlId, statusId));
    const hide = h('button', { type: 'button', class: 'button-quiet relayc-link-hide', 'data-focus': `hide:${key}`, text: t('relayc.link.hide') });
    hide.addEventListener('click', () => hideLink(key));
    return h(
      'div',
      { class: 'relayc-link', 'data-link': key },
      h('p', { id: `${urlId}-label`, class: 'relayc-link-label', text: t('relayc.link.label', { name: nameOf(part) }) }),
      h('p', { id: urlId, class: 'relayc-link-url', text: link.url }),
      h('p', { id: noteId, class: 'relayc-link-note', text: t('relayc.link.once', { when: when(link.expires_at) }) }),
      h('div', { class: 'relayc-link-actions' }, copy, hide),
      h('p', { id: statusId, class: 'relayc-copied', role: 'status', hidden: true }),
    );
  }

  function partItem(relay, part) {
    const key = `${relay.relay_id}:${part.partner_id}`;
    const s = STATES.includes(part.consent.state) ? part.consent.state : 'asked';
    const detailsId = `${base}-part-${key.replace(':', '-')}`;
    const meta = [stateLine(part), viewsLine(part)].filter(Boolean).join(t('relayc.meta.sep'));
    const actions = [];
    let say = null;
    // While a new link is shown, issuing another (which would replace it) waits until it is put away.
    if (s === 'given' && st.links.has(key)) {
      actions.push(printLink(relay, part, key, detailsId));
    } else if (s === 'given') {
      const again = Boolean(part.link_expires_at);
      const issueButton = h('button', {
        type: 'button',
        class: 'secondary relayc-issue',
        'data-focus': `issue:${key}`,
        'aria-describedby': detailsId,
        text: st.issuing.has(key) ? t('relayc.link.issuing') : again ? t('relayc.link.reissue') : t('relayc.link.issue'),
      });
      issueButton.disabled = st.issuing.has(key);
      issueButton.addEventListener('click', () => issue(relay, part));
      actions.push(issueButton);
      actions.push(printLink(relay, part, key, detailsId));
      if (again) say = t('relayc.link.reissue_hint', { when: when(part.link_expires_at) });
    } else if (s === 'withdrawn') {
      say = t('relayc.part.withdrawn');
    } else if (s === 'refused') {
      say = t('relayc.part.refused');
    } else {
      say = t('relayc.part.asked');
    }
    const linkError = st.linkErrors.get(key);
    return h(
      'li',
      { class: 'relayc-part', 'data-partner': part.partner_id, 'data-state': s },
      h(
        'div',
        { class: 'relayc-part-head', id: detailsId },
        h('span', { class: 'relayc-part-name', text: nameOf(part) }),
        h('span', { class: 'badge relayc-state', 'data-state': s, text: t(`relayc.state.${s}`) }),
      ),
      meta ? h('p', { class: 'relayc-part-meta', text: meta }) : null,
      say ? h('p', { class: `relayc-part-say${s === 'withdrawn' ? ' stopped' : ''}`, text: say }) : null,
      h(
        'details',
        { class: 'relayc-part-fields', 'data-key': key },
        h('summary', { text: t('relayc.part.fields', { n: part.fields.length }) }),
        fieldList(part.fields),
      ),
      actions.length ? h('div', { class: 'relayc-part-actions' }, ...actions) : null,
      linkError ? h('p', { class: 'error relayc-link-error', role: 'alert', text: errorWords(linkError) }) : null,
      linkBox(key, part),
    );
  }

  function relayItem(relay, index) {
    const waiting = relay.parts.every((p) => p.consent.state === 'asked');
    return h(
      'li',
      { class: 'relayc-relay', 'data-relay': relay.relay_id },
      h('h5', {
        class: 'relayc-relay-title',
        tabindex: '-1',
        'data-focus': `title:${relay.relay_id}`,
        text: t('relayc.relay.title', { n: index + 1, when: moment(relay.created_at) }),
      }),
      h('p', { class: 'relayc-relay-purpose' }, h('span', { class: 'relayc-k', text: t('relayc.relay.purpose') }), relay.purpose),
      waiting ? h('p', { class: 'hint relayc-relay-waiting', text: t('relayc.relay.waiting') }) : null,
      h('ul', { class: 'relayc-parts' }, ...relay.parts.map((p) => partItem(relay, p))),
    );
  }

  function renderList({ keepFocus = false } = {}) {
    const focusKey = keepFocus && list.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
    // What the counsellor opened stays open when the list is read again.
    const opened = [...list.querySelectorAll('details[open]')].map((d) => d.dataset.key);
    listHeading.textContent = t('relayc.list.heading');
    listRetry.textContent = t('relayc.retry');
    const relays = st.relays || [];
    listBox.hidden = st.load !== 'failed' && st.load !== 'loading' && relays.length === 0;
    listMessage.hidden = st.load !== 'failed' && st.load !== 'loading';
    listMessage.textContent = st.load === 'failed' ? t('relayc.list.failed') : t('relayc.list.loading');
    listRetry.hidden = st.load !== 'failed';
    // The newest first: the one the counsellor is waiting on.
    const items = relays.map((r, i) => relayItem(r, i)).reverse();
    list.replaceChildren(...items);
    for (const d of list.querySelectorAll('details')) if (opened.includes(d.dataset.key)) d.open = true;
    if (focusKey) list.querySelector(`[data-focus="${focusKey}"]`)?.focus();
    renderOpener();
  }

  function partnerItem(p) {
    const boxId = `${base}-p-${p.partner_id}`;
    const detailsId = `${boxId}-details`;
    const input = h('input', { type: 'checkbox', id: boxId, value: p.partner_id, class: 'relayc-pick', 'aria-describedby': detailsId });
    input.checked = st.chosen.includes(p.partner_id);
    input.addEventListener('change', () => choose(p.partner_id, input.checked));
    return h(
      'li',
      { class: 'check relayc-partner', 'data-partner': p.partner_id },
      input,
      h('label', { for: boxId, class: 'relayc-partner-name', text: nameOf(p) }),
      h(
        'div',
        { class: 'relayc-partner-details', id: detailsId },
        h('span', { text: t('refer.kinds', { kinds: kindsOf(p.offers) }) }),
        h('span', { text: t('refer.area', { area: p.area || t('refer.area.any') }) }),
      ),
    );
  }

  function renderPartners() {
    partnersLegend.textContent = t('relayc.step.partners', { max: PARTNERS_MAX });
    const parts = [st.ageBand ? t('relayc.partners.for_age', { age: t(`age_band.${st.ageBand}`) }) : t('relayc.partners.all_ages')];
    if (st.hiddenPartners) parts.push(t('relayc.partners.hidden', { n: st.hiddenPartners }));
    partnersIntro.textContent = parts.join('');
    partnersRetry.textContent = t('relayc.retry');
    const all = st.partners || [];
    partnerList.replaceChildren(...all.map(partnerItem));
    partnerList.hidden = all.length === 0;
    let text = '';
    if (st.partnersLoad === 'loading' && !st.partners) text = t('relayc.partners.loading');
    else if (st.partnersLoad === 'failed') text = t('relayc.partners.failed');
    else if (st.partners && all.length === 0) text = t('relayc.partners.none');
    partnersEmpty.textContent = text;
    partnersEmpty.hidden = !text;
    partnersRetry.hidden = st.partnersLoad !== 'failed';
    renderPartnerLimits();
  }

  /** At most five: the others are not offered once five are chosen. */
  function renderPartnerLimits() {
    const full = st.chosen.length >= PARTNERS_MAX;
    for (const input of partnerList.querySelectorAll('input')) input.disabled = full && !input.checked;
    const n = st.chosen.length;
    partnersCount.textContent = n ? (full ? t('relayc.partners.full', { n, max: PARTNERS_MAX }) : t('relayc.partners.chosen', { n })) : '';
    partnersCount.hidden = !n;
  }

  function answerSet(pid, fields) {
    const p = partnerOf(pid) || { name_ja: pid };
    const picks = st.picks.get(pid) || new Set();
    const setId = `${base}-a-${pid}`;
    const errorId = `${setId}-error`;
    const err = st.errors[`part:${pid}`];
    const rows = fields.map((f) => {
      const boxId = `${setId}-${f.question}`;
      const input = h('input', { type: 'checkbox', id: boxId, value: f.question, 'aria-describedby': `${boxId}-answer${err ? ` ${errorId}` : ''}` });
      if (err) input.setAttribute('aria-invalid', 'true');
      input.checked = picks.has(f.question);
      input.addEventListener('change', () => {
        if (input.checked) picks.add(f.question);
        else picks.delete(f.question);
        if (st.errors[`part:${pid}`]) {
          delete st.errors[`part:${pid}`];
          renderAnswers();
          answersBox.querySelector(`#${CSS.escape(boxId)}`)?.focus();
        }
        renderPreview();
      });
      return h(
        'li',
        { class: 'relayc-question', 'data-question': f.question },
        input,
        h('label', { for: boxId, text: words(f, 'label') }),
        h('p', { id: `${boxId}-answer`, class: 'relayc-answer', text: words(f, 'answer') }),
      );
    });
    return h(
      'fieldset',
      { class: 'relayc-answer-set', 'data-partner': pid },
      h('legend', { text: t('relayc.answers.legend', { name: nameOf(p) }) }),
      err ? h('p', { id: errorId, class: 'error relayc-field-error', text: errorWords(err) }) : null,
      h('ul', { class: 'relayc-questions' }, ...rows),
    );
  }

  function renderAnswers() {
    answersTitle.textContent = t('relayc.step.answers');
    const fields = shareable(st.sheet.saved);
    // Ticks of questions no longer answered in the saved sheet fall away.
    const have = new Set(fields.map((f) => f.question));
    for (const picks of st.picks.values()) for (const q of [...picks]) if (!have.has(q)) picks.delete(q);
    answersHint.textContent = st.chosen.length ? t('relayc.answers.hint') : t('relayc.answers.first');
    answersBox.replaceChildren(...st.chosen.map((pid) => answerSet(pid, fields)));
  }

  function renderPreview() {
    previewTitle.textContent = t('relayc.step.preview');
    previewNote.textContent = t('relayc.preview.note');
    const fields = shareable(st.sheet.saved);
    const text = st.purpose.trim();
    const cards = st.chosen.map((pid) => {
      const p = partnerOf(pid) || { name_ja: pid, offers: [] };
      const picks = st.picks.get(pid) || new Set();
      const chosen = fields.filter((f) => picks.has(f.question));
      return h(
        'div',
        { class: 'relayc-preview-part', 'data-partner': pid },
        h('p', { class: 'relayc-preview-name', text: nameOf(p) }),
        h('p', { class: 'relayc-preview-kinds', text: t('relayc.preview.offers', { offers: kindsOf(p.offers) }) }),
        chosen.length
          ? h('div', {}, h('p', { class: 'relayc-k', text: t('relayc.preview.fields') }), fieldList(chosen, 'relayc-fields relayc-preview-fields'))
          : h('p', { class: 'hint', text: t('relayc.preview.nothing') }),
      );
    });
    previewBox.replaceChildren(
      h('p', { class: 'relayc-preview-purpose' }, h('span', { class: 'relayc-k', text: t('relayc.preview.purpose') }), text || h('span', { class: 'hint', text: t('relayc.preview.no_purpose') })),
      ...(cards.length ? cards : [h('p', { class: 'hint', text: t('relayc.preview.no_partner') })]),
    );
  }

  function renderPurposeCount() {
    const n = chars(purpose.value);
    purposeCount.textContent = t('relayc.count', { count: n, max: PURPOSE_MAX_CHARS });
    purposeCount.classList.toggle('over', n > PURPOSE_MAX_CHARS);
  }

  function renderErrors() {
    const spec = st.errors.purpose;
    purposeError.textContent = errorWords(spec);
    purposeError.hidden = !spec;
    purposeStep.classList.toggle('invalid', Boolean(spec));
    const describedBy = [purposeHint.id, purposeCount.id, spec ? purposeError.id : null].filter(Boolean).join(' ');
    purpose.setAttribute('aria-describedby', describedBy);
    if (spec) purpose.setAttribute('aria-invalid', 'true');
    else purpose.removeAttribute('aria-invalid');
    const pspec = st.errors.partners;
    partnersError.textContent = errorWords(pspec);
    partnersError.hidden = !pspec;
    partnersStep.classList.toggle('invalid', Boolean(pspec));
    partnersStep.setAttribute('aria-describedby', [partnersIntro.id, pspec ? partnersError.id : null].filter(Boolean).join(' '));
    general.textContent = errorWords(st.errors.general);
    general.hidden = !st.errors.general;
  }

  function renderFoot() {
    foot.hidden = !st.formOpen;
    cancel.textContent = t('relayc.cancel');
    submit.textContent = t('relayc.submit');
    submit.disabled = st.sending;
    sending.textContent = st.sending ? t('relayc.sending') : '';
    sending.hidden = !st.sending;
    renderErrors();
  }

  function renderForm() {
    formBody.hidden = !st.formOpen;
    formHeading.textContent = t('relayc.form.heading');
    const old = pending();
    replaceNote.textContent = old ? t('relayc.form.replaces', { when: when(old.created_at) }) : '';
    replaceNote.hidden = !old;
    purposeLabel.textContent = t('relayc.step.purpose');
    purposeHint.textContent = t('relayc.purpose.hint');
    renderPurposeCount();
    if (!st.formOpen) return;
    renderPartners();
    renderAnswers();
    renderPreview();
  }

  function renderAll({ keepFocus = false } = {}) {
    st.builtLang = lang();
    heading.textContent = t('relayc.heading');
    back.textContent = t('relayc.back');
    intro.textContent = t('relayc.intro');
    newButton.textContent = (st.relays || []).length ? t('relayc.new.again') : t('relayc.new');
    newButton.hidden = st.formOpen || !canPrepare();
    renderSheetNote();
    renderList({ keepFocus });
    renderForm();
    renderFoot();
  }

  return {
    opener,
    view,
    /** hearing.js: how to show this view in the sheet's place (`show(true)`) and back. */
    attach({ show }) {
      st.show = show;
    },
    /** hearing.js: the view is shown or not. */
    shown(on) {
      st.shown = on;
      view.hidden = !on;
      renderOpener();
    },
    /** hearing.js: the sheet as saved (and whether there are changes not saved). */
    setSheet({ saved, def, dirty }) {
      const changed = saved !== st.sheet.saved || def !== st.sheet.def;
      const dirtyChanged = Boolean(dirty) !== st.sheet.dirty;
      st.sheet = { saved, def, dirty: Boolean(dirty) };
      if (changed) renderAll();
      else if (dirtyChanged) renderSheetNote();
    },
    /** After each render of the conversation: offered to the one who holds a web chat; loaded once; rebuilt in a new language. */
    sync(available) {
      st.available = available;
      opener.hidden = !available;
      if (!available) {
        if (st.shown) st.show(false);
        return;
      }
      if (st.load === 'idle') {
        renderAll();
        load();
      } else if (st.builtLang !== lang()) {
        renderAll({ keepFocus: true });
      }
    },
    /** `relay_changed` for this conversation (or the socket came back): read the list again. */
    changed() {
      if (st.available && st.load !== 'idle') load();
    },
    dispose() {
      st.disposed = true;
      st.links.clear();
    },
  };
}
