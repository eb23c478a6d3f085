// The password set-up page (issue 21). The link an admin hands over is
// /setup/#<account id>.<code>: the fragment never reaches a server, and the
// page removes it from the address bar at once (so it stays out of the
// history's shown URL and out of a screenshot); the code is then posted
// with the new password, once.

import { t, applyI18n, bindLangSwitch, onLangChange, errorText } from '../i18n.js';

const $ = (id) => document.getElementById(id);

const raw = location.hash.slice(1);
const dot = raw.indexOf('.');
const link = dot > 0 ? { account: raw.slice(0, dot), code: raw.slice(dot + 1) } : null;
if (location.hash) history.replaceState(null, '', location.pathname);

let problem = link ? null : 'setup.missing';

function render() {
  document.title = `${t('setup.title')} | ${t('app.name')}`;
  const e = $('setup-error');
  e.textContent = !problem ? '' : typeof problem === 'string' ? t(problem) : errorText(problem, { message: problem.message || '' });
  e.hidden = !problem;
  $('setup-submit').disabled = !link;
}

async function submit(ev) {
  ev.preventDefault();
  const password = $('setup-password').value;
  if (password !== $('setup-again').value) {
    problem = 'setup.mismatch';
    render();
    $('setup-again').focus();
    return;
  }
  $('setup-submit').disabled = true;
  let r;
  try {
    r = await fetch('/api/setup', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...link, password }),
    });
  } catch {
    r = null;
  }
  if (r && r.status === 204) {
    $('setup-form').hidden = true;
    $('setup-intro').hidden = true;
    $('setup-done').hidden = false;
    $('setup-heading').focus();
    return;
  }
  problem = r ? await r.json().catch(() => ({ code: 'network' })) : { code: 'network' };
  render();
  $('setup-password').focus();
}

applyI18n();
bindLangSwitch($('lang-switch'));
onLangChange(render);
$('setup-form').addEventListener('submit', submit);
render();
