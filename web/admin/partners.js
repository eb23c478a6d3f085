// The admin page's directory of partner services (issue 23): the other
// services the centre connects people onwards to. List (as cards, so a
// phone reads them without scrolling sideways), add, edit and delete (with
// a confirmation in the card). Counsellors are offered the partners that
// fit a person's age and what they need; only those that accept relays
// can receive a consented relay sheet.

import { t, lang } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText } from '../staff.js';

const $ = (id) => document.getElementById(id);
export const OFFERS = [
  'medical', 'welfare', 'employment', 'education', 'child_family',
  'legal', 'peer_group', 'family_class', 'round_the_clock', 'other',
];
// The pre-chat age bands, without "rather not say" (the labels are theirs).
const AGES = ['teens', 'twenties', 'thirties', 'forties', 'fifty_plus'];
const DIRECTORY_MAX = 300;
// The server names the field first in a bad_request's message.
const FIELDS = {
  name_ja: 'partner-name-ja',
  name_en: 'partner-name-en',
  offers: 'partner-offer-medical',
  area: 'partner-area',
  age_bands: 'partner-age-teens',
  contact: 'partner-contact',
  note_ja: 'partner-note-ja',
  note_en: 'partner-note-en',
};

const state = { list: [], editing: null, confirming: null, status: null, error: null, listError: null };

export async function loadPartners() {
  const r = await api('GET', '/api/partners');
  state.listError = r.ok ? null : r.body;
  if (r.ok) state.list = r.body.partners || [];
  renderPartners();
}

/** The refused field (from the server's message), or null. */
function fieldOf(body) {
  if (body?.code !== 'bad_request') return null;
  const name = /^([a-z_]+)\b/.exec(body.message || '')?.[1];
  return FIELDS[name] ? name : null;
}

/** An error body as a message kept as a key, so a language change renders it again. */
function errorOf(body) {
  if (body?.code === 'directory_full') return { key: 'partners.error.full', vars: { max: DIRECTORY_MAX } };
  const field = fieldOf(body);
  if (!field) return { body };
  const m = body.message || '';
  let why = 'partners.why.invalid';
  const vars = {};
  if (/must not be empty/.test(m)) why = 'partners.why.empty';
  else if (/longer than (\d+)/.test(m)) {
    why = 'partners.why.too_long';
    vars.max = /longer than (\d+)/.exec(m)[1];
  } else if (/one line/.test(m)) why = 'partners.why.one_line';
  else if (field === 'offers') why = 'partners.why.offers';
  else if (field === 'age_bands') why = 'partners.why.ages';
  return { key: 'partners.error.field', field, why, vars };
}

function errorText(e) {
  if (!e) return '';
  if (e.body) return problemText(e.body);
  if (!e.field) return t(e.key, e.vars);
  return t(e.key, { field: t(`partners.field.${e.field}`), why: t(e.why, e.vars) });
}

function checked(prefix, values) {
  return values.filter((v) => $(`${prefix}-${v}`).checked);
}

function formInput() {
  return {
    name_ja: $('partner-name-ja').value,
    name_en: $('partner-name-en').value,
    offers: checked('partner-offer', OFFERS),
    area: $('partner-area').value,
    age_bands: checked('partner-age', AGES),
    contact: $('partner-contact').value,
    note_ja: $('partner-note-ja').value,
    note_en: $('partner-note-en').value,
    accepts_relays: $('partner-relays').checked,
  };
}

function fillForm(p) {
  $('partner-name-ja').value = p?.name_ja || '';
  $('partner-name-en').value = p?.name_en || '';
  for (const o of OFFERS) $(`partner-offer-${o}`).checked = !!p?.offers?.includes(o);
  $('partner-area').value = p?.area || '';
  for (const a of AGES) $(`partner-age-${a}`).checked = !!p?.age_bands?.includes(a);
  $('partner-contact').value = p?.contact || '';
  $('partner-note-ja').value = p?.note_ja || '';
  $('partner-note-en').value = p?.note_en || '';
  $('partner-relays').checked = !!p?.accepts_relays;
}

