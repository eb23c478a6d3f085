// The relay sheet on the visitor's side (つなぐシート, issue 23): the
// counsellor suggests passing chosen answers of their notes to named
// partner services. The visitor reads, per partner, exactly what would
// go, and says yes or no for each; later they may take a yes back.
//
// Where each relay stands comes from the server (POST /api/visitor/relays,
// read again on every `relay_changed` frame, after a resume and when the
// chat ends), never from this tab. The choices made before sending live
// in memory only; nothing is preselected. Each relay is a card in the
// conversation's log, after the messages written before it was prepared
// (as the handoff card is), so it is read in the flow of the chat and
// never traps anyone the way a modal would.

import { t, lang, onLangChange, errorText, formatJapanDateTime } from './i18n.js';
import { h, postJson } from './common.js';

let hooks = {
  /** {conversation_id, token} of the page's conversation, or null. */
  auth: () => null,
  /** Say something to screen readers (the page's own live region). */
  announce: () => {},
  /** Scroll the log so that this card shows from its top. */
  showTop: () => {},
};

/** relay_id -> the server's Relay (oldest first, as the server lists them). */
const relays = new Map();
/** relay_id -> the card's elements and what the visitor did on it. */
const cards = new Map();
/** A read under way; `again` asks for one more when it ends (a frame came meanwhile). */
let reading = null;
let again = false;

// --------------------------------------------------------------- words

function name(part) {
  return (lang() === 'en' && part.name_en) || part.name_ja;
}

function label(field) {
  return (lang() === 'en' && field.label_en) || field.label_ja;
}

function answer(field) {
  return (lang() === 'en' && field.answer_en) || field.answer_ja;
}

function offers(part) {
  const kinds = (part.offers || []).map((o) => t(`partners.offer.${o}`));
  return kinds.length ? t('relay.visitor.offers', { offers: kinds.join(t('relay.visitor.offers.sep')) }) : '';
}

/** "伝えることに同意しました", and when: "12月3日(水) 14:05". */
function stateText(part) {
  const c = part.consent || {};
  if (c.state === 'asked') return { state: '', when: '' };
  return { state: t(`relay.visitor.state.${c.state}`), when: c.at_ms ? formatJapanDateTime(c.at_ms) : '' };
}

const asking = (relay) => relay.parts.some((p) => p.consent?.state === 'asked');

/** Who gets what: a card is built for exactly this. */
const scope = (relay) => relay.parts.map((p) => `${p.partner_id}:${p.fields.map((f) => f.question)}`).join('|');

// ---------------------------------------------------------- the card

/** The card's fixed structure: built once per relay (its partners and fields never change). */
function build(relay) {
  const id = relay.relay_id;
  const c = { scope: scope(relay), choices: new Map(), busy: false, failure: null, said: null, confirming: null, parts: [] };
  c.heading = h('h2', { id: `relay-${id}-heading`, class: 'relay-heading', tabindex: '-1' });
  // What happened (sent, taken back, changed): read out, and focused after the visitor's own step.
  c.result = h('p', { id: `relay-${id}-result`, class: 'relay-result', role: 'status', tabindex: '-1' });
  c.notice = h('p', { class: 'relay-notice' });
  c.points = [h('li'), h('li'), h('li')];
  c.pointList = h('ul', { class: 'relay-points' }, c.points);
  c.purposeLabel = h('p', { class: 'relay-purpose-label' });
  c.purpose = h('p', { class: 'relay-purpose quoted' });
  c.after = h('p', { class: 'hint relay-after' });
  for (const [i, part] of relay.parts.entries()) c.parts.push(buildPart(relay, part, i));
  c.errorEl = h('p', { id: `relay-${id}-error`, class: 'error', role: 'alert', hidden: true });
  c.send = h('button', { type: 'submit', class: 'primary wide' });
  c.sendHint = h('p', { class: 'hint relay-send-hint' });
  c.form = h(
    'form',
    { class: 'relay-form', novalidate: true, onsubmit: (ev) => send(ev, id) },
    c.parts.map((p) => p.el),
    c.errorEl,
    c.sendHint,
    c.send,
  );
  c.card = h(
    'section',
    // The log is a live region: the card is announced once (hooks.announce), not read out whole.
    { class: 'relay card', 'aria-labelledby': c.heading.id, 'aria-live': 'off', 'data-relay': id },
    c.heading,
    c.result,
    c.pointList,
    c.notice,
    c.purposeLabel,
    c.purpose,
    c.form,
    c.after,
  );
  return c;
}

