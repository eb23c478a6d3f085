// Copy buttons for a booking's reference and PIN (issue 19): the
// clipboard where the browser allows it, with a visible "copied" line
// that a screen reader hears too; where the clipboard is refused (no
// permission, an older browser, a page that is not focused), the text is
// selected on the screen instead and the line says how to copy it by hand.

import { t } from './i18n.js';

/** Select the text of `el` so that a long press or Ctrl+C copies it. */
function selectText(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}

/**
 * Copy the text of the element `sourceId` and say so in `statusId`
 * (an aria-live element). Resolves to true when the clipboard took it.
 */
export async function copyFrom(sourceId, statusId) {
  const source = document.getElementById(sourceId);
  const status = document.getElementById(statusId);
  const text = source?.textContent?.trim() || '';
  if (!text) return false;
  let copied = false;
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      copied = true;
    }
  } catch {
    copied = false;
  }
  if (!copied) selectText(source);
  if (status) {
    status.textContent = copied ? t('copy.done') : t('copy.failed');
    status.dataset.copied = copied ? 'yes' : 'no';
    status.hidden = false;
  }
  return copied;
}