async function submit(ev) {
  ev.preventDefault();
  const editing = state.editing;
  $('partners-submit').disabled = true;
  const input = formInput();
  const r = editing
    ? await api('PUT', `/api/partners/${encodeURIComponent(editing.partner_id)}`, input)
    : await api('POST', '/api/partners', input);
  $('partners-submit').disabled = false;
  if (!r.ok) {
    if (editing && r.status === 404) {
      // Deleted meanwhile (another admin): back to adding, the list read again.
      state.editing = null;
      state.error = { body: r.body };
      await loadPartners();
      $('partners-form-heading').focus();
      return;
    }
    state.error = errorOf(r.body);
    state.status = null;
    renderPartners();
    // To the refused field (the alert is read out); else to the form's heading.
    const field = state.error.field;
    $(field ? FIELDS[field] : 'partners-form-heading').focus();
    return;
  }
  state.error = null;
  state.editing = null;
  state.confirming = null;
  state.status = { key: editing ? 'partners.updated' : 'partners.created', partner: r.body };
  fillForm(null);
  await loadPartners();
  $('partners-status').focus();
}

function edit(p) {
  state.editing = p;
  state.confirming = null;
  state.error = null;
  state.status = null;
  fillForm(p);
  renderPartners();
  $('partners-form-heading').scrollIntoView({ block: 'start' });
  $('partners-form-heading').focus({ preventScroll: true });
}

function stopEditing() {
  state.editing = null;
  state.error = null;
  fillForm(null);
  renderPartners();
  $('partners-form-heading').focus();
}

function askDelete(p) {
  state.confirming = p.partner_id;
  state.status = null;
  renderPartners();
  document.querySelector(`[data-partner="${p.partner_id}"] .partner-delete-no`)?.focus();
}

function keepIt(p) {
  state.confirming = null;
  renderPartners();
  document.querySelector(`[data-partner="${p.partner_id}"] .partner-delete`)?.focus();
}

async function remove(p) {
  const r = await api('DELETE', `/api/partners/${encodeURIComponent(p.partner_id)}`);
  state.confirming = null;
  if (!r.ok && r.status !== 404) {
    state.listError = r.body;
    renderPartners();
    $('partners-list-error').scrollIntoView({ block: 'nearest' });
    return;
  }
  if (state.editing?.partner_id === p.partner_id) {
    state.editing = null;
    state.error = null;
    fillForm(null);
  }
  state.status = { key: 'partners.deleted', partner: p };
  await loadPartners();
  $('partners-status').focus();
}

/** The name in the page's language (an English name may be empty: the Japanese one then). */
function nameOf(p) {
  return lang() === 'en' && p.name_en ? p.name_en : p.name_ja;
}

function term(key, ...value) {
  return [h('dt', { text: t(key) }), h('dd', {}, ...value)];
}