function buildPart(relay, part, i) {
  const base = `relay-${relay.relay_id}-${i}`;
  const p = { partner_id: part.partner_id };
  p.legend = h('legend', { class: 'relay-partner' });
  p.offers = h('p', { class: 'relay-offers' });
  p.fieldsHeading = h('p', { class: 'relay-fields-heading' });
  p.rows = part.fields.map(() => ({ dt: h('dt'), dd: h('dd') }));
  p.fields = h(
    'dl',
    { class: 'relay-fields' },
    p.rows.map((r) => h('div', { class: 'relay-field' }, r.dt, r.dd)),
  );
  const option = (value) => {
    const input = h('input', {
      type: 'radio',
      name: `${base}-choice`,
      id: `${base}-${value}`,
      value,
      onchange: () => choose(relay.relay_id, part.partner_id, value === 'yes'),
    });
    const text = h('span');
    // "（同意する）": the notice's own word, kept whole on its line.
    const means = h('span', { class: 'relay-means' });
    return {
      input,
      text,
      means,
      el: h('label', { class: `relay-option relay-option-${value}`, for: input.id }, input, h('span', {}, text, means)),
    };
  };
  p.yes = option('yes');
  p.no = option('no');
  p.choice = h('div', { class: 'relay-choice' }, p.yes.el, p.no.el);
  p.stateText = h('span');
  p.when = h('span', { class: 'relay-when' });
  p.state = h('p', { class: 'relay-state' }, p.stateText, ' ', p.when);
  p.views = h('p', { class: 'hint relay-views' });
  p.until = h('p', { class: 'hint relay-until' });
  p.withdraw = h('button', {
    type: 'button',
    class: 'secondary relay-withdraw',
    onclick: () => askWithdraw(relay.relay_id, part.partner_id),
  });
  p.question = h('p', { id: `${base}-confirm`, tabindex: '-1' });
  p.yesButton = h('button', { type: 'button', class: 'danger', onclick: () => withdraw(relay.relay_id, part.partner_id) });
  p.noButton = h('button', { type: 'button', class: 'secondary', onclick: () => cancelWithdraw(relay.relay_id) });
  p.confirm = h(
    'div',
    { class: 'confirm relay-confirm', role: 'group', 'aria-labelledby': p.question.id, hidden: true },
    p.question,
    h('div', { class: 'confirm-buttons' }, p.yesButton, p.noButton),
  );
  p.el = h(
    'fieldset',
    { class: 'relay-part', 'data-partner': part.partner_id },
    p.legend,
    p.offers,
    p.fieldsHeading,
    p.fields,
    p.choice,
    p.state,
    p.until,
    p.views,
    p.withdraw,
    p.confirm,
  );
  return p;
}

function render(id) {
  const relay = relays.get(id);
  const c = cards.get(id);
  if (!relay || !c) return;
  const open = asking(relay);
  c.card.dataset.state = open ? 'asked' : 'answered';
  c.heading.textContent = t('relay.visitor.heading');
  // Always in the page (a live region that appears with its text is not always read out); empty, it takes no room.
  c.result.textContent = c.said ? (c.said.key ? t(c.said.key, c.said.vars) : c.said.text()) : '';
  // The wording the answer is recorded under, word for word; and the promises in plain lines.
  c.notice.textContent = lang() === 'en' ? relay.notice_en : relay.notice_ja;
  c.notice.hidden = !open;
  c.pointList.hidden = !open;
  ['relay.visitor.point.no_name', 'relay.visitor.point.choose', 'relay.visitor.point.withdraw'].forEach((k, i) => {
    c.points[i].textContent = t(k);
  });
  c.purposeLabel.textContent = t('relay.visitor.purpose');
  c.purpose.textContent = relay.purpose;
  relay.parts.forEach((part, i) => renderPart(relay, c, part, c.parts[i]));
  c.form.hidden = false;
  c.send.hidden = !open;
  c.sendHint.hidden = !open;
  c.send.disabled = c.busy;
  c.send.textContent = t(c.busy ? 'relay.visitor.sending' : 'relay.visitor.send');
  c.sendHint.textContent = t('relay.visitor.send.hint');
  c.errorEl.hidden = !c.failure;
  c.errorEl.textContent = c.failure ? (c.failure.key ? t(c.failure.key, c.failure.vars) : errorText(c.failure.err)) : '';
  c.after.textContent = t('relay.visitor.after');
  c.after.hidden = open || !relay.parts.some((p) => p.consent?.state === 'given');
}

