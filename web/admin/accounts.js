// The admin page's staff accounts (issue 21): the list (role, state, last
// login, second factor), creating one (the new person sets their password
// through a one-time set-up link, shown here once), renaming, changing the
// role, deactivating and reactivating, a password reset (a new link) and
// ending every session. Every change is in the audit log (server side).

import { t, formatJapanDateTime } from '../i18n.js';
import { h } from '../common.js';
import { api, problemText } from '../staff.js';

const $ = (id) => document.getElementById(id);
const ROLES = ['counsellor', 'supervisor', 'intake', 'admin'];

const state = { accounts: [], error: null, status: null, setup: null, editing: null, me: null };

function roleOptions(select, value) {
  select.replaceChildren(...ROLES.map((r) => h('option', { value: r, text: t(`accounts.role.${r}`) })));
  select.value = value;
}

export async function loadAccounts(me) {
  if (me) state.me = me;
  const r = await api('GET', '/api/accounts');
  if (r.ok) state.accounts = r.body;
  else state.error = r.body;
  renderAccounts();
}

export function resetAccounts() {
  Object.assign(state, { accounts: [], error: null, status: null, setup: null, editing: null, me: null });
  renderAccounts();
}

async function change(account, body, statusKey) {
  state.error = null;
  const r = await api('POST', `/api/accounts/${encodeURIComponent(account.id)}`, body);
  if (!r.ok) {
    state.error = r.body;
    renderAccounts();
    return false;
  }
  state.status = t(statusKey, { name: account.display_name });
  await loadAccounts();
  return true;
}

async function reset(account) {
  state.error = null;
  const r = await api('POST', `/api/accounts/${encodeURIComponent(account.id)}/setup`);
  if (!r.ok) {
    state.error = r.body;
    renderAccounts();
    return;
  }
  state.setup = { name: account.display_name, ...r.body };
  state.status = null;
  await loadAccounts();
  $('setup-link').focus();
}

async function revoke(account) {
  state.error = null;
  const r = await api('POST', `/api/accounts/${encodeURIComponent(account.id)}/revoke-sessions`);
  if (!r.ok) state.error = r.body;
  else state.status = t('accounts.revoked', { name: account.display_name });
  renderAccounts();
}

async function create(ev) {
  ev.preventDefault();
  state.error = null;
  const body = {
    username: $('acc-username').value.trim(),
    display_name: $('acc-name').value.trim(),
    role: $('acc-role').value,
  };
  $('acc-submit').disabled = true;
  const r = await api('POST', '/api/accounts', body);
  $('acc-submit').disabled = false;
  if (!r.ok) {
    state.error = r.body;
    renderAccounts();
    $('acc-username').focus();
    return;
  }
  $('acc-username').value = '';
  $('acc-name').value = '';
  state.setup = { name: r.body.display_name, ...r.body.setup };
  state.status = null;
  await loadAccounts();
  $('setup-link').focus();
}

function edit(account) {
  state.editing = account;
  state.status = null;
  renderAccounts();
  $('edit-name').value = account.display_name;
  roleOptions($('edit-role'), account.role);
  $('edit-name').focus();
}

async function saveEdit(ev) {
  ev.preventDefault();
  const a = state.editing;
  if (!a) return;
  const body = {};
  if ($('edit-name').value.trim() !== a.display_name) body.display_name = $('edit-name').value.trim();
  if ($('edit-role').value !== a.role) body.role = $('edit-role').value;
  if (await change(a, body, 'accounts.saved')) {
    state.editing = null;
    renderAccounts();
    $('accounts-heading').focus();
  }
}

/** A row's button: its visible text first (what is said is what is seen), then whose. */
function named(key, a) {
  return t('accounts.action.named', { action: t(key), name: a.display_name });
}

function row(a) {
  const self = state.me && state.me.id === a.id;
  const actions = [
    h('button', {
      type: 'button',
      class: 'secondary',
      text: t('accounts.edit'),
      'aria-label': named('accounts.edit', a),
      onclick: () => edit(a),
    }),
  ];
  if (!self) {
    actions.push(
      a.active
        ? h('button', {
            type: 'button',
            class: 'secondary deactivate',
            text: t('accounts.deactivate'),
            'aria-label': named('accounts.deactivate', a),
            onclick: () => change(a, { active: false }, 'accounts.deactivated'),
          })
        : h('button', {
            type: 'button',
            class: 'secondary reactivate',
            text: t('accounts.reactivate'),
            'aria-label': named('accounts.reactivate', a),
            onclick: () => change(a, { active: true }, 'accounts.reactivated'),
          }),
    );
  }
  if (a.active) {
    actions.push(
      h('button', {
        type: 'button',
        class: 'secondary reset',
        text: t('accounts.reset'),
        'aria-label': named('accounts.reset', a),
        onclick: () => reset(a),
      }),
    );
    if (!self) {
      actions.push(
        h('button', {
          type: 'button',
          class: 'secondary revoke',
          text: t('accounts.revoke'),
          'aria-label': named('accounts.revoke', a),
          onclick: () => revoke(a),
        }),
      );
    }
  }
  return h(
    'tr',
    { 'data-account': a.username, 'data-state': a.active ? 'active' : 'deactivated' },
    h('th', { scope: 'row', text: a.display_name }),
    h('td', { text: a.username }),
    h('td', { text: t(`accounts.role.${a.role}`) }),
    h('td', { text: t(a.active ? 'accounts.state.active' : 'accounts.state.deactivated') }),
    h('td', { text: a.last_login_at ? formatJapanDateTime(a.last_login_at) : t('accounts.never') }),
    h('td', { text: t(a.second_factor ? 'accounts.2fa.on' : 'accounts.2fa.off') }),
    h('td', {}, h('div', { class: 'row-actions' }, ...actions)),
  );
}

export function renderAccounts() {
  if (!$('accounts-body')) return;
  if (!$('acc-role').options.length || $('acc-role').dataset.lang !== t('accounts.role.admin')) {
    const v = $('acc-role').value || 'counsellor';
    roleOptions($('acc-role'), v);
    $('acc-role').dataset.lang = t('accounts.role.admin');
  }
  $('accounts-error').textContent = problemText(state.error);
  $('accounts-error').hidden = !state.error;
  $('accounts-status').textContent = state.status || '';
  $('accounts-status').hidden = !state.status;
  const s = state.setup;
  $('setup-box').hidden = !s;
  if (s) {
    $('setup-for').textContent = t('accounts.setup.for', { name: s.name, until: formatJapanDateTime(s.expires_at) });
    $('setup-link').value = `${location.origin}${s.path}`;
  }
  $('edit-box').hidden = !state.editing;
  if (state.editing) $('edit-heading').textContent = t('accounts.edit.heading', { name: state.editing.display_name });
  $('accounts-body').replaceChildren(...state.accounts.map(row));
}

export function initAccounts() {
  $('account-form').addEventListener('submit', create);
  $('edit-form').addEventListener('submit', saveEdit);
  $('edit-cancel').addEventListener('click', () => {
    state.editing = null;
    renderAccounts();
    $('accounts-heading').focus();
  });
  $('setup-done').addEventListener('click', () => {
    state.setup = null;
    renderAccounts();
    $('accounts-heading').focus();
  });
}
