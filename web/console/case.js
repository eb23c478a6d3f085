// Issue 22: a returning visitor's anonymous case in the console. When a
// conversation is the counsellor's, the console asks for its case
// (`GET /api/counsellor/conversations/{id}/case`; for a waiting letter,
// `GET /api/counsellor/letters/{id}/case`); if the visitor came
// back with a return code, a collapsed box under the conversation's head
// shows the earlier conversations still kept: when, with whom, the
// outcome, risk history, notes, the handoff, and the messages, read only.

import { t, onLangChange, formatJapanDateTime } from '../i18n.js';
import { h } from '../common.js';

function time(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleString(document.documentElement.lang === 'en' ? 'en-GB' : 'ja-JP', {
    timeZone: 'Asia/Tokyo',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

function renderEarlier(e) {
  const facts = [t('case.started', { time: time(e.started_at) })];
  if (e.counsellor?.display_name) facts.push(t('case.with', { name: e.counsellor.display_name }));
  if (e.outcome) facts.push(t(`outcome.${e.outcome}`));
  if (e.risk && e.risk !== 'none') facts.push(`${t('risk.label')}: ${t(`risk.${e.risk}`)}`);
  if (e.handoff) facts.push(t('case.handoff', { state: e.handoff }));
  // Issue 23: its hearing sheet is read beside this one's (hearing.js).
  if (e.hearing) facts.push(t('case.hearing', { state: t(e.hearing.complete ? 'hearing.state.complete' : 'hearing.state.draft') }));
  const items = [h('p', { class: 'case-facts', text: facts.join(' · ') })];
  if (e.risk_reasons?.length) {
    items.push(
      h('p', { class: 'hint', text: t('case.risk_history', { n: e.risk_reasons.length }) }),
    );
  }
  for (const n of e.notes || []) {
    items.push(h('p', { class: 'case-note' }, h('strong', { text: `${t('notes.heading')}: ` }), h('span', { text: n.text })));
  }
  if (e.erased) items.push(h('p', { class: 'hint', text: t('case.erased') }));
  const log = h('ol', { class: 'case-log' });
  for (const m of e.messages || []) {
    const who = m.from === 'visitor' ? t('case.visitor') : m.name || t('case.counsellor');
    log.append(h('li', { class: `case-msg from-${m.from}` }, h('span', { class: 'case-who', text: `${who}: ` }), h('span', { text: m.text })));
  }
  if (log.children.length) items.push(log);
  return h('li', { class: 'case-conv' }, ...items);
}

/**
 * Fill `box` (a <details>) with the case of conversation `id`; hidden when
 * there is none. `kind` 'letter': the case of a waiting letter (its own
 * endpoint: anyone who counsels may answer it). Returns the case (null
 * when there is none, or when another was asked for meanwhile).
 */
export async function loadCase(id, box, kind = 'conversation') {
  let body = null;
  const path = kind === 'letter' ? 'letters' : 'conversations';
  // One box may show several cases in turn (the letter reader): only the
  // last one asked for fills it, now and on a language change.
  const token = `${kind}:${id}`;
  box.dataset.caseFor = token;
  try {
    const r = await fetch(`/api/counsellor/${path}/${encodeURIComponent(id)}/case`, { credentials: 'same-origin' });
    if (r.ok) body = await r.json();
  } catch {
    body = null;
  }
  if (box.dataset.caseFor !== token) return null;
  const c = body?.case;
  if (!c) {
    box.hidden = true;
    return null;
  }
  const render = () => {
    if (box.dataset.caseFor !== token) return;
    const summary = h('summary', { text: t('case.summary', { n: c.earlier.length }) });
    const list = h('ol', { class: 'case-list' }, ...c.earlier.map(renderEarlier));
    const none = h('p', { class: 'hint', text: t('case.none_kept') });
    // Which retention applies: the visitor's keep-longer consent, or the normal period.
    const r = c.case_retention;
    const kept = r?.retention === 'keep_longer';
    const retention = h('p', {
      class: 'hint case-retention',
      text: kept
        ? t('case.retention.keep_longer', { date: formatJapanDateTime(r.keep_until) })
        : t('case.retention.normal', { days: r?.retention_days ?? 30 }),
    });
    box.replaceChildren(summary, retention, c.earlier.length ? list : none);
  };
  render();
  onLangChange(render);
  box.hidden = false;
  return c;
}