function renderPart(relay, c, part, p) {
  const state = part.consent?.state;
  const open = state === 'asked';
  p.el.dataset.state = state;
  p.legend.textContent = name(part);
  p.offers.textContent = offers(part);
  p.offers.hidden = !p.offers.textContent;
  p.fieldsHeading.textContent = t(open ? 'relay.visitor.fields' : `relay.visitor.fields.${state}`);
  part.fields.forEach((f, i) => {
    p.rows[i].dt.textContent = t('relay.visitor.field', { label: label(f) });
    p.rows[i].dd.textContent = answer(f);
  });
  p.choice.hidden = !open;
  for (const [o, key] of [[p.yes, 'relay.visitor.yes'], [p.no, 'relay.visitor.no']]) {
    o.text.textContent = t(key);
    o.means.textContent = t(`${key}.means`);
  }
  const chosen = c.choices.get(part.partner_id);
  p.yes.input.checked = chosen === true;
  p.no.input.checked = chosen === false;
  p.yes.input.disabled = p.no.input.disabled = c.busy;
  p.state.hidden = open;
  const said = stateText(part);
  p.stateText.textContent = said.state;
  p.when.textContent = said.when;
  const given = state === 'given';
  // How often the partner looked: while it is given, and after it was taken back.
  p.views.hidden = !(given || state === 'withdrawn') || !part.views;
  p.views.textContent = part.views === 1 ? t('relay.visitor.views.one') : t('relay.visitor.views', { n: part.views });
  p.until.hidden = !given || !part.link_expires_at;
  p.until.textContent = part.link_expires_at ? t('relay.visitor.until', { when: formatJapanDateTime(part.link_expires_at) }) : '';
  const confirming = c.confirming === part.partner_id;
  p.withdraw.hidden = !given || confirming;
  p.withdraw.textContent = t('relay.visitor.withdraw');
  // Several partners: each button says whose consent it takes back.
  p.withdraw.setAttribute('aria-label', t('relay.visitor.withdraw.of', { name: name(part) }));
  p.confirm.hidden = !given || !confirming;
  p.question.textContent = t('relay.visitor.withdraw.confirm', { name: name(part) });
  p.yesButton.textContent = t('relay.visitor.withdraw.yes');
  p.noButton.textContent = t('relay.visitor.withdraw.no');
  p.yesButton.disabled = c.busy;
}

function renderAll() {
  for (const id of cards.keys()) render(id);
}

// ----------------------------------------------------- place in the log

function messageTime(el) {
  const at = Date.parse(el.querySelector('time')?.dateTime || '');
  // A message not yet confirmed has no time from the server: it is the newest.
  return Number.isNaN(at) ? Infinity : at;
}

/** The first message after this element in the log, or null. */
function nextMessage(el) {
  let n = el.nextElementSibling;
  while (n && !n.classList.contains('msg')) n = n.nextElementSibling;
  return n;
}

/**
 * Each card sits just before the first message written after its relay
 * was prepared (at the end when there is none). Messages arrive in any
 * order (the history after a reload may come after the relays were
 * read), so this runs after every change to the log. A card is moved
 * only when the message after it is not that one, so moving it settles
 * at once, whatever the clocks say.
 */
function position() {
  const list = document.getElementById('messages');
  if (!list) return;
  const messages = [...list.children].filter((el) => el.classList.contains('msg'));
  for (const [id, c] of cards) {
    const at = relays.get(id)?.created_at ?? 0;
    const before = messages.find((el) => messageTime(el) > at) ?? null;
    if (c.card.parentNode !== list || nextMessage(c.card) !== before) list.insertBefore(c.card, before);
  }
}

// ------------------------------------------------------- reading them

/** Read the conversation's relays from the server and show them. */
export function refreshRelays() {
  if (reading) {
    again = true;
    return reading;
  }
  reading = (async () => {
    do {
      again = false;
      const who = hooks.auth();
      if (!who) return;
      const r = await postJson('/api/visitor/relays', who);
      // Not now (offline, erased): the next frame or resume reads them again.
      if (r.ok && Array.isArray(r.body?.relays) && hooks.auth()) apply(r.body.relays);
    } while (again);
  })().finally(() => {
    reading = null;
  });
  return reading;
}

function apply(list) {
  const seen = new Set(list.map((r) => r.relay_id));
  let replaced = false;
  for (const [id, old] of relays) {
    if (seen.has(id)) continue;
    // An unanswered relay the counsellor prepared again: the new one replaces it.
    if (asking(old)) replaced = true;
    cards.get(id)?.card.remove();
    cards.delete(id);
    relays.delete(id);
  }
  let arrived = null;
  for (const relay of list) {
    relays.set(relay.relay_id, relay);
    let c = cards.get(relay.relay_id);
    if (c && c.scope !== scope(relay)) {
      // Never expected (a relay keeps its scope), but a card must show exactly what would go.
      c.card.remove();
      cards.delete(relay.relay_id);
      c = null;
    }
    if (!c) {
      c = build(relay);
      cards.set(relay.relay_id, c);
      if (asking(relay)) {
        arrived = c;
        if (replaced) c.said = { text: () => errorText({ code: 'offer_changed' }) };
      }
    }
    // Answered elsewhere (another tab): what was chosen here no longer applies.
    for (const part of relay.parts) if (part.consent?.state !== 'asked') c.choices.delete(part.partner_id);
    render(relay.relay_id);
  }
  position();
  if (arrived) present(arrived);
}

