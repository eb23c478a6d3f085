// The admin page in sections, one shown at a time. The URL's fragment
// names it (#floor, #statistics, …), so a reload, a bookmark and the back
// button keep it; the menu is plain links (Tab, Enter), marked with
// aria-current. Choosing a section moves the focus to its heading.

const $ = (id) => document.getElementById(id);

/** Fragment → section, in the menu's order; the first is the default. */
export const SECTIONS = [
  ['floor', 'floor'],
  ['statistics', 'stats'],
  ['audit-log', 'audit'],
  ['staff-accounts', 'accounts'],
  ['canned-replies', 'canned'],
  ['partners', 'partners'],
  ['appointment-slots', 'slots'],
];

const HEADINGS = {
  floor: 'floor-heading',
  stats: 'stats-heading',
  audit: 'audit-heading',
  accounts: 'accounts-heading',
  canned: 'canned-heading',
  partners: 'partners-heading',
  slots: 'create-heading',
};

const changed = new Set();

/** The section the URL names (the default for none or an unknown one). */
export function currentSection() {
  const frag = decodeURIComponent(location.hash.replace(/^#/, ''));
  const found = SECTIONS.find(([f]) => f === frag);
  return (found || SECTIONS[0])[1];
}

/** Call `f(section)` whenever the shown section changes. */
export function onSectionChange(f) {
  changed.add(f);
}

function show(section, focus) {
  for (const el of document.querySelectorAll('.admin-section')) {
    el.hidden = el.dataset.section !== section;
  }
  for (const a of document.querySelectorAll('.admin-nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (focus) {
    window.scrollTo(0, 0);
    $(HEADINGS[section])?.focus({ preventScroll: true });
  }
  for (const f of changed) f(section);
}

/** Show the section the URL names now, and follow its changes. */
export function initSections() {
  show(currentSection(), false);
  window.addEventListener('hashchange', () => show(currentSection(), true));
}
