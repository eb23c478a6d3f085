// What the admin and intake pages share: the login form, the session
// (an HttpOnly cookie the page never sees), JSON calls that bring the
// login form back when the session has ended, and the language switch.

import { t, applyI18n, bindLangSwitch, onLangChange, errorText } from './i18n.js';
import { h } from './common.js';
import { hideSecondFactor, secondFactorStatus, showCodeStep, showEnrolment } from './second-factor.js';

const $ = (id) => document.getElementById(id);

let page = null;
/** What the login form says is wrong: a key, or an error body; null for nothing. */
let problem = null;
let me = null;

/**
 * A JSON call. Returns {ok, status, body}; a 401 shows the login form
 * again ("your session has expired").
 */
export async function api(method, url, body) {
  let r;
  try {
    r = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, body: { code: 'network' } };
  }
  const json = await r.json().catch(() => ({}));
  if (r.status === 401 && me) showLogin('login.expired');
  // A role that must use a second factor and has not set it up.
  if (r.status === 403 && json.code === 'second_factor_required' && me) enter(me);
  return { ok: r.ok, status: r.status, body: json };
}

/** An error body (or a key) as text: the server's message fills `{message}` for bad_request. */
export function problemText(p) {
  if (!p) return '';
  if (typeof p === 'string') return t(p);
  return errorText(p, { message: p.message || '' });
}

function buildTopbar() {
  $('topbar').replaceChildren(
    h(
      'p',
      { class: 'site-name' },
      h('span', { 'data-i18n': 'app.name' }),
      ' ',
      h('span', { class: 'sep', 'aria-hidden': 'true', text: '|' }),
      ' ',
      h('span', { 'data-i18n': page.titleKey }),
    ),
    h(
      'div',
      { class: 'topbar-actions' },
      h('span', { id: 'me', class: 'me', hidden: true }),
      h('button', { id: 'sf-open', type: 'button', class: 'button-quiet', 'data-i18n': 'sf.topbar', hidden: true }),
      h('button', { id: 'lang-switch', type: 'button', class: 'button-quiet', lang: 'en' }),
      h('button', { id: 'logout', type: 'button', class: 'secondary', 'data-i18n': 'logout', hidden: true }),
    ),
  );
}

function buildLogin() {
  const form = h(
    'form',
    { id: 'login-form', novalidate: true, onsubmit: login },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'login-username', 'data-i18n': 'login.username' }),
      h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'login-password', 'data-i18n': 'login.password' }),
      h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ),
    h('p', { id: 'login-error', class: 'error', role: 'alert', hidden: true }),
    h('button', { id: 'login-submit', type: 'submit', class: 'primary', 'data-i18n': 'login.submit' }),
  );
  $('login').replaceChildren(h('h1', { id: 'login-heading', tabindex: '-1', 'data-i18n': 'login.heading' }), form);
}

function renderProblem() {
  const e = $('login-error');
  e.textContent = problemText(problem);
  e.hidden = !problem;
}

function showLogin(p) {
  me = null;
  page.onLeave?.();
  hideSecondFactor();
  $('sf-open').hidden = true;
  $('workspace').hidden = true;
  $('login').hidden = false;
  $('me').hidden = true;
  $('logout').hidden = true;
  problem = p || null;
  renderProblem();
  $('login-submit').disabled = false;
  $('login-heading').focus();
}

async function enter(account) {
  if (account.role !== page.role) {
    showLogin('staff.role');
    return;
  }
  me = account;
  $('me').textContent = account.display_name;
  $('me').hidden = false;
  $('logout').hidden = false;
  $('login').hidden = true;
  // A role that must use a second factor: nothing else until it is set up.
  const sf = await secondFactorStatus();
  if (sf?.required && !sf.enrolled) {
    $('workspace').hidden = true;
    $('sf-open').hidden = true;
    showEnrolment({ required: true, onDone: () => enter(account) });
    return;
  }
  $('sf-open').hidden = false;
  $('workspace').hidden = false;
  page.onEnter(account);
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

async function login(ev) {
  ev.preventDefault();
  problem = null;
  renderProblem();
  $('login-submit').disabled = true;
  const r = await api('POST', '/api/login', {
    username: $('login-username').value.trim(),
    password: $('login-password').value,
  });
  $('login-submit').disabled = false;
  if (r.status === 202) {
    // A second factor: the code next; the session cookie only after it.
    $('login-password').value = '';
    $('login').hidden = true;
    showCodeStep(r.body, { onDone: enter, onBack: (p) => showLogin(p) });
    return;
  }
  if (!r.ok) {
    problem = r.body.code === 'login_failed' ? 'login.failed' : r.body;
    renderProblem();
    $('login-password').focus();
    return;
  }
  $('login-password').value = '';
  enter(r.body);
}

async function logout() {
  await api('POST', '/api/logout');
  showLogin(null);
}

/**
 * Start a staff page for `role`: `onEnter(account)` once logged in,
 * `onLeave()` when the login form comes back, `render()` on a language change.
 */
export async function startStaffPage(options) {
  page = options;
  buildTopbar();
  buildLogin();
  applyI18n();
  const title = () => {
    document.title = `${t(page.titleKey)} | ${t('app.name')}`;
  };
  title();
  bindLangSwitch($('lang-switch'));
  onLangChange(() => {
    title();
    renderProblem();
    page.render?.();
  });
  $('logout').addEventListener('click', logout);
  $('sf-open').addEventListener('click', openSecondFactor);
  const r = await api('GET', '/api/me');
  if (r.ok) enter(r.body);
  else showLogin(r.status === 401 ? null : r.body);
}