/** A new suggestion: said, shown from its top, and focused unless the visitor is writing. */
function present(c) {
  hooks.announce(t('relay.visitor.arrived'));
  hooks.showTop(c.card);
  const el = document.activeElement;
  const writing = el && (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT') && el.value && !c.card.contains(el);
  if (!writing) c.heading.focus({ preventScroll: true });
}

// ------------------------------------------------------------ answering

function choose(id, partner, yes) {
  const c = cards.get(id);
  if (!c) return;
  c.choices.set(partner, yes);
  if (c.failure?.key === 'relay.visitor.missing') {
    c.failure = null;
    render(id);
  }
}

async function send(ev, id) {
  ev.preventDefault();
  const relay = relays.get(id);
  const c = cards.get(id);
  const who = hooks.auth();
  if (!relay || !c || c.busy || !who) return;
  const missing = relay.parts.findIndex((p) => !c.choices.has(p.partner_id));
  if (missing >= 0) {
    c.failure = { key: 'relay.visitor.missing', vars: { name: name(relay.parts[missing]) } };
    render(id);
    c.parts[missing].yes.input.focus();
    return;
  }
  const consents = Object.fromEntries(relay.parts.map((p) => [p.partner_id, c.choices.get(p.partner_id)]));
  c.busy = true;
  c.failure = null;
  c.said = null;
  render(id);
  const r = await postJson('/api/visitor/relays/answer', {
    ...who,
    relay_id: id,
    wording_version: relay.wording_version,
    consents,
  });
  c.busy = false;
  if (r.ok && r.body?.relay) {
    relays.set(id, r.body.relay);
    c.choices.clear();
    c.said = { text: () => resultText(relays.get(id)) };
    render(id);
    c.result.focus();
    return;
  }
  if (r.body?.code === 'offer_changed') return changed(id);
  c.failure = { err: r.body?.code ? r.body : { code: 'network' } };
  render(id);
  c.send.focus();
}

/** "回答を送りました。A：伝えることに同意しました。B：伝えません。" */
function resultText(relay) {
  const summary = relay.parts
    .map((p) => t('relay.visitor.result.part', { name: name(p), state: t(`relay.visitor.state.${p.consent?.state}`) }))
    .join(lang() === 'en' ? ' ' : '');
  return t('relay.visitor.result', { summary });
}

/** Answered already, or the wording changed: read it again and say so. */
async function changed(id) {
  await refreshRelays();
  const relay = relays.get(id);
  const c = cards.get(id);
  if (!relay || !c) return; // replaced: the new card says it changed
  c.choices.clear();
  c.said = asking(relay) ? { text: () => errorText({ code: 'offer_changed' }) } : { key: 'relay.visitor.already' };
  render(id);
  c.result.focus();
}

// ------------------------------------------------------------ taking back

function askWithdraw(id, partner) {
  const c = cards.get(id);
  if (!c) return;
  c.confirming = partner;
  render(id);
  c.parts.find((p) => p.partner_id === partner)?.question.focus();
}

function cancelWithdraw(id) {
  const c = cards.get(id);
  if (!c) return;
  const partner = c.confirming;
  c.confirming = null;
  render(id);
  c.parts.find((p) => p.partner_id === partner)?.withdraw.focus();
}

async function withdraw(id, partner) {
  const c = cards.get(id);
  const who = hooks.auth();
  if (!c || c.busy || !who) return;
  c.busy = true;
  c.failure = null;
  render(id);
  const r = await postJson('/api/visitor/relays/withdraw', { ...who, relay_id: id, partner_id: partner });
  c.busy = false;
  c.confirming = null;
  if (r.ok && r.body?.relay) {
    relays.set(id, r.body.relay);
    const part = r.body.relay.parts.find((p) => p.partner_id === partner);
    c.said = { text: () => t('relay.visitor.withdrawn', { name: part ? name(part) : '' }) };
    render(id);
    c.result.focus();
    return;
  }
  c.failure = { err: r.body?.code ? r.body : { code: 'network' } };
  render(id);
  c.parts.find((p) => p.partner_id === partner)?.withdraw.focus();
}

// ------------------------------------------------------------- set-up

/** Forget every relay (a new conversation, or this one erased from the device). */
export function resetRelays() {
  for (const c of cards.values()) c.card.remove();
  cards.clear();
  relays.clear();
  again = false;
}

export function initRelays(options) {
  hooks = { ...hooks, ...options };
  onLangChange(renderAll);
  const list = document.getElementById('messages');
  if (list) new MutationObserver(position).observe(list, { childList: true });
}
