// The admin page's library of canned replies: list (both languages),
// add, edit and delete. A fresh deployment starts empty; the section says
// what the texts are for. Counsellors insert them in the console and edit
// them before sending (never sent as they are).

import { t } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText } from '../staff.js';

const $ = (id) => document.getElementById(id);
const LANGS = ['ja', 'en'];
const CATEGORIES = ['greeting', 'safe_messaging', 'closing', 'out_of_area', 'other'];
const BODY_MAX = 1000;
const LIBRARY_MAX = 200;

const state = { list: [], editing: null, status: null, error: null, listError: null };

function fill(select, values, key) {
  const current = select.value;
  select.replaceChildren(...values.map((v) => h('option', { value: v, text: t(`${key}.${v}`) })));
  if (values.includes(current)) select.value = current;
}

export async function loadCanned() {
  const r = await api('GET', '/api/canned-replies');
  state.listError = r.ok ? null : r.body;
  if (r.ok) state.list = r.body;
  renderCanned();
}

function errorOf(body) {
  if (body?.code === 'canned_library_full') return { key: 'error.canned_library_full', vars: { max: LIBRARY_MAX } };
  return body;
}

async function submit(ev) {
  ev.preventDefault();
  const input = {
    lang: $('canned-lang').value,
    category: $('canned-category').value,
    title: $('canned-title').value,
    body: $('canned-body').value,
  };
  const editing = state.editing;
  $('canned-submit').disabled = true;
  const r = editing
    ? await api('PUT', `/api/canned-replies/${encodeURIComponent(editing.canned_reply_id)}`, input)
    : await api('POST', '/api/canned-replies', input);
  $('canned-submit').disabled = false;
  if (!r.ok) {
    state.error = errorOf(r.body);
    state.status = null;
    renderCanned();
    $(r.body?.code === 'text_empty' || r.body?.code === 'text_too_long' ? 'canned-body' : 'canned-title').focus();
    return;
  }
  state.error = null;
  state.status = { key: editing ? 'canned.admin.updated' : 'canned.admin.created', title: r.body.title };
  state.editing = null;
  $('canned-title').value = '';
  $('canned-body').value = '';
  await loadCanned();
}

function edit(entry) {
  state.editing = entry;
  state.error = null;
  state.status = null;
  $('canned-lang').value = entry.lang;
  $('canned-category').value = entry.category;
  $('canned-title').value = entry.title;
  $('canned-body').value = entry.body;
  renderCanned();
  $('canned-title').focus();
}

function stopEditing() {
  state.editing = null;
  state.error = null;
  $('canned-title').value = '';
  $('canned-body').value = '';
  renderCanned();
  $('canned-form-heading').focus();
}

async function remove(entry) {
  const r = await api('DELETE', `/api/canned-replies/${encodeURIComponent(entry.canned_reply_id)}`);
  if (!r.ok && r.status !== 404) {
    state.listError = r.body;
    renderCanned();
    return;
  }
  if (state.editing?.canned_reply_id === entry.canned_reply_id) stopEditing();
  state.status = { key: 'canned.admin.deleted', title: entry.title };
  await loadCanned();
  $('canned-heading').focus();
}

function row(entry) {
  return h(
    'tr',
    { 'data-canned': entry.canned_reply_id, 'data-lang': entry.lang },
    h('td', { text: t(`lang.name.${entry.lang}`) }),
    h('td', { text: t(`canned.cat.${entry.category}`) }),
    h('th', { scope: 'row', text: entry.title }),
    h('td', { class: 'canned-body-cell', text: entry.body }),
    h(
      'td',
      {},
      h(
        'div',
        { class: 'row-actions' },
        h('button', {
          type: 'button',
          class: 'secondary canned-edit',
          'aria-label': t('canned.admin.edit.label', { title: entry.title }),
          text: t('canned.admin.edit'),
          onclick: () => edit(entry),
        }),
        h('button', {
          type: 'button',
          class: 'secondary canned-delete',
          'aria-label': t('canned.admin.delete.label', { title: entry.title }),
          text: t('canned.admin.delete'),
          onclick: () => remove(entry),
        }),
      ),
    ),
  );
}

export function renderCanned() {
  if (!$('canned-form')) return;
  fill($('canned-lang'), LANGS, 'lang.name');
  fill($('canned-category'), CATEGORIES, 'canned.cat');
  $('canned-body-label').textContent = t('canned.admin.body', { max: BODY_MAX });
  $('canned-form-heading').textContent = t(state.editing ? 'canned.admin.form.edit' : 'canned.admin.form');
  $('canned-submit').textContent = t(state.editing ? 'canned.admin.save' : 'canned.admin.add');
  $('canned-cancel').hidden = !state.editing;
  const s = state.status;
  $('canned-status').textContent = s ? t(s.key, { title: s.title }) : '';
  $('canned-status').hidden = !s;
  const e = state.error;
  $('canned-error').textContent = e?.key ? t(e.key, e.vars) : problemText(e);
  $('canned-error').hidden = !e;
  $('canned-list-error').textContent = problemText(state.listError);
  $('canned-list-error').hidden = !state.listError;
  $('canned-rows').replaceChildren(...state.list.map(row));
  $('canned-table-wrap').hidden = state.list.length === 0;
  $('canned-none').hidden = state.list.length > 0;
}

export function resetCanned() {
  Object.assign(state, { list: [], editing: null, status: null, error: null, listError: null });
}

export function initCanned() {
  $('canned-form').addEventListener('submit', submit);
  $('canned-cancel').addEventListener('click', stopEditing);
}
