// Issue 23: in a conversation's end form, the partner services the
// counsellor referred the visitor to. Shown when the outcome is "referred"
// or "referred to another agency" is ticked: the partners from the
// directory that fit the visitor's age band (GET /api/partners?age_band=),
// each a checkbox with its kinds, area and contact (so it can be read out
// to the visitor), and an optional filter by kind. The ids ticked go in
// the `end` frame as `referred_to`.

import { t, lang, onLangChange } from '../i18n.js';
import { h } from '../common.js';

/** Partners one referral may name at most (the server's limit). */
const REFERRED_MAX = 20;
/** A list that could not be loaded is asked for again after this long. */
const RETRY_MS = 10_000;

async function fetchPartners(ageBand) {
  const q = ageBand ? `?age_band=${encodeURIComponent(ageBand)}` : '';
  const r = await fetch(`/api/partners${q}`, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`partners: ${r.status}`);
  return (await r.json()).partners || [];
}

function nameOf(p) {
  return (lang() === 'en' && p.name_en) || p.name_ja;
}

function noteOf(p) {
  return (lang() === 'en' && p.note_en) || p.note_ja || '';
}

/**
 * The "referred to" box of conversation `id`, for the visitor's pre-chat
 * answers `preChat` (read when shown). Returns {box, update, chosen,
 * reload, showGone}: `update(show)` shows or hides it (loading the list
 * afresh each time it appears); `chosen()` the ids to send ([] when hidden).
 */
