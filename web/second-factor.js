// The second factor on the staff pages (issue 21), shared by the console
// (/console) and the pages built on staff.js (/admin, /intake):
//
// - the login's second step (the code, or a recovery code) after
//   POST /api/login answered 202;
// - the set-up: the QR code (an SVG the server drew), the key for typing
//   by hand, the first code, then the recovery codes shown once.
//
// It renders into one <section id="second-factor"> placed after #login.
// Nothing here keeps a code, the secret or the pending login beyond the
// step it is for (no storage, no logging).

import { t, applyI18n, errorText, onLangChange } from './i18n.js';
import { h, postJson } from './common.js';

const $ = (id) => document.getElementById(id);

/** What the section says is wrong now: a key or an error body. */
let problem = null;

function section() {
  let s = $('second-factor');
  if (!s) {
    s = h('section', { id: 'second-factor', class: 'second-factor login', 'aria-labelledby': 'sf-heading', hidden: true });
    $('login').after(s);
  }
  return s;
}

function renderProblem() {
  const e = $('sf-error');
  if (!e) return;
  e.textContent = !problem ? '' : typeof problem === 'string' ? t(problem) : errorText(problem);
  e.hidden = !problem;
}
onLangChange(renderProblem);

function show(...children) {
  const s = section();
  s.replaceChildren(...children);
  applyI18n(s);
  s.hidden = false;
  renderProblem();
  $('sf-heading')?.focus();
}

/** Hide the section (after a login or a set-up, or on logout). */
export function hideSecondFactor() {
  problem = null;
  const s = $('second-factor');
  if (s) {
    s.hidden = true;
    s.replaceChildren();
  }
}

/** The logged-in account's second factor: {required, enrolled, recovery_codes_left}, or null. */
export async function secondFactorStatus() {
  try {
    const r = await fetch('/api/second-factor', { credentials: 'same-origin' });
    return r.ok ? await r.json() : null;
  } catch {
    return null;
  }
}

/**
 * The login's second step. `pending` is POST /api/login's 202 body.
 * `onDone(account)` once logged in; `onBack(problemKey)` to go back to the
 * password (the pending login expired, or the person asked).
 */
export function showCodeStep(pending, { onDone, onBack }) {
  problem = null;
  let recovery = false;
  const input = h('input', {
    id: 'sf-code',
    name: 'code',
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    autocapitalize: 'none',
    spellcheck: 'false',
    maxlength: '20',
    required: true,
  });
  const label = h('label', { for: 'sf-code', 'data-i18n': 'sf.code.label' });
  const intro = h('p', { id: 'sf-intro', 'data-i18n': 'sf.code.intro' });
  const toggle = h('button', { id: 'sf-toggle', type: 'button', class: 'button-quiet', 'data-i18n': 'sf.code.use_recovery' });
  const submit = h('button', { id: 'sf-submit', type: 'submit', class: 'primary', 'data-i18n': 'sf.code.submit' });
  toggle.addEventListener('click', () => {
    recovery = !recovery;
    intro.dataset.i18n = recovery ? 'sf.recovery.intro' : 'sf.code.intro';
    label.dataset.i18n = recovery ? 'sf.recovery.label' : 'sf.code.label';
    toggle.dataset.i18n = recovery ? 'sf.code.use_app' : 'sf.code.use_recovery';
    input.setAttribute('inputmode', recovery ? 'text' : 'numeric');
    input.setAttribute('autocomplete', recovery ? 'off' : 'one-time-code');
    input.value = '';
    applyI18n(section());
    input.focus();
  });
  const form = h(
    'form',
    {
      id: 'sf-form',
      novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        problem = null;
        renderProblem();
        submit.disabled = true;
        const value = input.value.trim();
        const body = { pending_login: pending.pending_login };
        body[recovery ? 'recovery_code' : 'code'] = value;
        const r = await postJson('/api/login/second-factor', body);
        submit.disabled = false;
        if (r.ok) {
          input.value = '';
          hideSecondFactor();
          onDone(r.body);
          return;
        }
        if (r.status === 401 && r.body.code === 'unauthorized') {
          hideSecondFactor();
          onBack('sf.expired');
          return;
        }
        problem = r.body.code === 'second_factor_failed' ? 'error.second_factor_failed' : r.body;
        renderProblem();
        input.select();
        input.focus();
      },
    },
    intro,
    h('div', { class: 'field' }, label, input),
    h('p', { id: 'sf-error', class: 'error', role: 'alert', hidden: true }),
    h('div', { class: 'sf-actions' }, submit, toggle),
    h('p', {}, h('button', { id: 'sf-back', type: 'button', class: 'button-quiet', 'data-i18n': 'sf.back', onclick: () => { hideSecondFactor(); onBack(null); } })),
  );
  show(h('h1', { id: 'sf-heading', tabindex: '-1', 'data-i18n': 'sf.code.heading' }), form);
  input.focus();
}