function card(p) {
  const headingId = `partner-${p.partner_id}`;
  const shownName = nameOf(p);
  // The page's language first, the other below it.
  const names = [h('span', { lang: 'ja', text: p.name_ja }), p.name_en ? h('span', { lang: 'en', text: p.name_en }) : null];
  if (lang() === 'en' && p.name_en) names.reverse();
  if (names[1]) names[1].className = 'partner-name-other';
  const confirm =
    state.confirming === p.partner_id
      ? h(
          'div',
          { class: 'confirm', role: 'group', 'aria-label': t('partners.delete.confirm', { name: shownName }) },
          h('p', { text: t('partners.delete.confirm', { name: shownName }) }),
          h(
            'div',
            { class: 'row-actions' },
            h('button', { type: 'button', class: 'danger partner-delete-yes', text: t('partners.delete.yes'), onclick: () => remove(p) }),
            h('button', { type: 'button', class: 'secondary partner-delete-no', text: t('partners.delete.no'), onclick: () => keepIt(p) }),
          ),
        )
      : null;
  const ages = p.age_bands?.length ? p.age_bands.map((a) => t(`age_band.${a}`)).join(t('partners.sep')) : t('partners.ages.any');
  return h(
    'li',
    { class: 'card partner', 'data-partner': p.partner_id, 'aria-labelledby': headingId },
    h(
      'h4',
      { id: headingId, class: 'partner-name' },
      ...names,
    ),
    h(
      'dl',
      { class: 'terms' },
      ...term('partners.col.offers', h('ul', { class: 'tags' }, ...p.offers.map((o) => h('li', { class: 'tag', text: t(`partners.offer.${o}`) })))),
      ...term('partners.col.area', p.area || t('partners.area.any')),
      ...term('partners.col.ages', ages),
      ...term('partners.col.contact', h('span', { class: 'partner-contact', text: p.contact })),
      ...term(
        'partners.col.relays',
        h('span', { class: `partner-relays ${p.accepts_relays ? 'ok' : ''}`.trim(), text: t(p.accepts_relays ? 'partners.relays.yes' : 'partners.relays.no') }),
      ),
      ...(p.note_ja ? term('partners.col.note_ja', h('span', { class: 'partner-note', lang: 'ja', text: p.note_ja })) : []),
      ...(p.note_en ? term('partners.col.note_en', h('span', { class: 'partner-note', lang: 'en', text: p.note_en })) : []),
    ),
    h(
      'div',
      { class: 'row-actions' },
      h('button', {
        type: 'button',
        class: 'secondary partner-edit',
        'aria-label': t('partners.edit.label', { name: shownName }),
        text: t('partners.edit'),
        onclick: () => edit(p),
      }),
      h('button', {
        type: 'button',
        class: 'secondary partner-delete',
        'aria-label': t('partners.delete.label', { name: shownName }),
        'aria-expanded': state.confirming === p.partner_id ? 'true' : 'false',
        text: t('partners.delete'),
        onclick: () => askDelete(p),
      }),
    ),
    confirm,
  );
}

function checkbox(prefix, value, key) {
  const id = `${prefix}-${value}`;
  return h('div', { class: 'check' }, h('input', { id, type: 'checkbox', value }), h('label', { for: id, 'data-key': key }));
}

export function renderPartners() {
  if (!$('partners-form')) return;
  for (const label of $('partners-form').querySelectorAll('label[data-key]')) label.textContent = t(label.dataset.key);
  const editing = state.editing;
  $('partners-form-heading').textContent = editing ? t('partners.form.edit', { name: nameOf(editing) }) : t('partners.form');
  $('partners-submit').textContent = t(editing ? 'partners.save' : 'partners.add');
  $('partners-cancel').hidden = !editing;
  const s = state.status;
  $('partners-status').textContent = s ? t(s.key, { name: nameOf(s.partner) }) : '';
  $('partners-status').hidden = !s;
  $('partners-error').textContent = errorText(state.error);
  $('partners-error').hidden = !state.error;
  // A text field refused is marked invalid (a group of boxes is named in the message).
  for (const id of Object.values(FIELDS)) {
    if ($(id).type !== 'checkbox') $(id).removeAttribute('aria-invalid');
  }
  const bad = state.error?.field && $(FIELDS[state.error.field]);
  if (bad && bad.type !== 'checkbox') bad.setAttribute('aria-invalid', 'true');
  $('partners-list-error').textContent = problemText(state.listError);
  $('partners-list-error').hidden = !state.listError;
  $('partners-list-heading').textContent = t('partners.list', { n: state.list.length });
  $('partners-list').replaceChildren(...state.list.map(card));
  $('partners-list').hidden = state.list.length === 0;
  $('partners-none').hidden = state.list.length > 0;
}

export function resetPartners() {
  Object.assign(state, { list: [], editing: null, confirming: null, status: null, error: null, listError: null });
  if ($('partners-form')) fillForm(null);
}

export function initPartners() {
  $('partner-offer-boxes').replaceChildren(...OFFERS.map((o) => checkbox('partner-offer', o, `partners.offer.${o}`)));
  $('partner-age-boxes').replaceChildren(...AGES.map((a) => checkbox('partner-age', a, `age_band.${a}`)));
  $('partners-form').addEventListener('submit', submit);
  $('partners-cancel').addEventListener('click', stopEditing);
}