export function referBox(id, getPreChat) {
  const base = `conv-${id}-refer`;
  const st = { partners: null, chosen: new Set(), loading: false, failed: false, emptyDirectory: false, ageBand: null, kind: '' };

  const legend = h('legend', {});
  const intro = h('p', { class: 'hint refer-intro' });
  const kindLabel = h('label', { for: `${base}-kind` });
  const kind = h('select', { id: `${base}-kind`, class: 'refer-kind' });
  const filter = h('div', { class: 'refer-filter' }, kindLabel, kind);
  const list = h('ul', { class: 'refer-list', id: `${base}-list` });
  const empty = h('p', { class: 'hint refer-empty', hidden: true });
  const count = h('p', { class: 'hint refer-count', 'aria-live': 'polite' });
  const error = h('p', { class: 'error refer-error', role: 'alert', hidden: true });
  // No button of its own: the harness and the specs find the end form's one button.
  const box = h('fieldset', { class: 'refer-box', hidden: true }, legend, intro, filter, list, empty, count, error);
  let retryTimer = null;

  kind.addEventListener('change', () => {
    st.kind = kind.value;
    renderList();
  });

  function usableAge() {
    const a = getPreChat()?.age_band;
    return a && a !== 'rather_not_say' ? a : null;
  }

  async function load() {
    // Only the last load asked for fills the list.
    const seq = (st.seq = (st.seq || 0) + 1);
    st.loading = true;
    st.failed = false;
    st.partners = null;
    st.ageBand = usableAge();
    render();
    try {
      const partners = await fetchPartners(st.ageBand);
      // None for this age: say whether the directory is empty or only none fit.
      const emptyDirectory = partners.length === 0 && (!st.ageBand || (await fetchPartners(null)).length === 0);
      if (seq !== st.seq) return;
      st.emptyDirectory = emptyDirectory;
      st.partners = partners;
      const ids = new Set(partners.map((p) => p.partner_id));
      for (const x of [...st.chosen]) if (!ids.has(x)) st.chosen.delete(x);
    } catch {
      if (seq !== st.seq) return;
      st.failed = true;
    }
    st.loading = false;
    render();
    // Not loaded: tried again while the box is shown.
    clearTimeout(retryTimer);
    if (st.failed) retryTimer = setTimeout(() => !box.hidden && load(), RETRY_MS);
  }

  function kindsOf(p) {
    return p.offers.map((o) => t(`partners.offer.${o}`)).join(t('refer.sep'));
  }

  function item(p) {
    const boxId = `${base}-${p.partner_id}`;
    const detailsId = `${boxId}-details`;
    const input = h('input', {
      type: 'checkbox',
      id: boxId,
      value: p.partner_id,
      class: 'refer-pick',
      'aria-describedby': detailsId,
    });
    input.checked = st.chosen.has(p.partner_id);
    input.addEventListener('change', () => {
      if (input.checked) st.chosen.add(p.partner_id);
      else st.chosen.delete(p.partner_id);
      renderCount();
    });
    const note = noteOf(p);
    return h(
      'li',
      { class: 'check refer-item', 'data-partner': p.partner_id },
      input,
      h('label', { for: boxId, class: 'refer-name', text: nameOf(p) }),
      h(
        'div',
        { class: 'refer-details', id: detailsId },
        h('span', { class: 'refer-kinds', text: t('refer.kinds', { kinds: kindsOf(p) }) }),
        h('span', { class: 'refer-area', text: t('refer.area', { area: p.area || t('refer.area.any') }) }),
        h('span', { class: 'refer-contact', text: t('refer.contact', { contact: p.contact }) }),
        note ? h('span', { class: 'refer-note', text: note }) : null,
      ),
    );
  }

  function renderFilter() {
    const present = new Set((st.partners || []).flatMap((p) => p.offers));
    if (st.kind && !present.has(st.kind)) st.kind = '';
    kind.replaceChildren(
      h('option', { value: '', text: t('refer.filter.all') }),
      ...[...present].map((o) => h('option', { value: o, text: t(`partners.offer.${o}`) })),
    );
    kind.value = st.kind;
  }

  function renderCount() {
    const n = st.chosen.size;
    count.textContent = n ? t('refer.chosen', { n }) : '';
    count.hidden = !n;
    error.hidden = true;
    if (n > REFERRED_MAX) {
      error.textContent = t('refer.too_many', { max: REFERRED_MAX });
      error.hidden = false;
    }
  }

  function renderList() {
    const all = st.partners || [];
    // A ticked partner stays in view whatever the filter.
    const shown = all.filter((p) => !st.kind || p.offers.includes(st.kind) || st.chosen.has(p.partner_id));
    list.replaceChildren(...shown.map(item));
    list.hidden = shown.length === 0;
    let text = '';
    if (st.loading && !st.partners) text = t('refer.loading');
    else if (st.partners && all.length === 0) text = st.emptyDirectory ? t('refer.none') : t('refer.none_for_age');
    else if (st.partners && shown.length === 0) text = t('refer.none_of_kind');
    empty.textContent = text;
    empty.hidden = !text;
  }

  function render() {
    legend.textContent = t('refer.legend');
    intro.textContent = st.ageBand ? t('refer.for_age', { age: t(`age_band.${st.ageBand}`) }) : t('refer.all_ages');
    kindLabel.textContent = t('refer.filter');
    filter.hidden = !st.partners || st.partners.length === 0;
    renderFilter();
    renderList();
    renderCount();
    if (st.failed) {
      error.textContent = t('refer.load_failed');
      error.hidden = false;
    }
    list.setAttribute('aria-label', t('refer.list'));
  }

  onLangChange(() => {
    if (!box.hidden) render();
  });

  return {
    box,
    update(show) {
      const was = !box.hidden;
      box.hidden = !show;
      if (show && !was) {
        // The side column is short: bring the box (and the end button under it) into view.
        load().then(() => box.scrollIntoView({ block: 'start' }));
      }
    },
    /** The ids to send: none when the box is hidden. */
    chosen() {
      return box.hidden ? [] : [...st.chosen];
    },
    tooMany() {
      return !box.hidden && st.chosen.size > REFERRED_MAX;
    },
    /** The server did not know a ticked partner (deleted meanwhile): say so and load again. */
    async gone() {
      await load();
      error.textContent = t('refer.gone');
      error.hidden = false;
    },
  };
}
