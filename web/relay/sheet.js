// The relay sheet (つなぐシート, issue 23) in words, for the two pages
// that show one: the partner's page (./relay.js, from a link) and the
// printed sheet (../console/relay-print.js). Both get the same shape from
// the server (`RelaySheet`): the centre, the partner, the purpose, when
// the person consented, and exactly the answers they agreed to share, in
// Japanese and English. Nothing here keeps anything.

import { lang } from '../i18n.js';

/** Japanese text, or the English one on the English page when there is one. */
function either(ja, en) {
  return (lang() === 'en' && en) || ja || '';
}

/** A moment as Japan time with its year: "2026年12月3日 14:05", "3 December 2026, 14:05 (Japan time)". */
export function documentTime(ms) {
  if (!ms) return '';
  const text = new Intl.DateTimeFormat(lang() === 'ja' ? 'ja-JP' : 'en-GB', {
    timeZone: 'Asia/Tokyo',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(ms));
  return lang() === 'ja' ? text : `${text} (Japan time)`;
}

/** The sheet in the page's language: every text the two pages show. */
export function sheetWords(sheet) {
  return {
    centre: either(sheet.centre_ja, sheet.centre_en),
    partner: either(sheet.partner_ja, sheet.partner_en),
    purpose: sheet.purpose || '',
    consented: documentTime(sheet.consented_at),
    expires: sheet.expires_at ? documentTime(sheet.expires_at) : '',
    fields: (sheet.fields || []).map((f) => ({
      question: f.question,
      label: either(f.label_ja, f.label_en),
      answer: either(f.answer_ja, f.answer_en),
    })),
  };
}