/**
 * The set-up. `required`: the role must use it (no "later"). `onDone()`
 * once the recovery codes were acknowledged; `onLater()` when put off.
 */
export function showEnrolment({ required, enrolled = false, onDone, onLater }) {
  problem = null;
  const heading = h('h1', { id: 'sf-heading', tabindex: '-1', 'data-i18n': 'sf.enrol.heading' });
  if (enrolled) {
    show(
      heading,
      h('p', { 'data-i18n': 'sf.already' }),
      h('button', { id: 'sf-later', type: 'button', class: 'secondary', 'data-i18n': 'keys.close', onclick: () => { hideSecondFactor(); onLater?.(); } }),
    );
    return;
  }
  const start = h('button', { id: 'sf-start', type: 'button', class: 'primary', 'data-i18n': 'sf.enrol.start' });
  const later = required
    ? null
    : h('button', { id: 'sf-later', type: 'button', class: 'secondary', 'data-i18n': 'sf.enrol.later', onclick: () => { hideSecondFactor(); onLater?.(); } });
  start.addEventListener('click', async () => {
    start.disabled = true;
    problem = null;
    renderProblem();
    const r = await postJson('/api/second-factor/setup', {});
    start.disabled = false;
    if (!r.ok) {
      problem = r.body;
      renderProblem();
      return;
    }
    showScan(r.body, { onDone, later });
  });
  show(
    heading,
    required ? h('p', { class: 'notice', 'data-i18n': 'sf.enrol.required' }) : null,
    h('p', { 'data-i18n': 'sf.enrol.intro' }),
    h('p', { id: 'sf-error', class: 'error', role: 'alert', hidden: true }),
    h('div', { class: 'sf-actions' }, start, later),
  );
}

function showScan(setup, { onDone, later }) {
  // The server drew the SVG (no outside service); shown as an image, so
  // nothing of it runs in the page.
  const src = `data:image/svg+xml;base64,${btoa(setup.qr_svg)}`;
  const grouped = setup.secret.match(/.{1,4}/g).join(' ');
  const input = h('input', { id: 'sf-confirm-code', name: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '20', required: true });
  const submit = h('button', { id: 'sf-confirm', type: 'submit', class: 'primary', 'data-i18n': 'sf.enrol.confirm' });
  const form = h(
    'form',
    {
      id: 'sf-confirm-form',
      novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        problem = null;
        renderProblem();
        submit.disabled = true;
        const r = await postJson('/api/second-factor/confirm', { code: input.value.trim() });
        submit.disabled = false;
        if (!r.ok) {
          problem = r.body.code === 'second_factor_failed' ? 'error.second_factor_failed' : r.body;
          renderProblem();
          input.select();
          input.focus();
          return;
        }
        showRecovery(r.body.recovery_codes, onDone);
      },
    },
    h('p', { 'data-i18n': 'sf.enrol.confirm_intro' }),
    h('div', { class: 'field' }, h('label', { for: 'sf-confirm-code', 'data-i18n': 'sf.code.label' }), input),
    h('p', { id: 'sf-error', class: 'error', role: 'alert', hidden: true }),
    h('div', { class: 'sf-actions' }, submit, later),
  );
  show(
    h('h1', { id: 'sf-heading', tabindex: '-1', 'data-i18n': 'sf.enrol.heading' }),
    h('p', { 'data-i18n': 'sf.enrol.scan' }),
    h('img', { id: 'sf-qr', class: 'sf-qr', src, width: '200', height: '200', 'data-i18n-attr': 'alt:sf.enrol.qr_alt' }),
    h('p', { 'data-i18n': 'sf.enrol.secret' }),
    h('p', {}, h('code', { id: 'sf-secret', class: 'sf-secret', 'data-secret': setup.secret, text: grouped })),
    form,
  );
}

function showRecovery(codes, onDone) {
  const done = h('button', { id: 'sf-recovery-done', type: 'button', class: 'primary', 'data-i18n': 'sf.recovery.done' });
  done.addEventListener('click', () => {
    hideSecondFactor();
    onDone?.();
  });
  show(
    h('h1', { id: 'sf-heading', tabindex: '-1', 'data-i18n': 'sf.recovery.heading' }),
    h('p', { class: 'notice', role: 'status', 'data-i18n': 'sf.enrolled' }),
    h('p', { 'data-i18n': 'sf.recovery.once' }),
    h('ol', { id: 'sf-recovery', class: 'sf-recovery' }, codes.map((c) => h('li', {}, h('code', { text: c })))),
    done,
  );
}
