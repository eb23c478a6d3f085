// Canned replies and the visitor's language (issue 20), in Japanese and
// English at 1280x800: an admin adds canned replies on the admin page (a
// fresh deployment starts empty and says what they are for); a counsellor
// with three chats types "/" and a few letters at the start of the message
// box, picks one with the keyboard and inserts it (nothing is sent), edits
// it and sends: the visitor receives the edited text. The picker button
// opens the same list. Each row of the chat list shows the visitor's
// language. Everything is cleaned up for the next spec.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  counsellorPage,
  visitorPage,
  startChat,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  waitText,
  panel,
  counsellorEnds,
  staffPage,
  visitorTexts,
  axeScan,
  screenshot,
  assertClean,
  expectRefused,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const COPY = {
  ja: {
    empty: '定型文はまだありません',
    consoleEmpty: '定型文はまだありません。管理者が',
    title: 'はじめのあいさつ',
    body: 'こんにちは。ここでは名前を言わなくて大丈夫です。ゆっくりで大丈夫ですよ。',
    title2: '安全の確認',
    body2: '話してくれてありがとうございます。いま、あなたの安全がいちばん大切です。',
    slash: '/はじ',
    added: 'を追加しました',
    edit: '相談員の酒井です。',
    inserted: 'を挿入しました',
    none: '当てはまる定型文はありません',
  },
  en: {
    empty: 'No canned replies yet',
    consoleEmpty: 'There are no canned replies yet',
    title: 'Opening greeting',
    body: 'Hello. You do not need to give your name here. Take your time.',
    title2: 'Safety check',
    body2: 'Thank you for telling me. Your safety matters most right now.',
    slash: '/open',
    added: 'added',
    edit: 'I am Tani, a counsellor.',
    inserted: 'inserted',
    none: 'No canned reply matches',
  },
};

const OTHER = { ja: 'en', en: 'ja' };
const TAG = { ja: '日本語', en: 'English' };

async function addCanned(admin, lang, category, title, body) {
  await admin.selectOption('#canned-lang', lang);
  await admin.selectOption('#canned-category', category);
  await admin.fill('#canned-title', title);
  await admin.fill('#canned-body', body);
  await admin.click('#canned-submit');
  await admin.locator('#canned-rows tr', { hasText: title }).waitFor();
}

for (const [lang, username] of [
  ['ja', 'sakai'],
  ['en', 'tani'],
]) {
  test(`canned replies: added by an admin, found with "/", inserted, edited, sent (${lang})`, async () => {
    const copy = COPY[lang];
    const a = await staffPage(browser, '/admin/#canned-replies', 'kanri');
    const c = await counsellorPage(browser, username);
    const visitors = [];
    try {
      // The admin page: the library starts empty and says what it is for.
      await switchLang(a.page, lang);
      await a.page.locator('#canned-heading').scrollIntoViewIfNeeded();
      await waitText(a.page, '#canned-none', copy.empty);
      assert.ok(await a.page.locator('.canned-intro').isVisible());
      // A blank body is refused with a clear error; nothing is stored.
      await a.page.fill('#canned-title', copy.title);
      await a.page.click('#canned-submit');
      await a.page.locator('#canned-error:not([hidden])').waitFor();
      assert.equal(await a.page.locator('#canned-rows tr').count(), 0);
      expectRefused(a.page, 400, 1);
      await addCanned(a.page, lang, 'greeting', copy.title, copy.body);
      await waitText(a.page, '#canned-status', copy.added);
      await addCanned(a.page, lang, 'safe_messaging', copy.title2, copy.body2);
      await axeScan(a.page, `${lang} admin canned replies`);
      await a.page.locator('#canned-heading').scrollIntoViewIfNeeded();
      await screenshot(a.page, lang, 'admin-canned-replies');

      // Three chats: two visitors read the page in this language, one in the other.
      await switchLang(c.page, lang);
      await waitQueueEmpty(c.page);
      await c.page.fill('#capacity', '3');
      await c.page.locator('#capacity').blur();
      await c.page.waitForFunction(() => /0 (\/|of) 3/.test(document.querySelector('#active-count').textContent));
      await setAvailable(c.page, true);
      const firsts = [
        [lang, lang === 'ja' ? '最近眠れません' : 'I cannot sleep lately'],
        [OTHER[lang], OTHER[lang] === 'ja' ? '家族のことで相談です' : 'It is about my family'],
        [lang, lang === 'ja' ? '外に出るのがこわいです' : 'I am afraid to go out'],
      ];
      for (const [i, [vlang, first_message]] of firsts.entries()) {
        const v = await visitorPage(browser);
        visitors.push(v);
        await switchLang(v.page, vlang);
        await startChat(v.page, { first_message });
        await c.page.waitForFunction((n) => document.querySelectorAll('#conv-list li').length === n, i + 1);
      }
      const ids = [];
      for (const v of visitors) ids.push(await v.page.evaluate(() => JSON.parse(sessionStorage.getItem('tsunagu.visitor')).conversation_id));

      // Each row shows the visitor's language.
      for (const [i, [vlang]] of firsts.entries()) {
        const tag = c.page.locator(`#conv-list li[data-conversation="${ids[i]}"] .badge.lang`);
        await waitText(c.page, `#conv-list li[data-conversation="${ids[i]}"] .badge.lang`, TAG[vlang]);
        assert.equal(await tag.getAttribute('lang'), vlang);
      }

      // "/" and a few letters at the start of the box: the list, filtered; arrows; Enter inserts.
      await c.page.click(`#conv-list li[data-conversation="${ids[0]}"] button`);
      const box = panel(c.page).locator('.composer textarea');
      await box.click();
      await c.page.keyboard.type('/');
      const popup = panel(c.page).locator('.canned-popup:not([hidden])');
      await popup.waitFor();
      // Both entries of this language (the list is read again when it opens: they were added after login).
      await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .canned-popup [role="option"]').length === 2);
      await c.page.keyboard.type(copy.slash.slice(1));
      await c.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .canned-popup [role="option"]').length === 1);
      assert.equal(await popup.locator('[role="option"][aria-selected="true"] .canned-option-title').textContent(), copy.title);
      // The message box keeps the focus and points at the active option.
      const active = await box.getAttribute('aria-activedescendant');
      assert.equal(await popup.locator('[aria-selected="true"]').getAttribute('id'), active);
      await axeScan(c.page, `${lang} console with the canned list open`);
      await screenshot(c.page, lang, 'console-canned-slash');
      await c.page.keyboard.press('ArrowDown');
      await c.page.keyboard.press('Enter');
      await popup.waitFor({ state: 'detached' }).catch(() => {});
      assert.ok(await panel(c.page).locator('.canned-popup').isHidden());
      assert.equal(await box.inputValue(), copy.body, 'the "/" and the letters are replaced by the text');
      await waitText(c.page, '.conv-panel:not([hidden]) .canned-live', copy.inserted);
      // Inserting sent nothing.
      await c.page.waitForTimeout(600);
      assert.ok(!(await visitorTexts(visitors[0].page)).some((x) => x.includes(copy.body)), 'nothing sent on insert');

      // Edited, then sent: the visitor gets the edited text.
      await box.press('End');
      await c.page.keyboard.type(` ${copy.edit}`);
      await panel(c.page).locator('.composer button[type="submit"]').click();
      const sent = `${copy.body} ${copy.edit}`;
      await waitText(visitors[0].page, '#messages .msg-text', copy.edit);
      assert.ok((await visitorTexts(visitors[0].page)).includes(sent), 'the visitor receives the edited text');
      assert.equal(await box.inputValue(), '');

      // The picker button opens the same list with a search field; Esc closes it and returns focus.
      const open = panel(c.page).locator('.canned-open');
      await open.click();
      await popup.waitFor();
      assert.equal(await open.getAttribute('aria-expanded'), 'true');
      const search = popup.locator('.canned-search');
      assert.equal(await c.page.evaluate(() => document.activeElement.classList.contains('canned-search')), true);
      await search.fill('zzzz');
      await waitText(c.page, '.conv-panel:not([hidden]) .canned-empty', copy.none);
      await search.fill('');
      await c.page.keyboard.press('ArrowDown');
      assert.equal(await popup.locator('[aria-selected="true"] .canned-option-title').textContent(), copy.title2);
      await screenshot(c.page, lang, 'console-canned-picker');
      await c.page.keyboard.press('Escape');
      await popup.waitFor({ state: 'detached' }).catch(() => {});
      assert.ok(await panel(c.page).locator('.canned-popup').isHidden());
      assert.equal(await c.page.evaluate(() => document.activeElement.classList.contains('canned-open')), true);
      // A click on an option inserts it at the caret, still without sending.
      await open.click();
      await popup.locator('[role="option"]', { hasText: copy.title2 }).click();
      assert.equal(await box.inputValue(), copy.body2);
      await box.fill('');

      // The visitor in the other language gets that language's list (empty here).
      await c.page.click(`#conv-list li[data-conversation="${ids[1]}"] button`);
      await panel(c.page).locator('.composer textarea').click();
      await c.page.keyboard.type('/');
      // (The page speaks the counsellor's language; the list is the visitor's.)
      await waitText(c.page, '.conv-panel:not([hidden]) .canned-empty', copy.consoleEmpty);
      assert.equal(await panel(c.page).locator('.canned-popup [role="option"]').count(), 0);
      // Escape closes the list; the typed "/" stays as it was.
      await c.page.keyboard.press('Escape');
      assert.equal(await panel(c.page).locator('.composer textarea').inputValue(), '/');
      await panel(c.page).locator('.composer textarea').fill('');
      await c.page.click(`#conv-list li[data-conversation="${ids[0]}"] button`);
      await axeScan(c.page, `${lang} console with three chats`);
      await screenshot(c.page, lang, 'console-three-chats');

      // The third visitor closes the tab: past the grace period (4 s in these tests) the row
      // and the header say the visitor has left; the chat is not ended by it.
      await visitors[2].context.close();
      const left = lang === 'ja' ? '相談者が離れました' : 'The visitor has left';
      await c.page.click(`#conv-list li[data-conversation="${ids[2]}"] button`);
      await waitText(c.page, `#conv-list li[data-conversation="${ids[2]}"]`, left, 15_000);
      await waitText(c.page, '.conv-panel:not([hidden]) .conv-meta', left);
      assert.equal(await c.page.locator(`#conv-list li[data-conversation="${ids[2]}"]`).getAttribute('data-state'), 'active');
      await screenshot(c.page, lang, 'console-visitor-left');

      // Clean up: every chat ends, the admin deletes the entries.
      for (const id of ids) {
        await c.page.click(`#conv-list li[data-conversation="${id}"] button`);
        await counsellorEnds(c.page, 'listened');
      }
      await setAvailable(c.page, false);
      for (const title of [copy.title, copy.title2]) {
        await a.page.locator('#canned-rows tr', { hasText: title }).locator('.canned-delete').click();
        await a.page.locator('#canned-rows tr', { hasText: title }).waitFor({ state: 'detached' });
      }
      await a.page.locator('#canned-none:not([hidden])').waitFor();
      assertClean(a.page, a.context);
      assertClean(c.page, c.context);
      for (const v of visitors.slice(0, 2)) assertClean(v.page, v.context);
    } finally {
      // Whatever happened, the next test starts with an empty library.
      await a.page
        .evaluate(async () => {
          const r = await fetch('/api/canned-replies');
          for (const e of r.ok ? await r.json() : []) await fetch(`/api/canned-replies/${e.canned_reply_id}`, { method: 'DELETE' });
        })
        .catch(() => {});
      for (const v of visitors) await v.context.close();
      await c.context.close();
      await a.context.close();
    }
  });
}

// A supervisor who takes a chat over is shown as busy (not away), and the
// floor panel becomes compact so the chat's message box stays in view at
// 1280x800 (a button shows the whole floor again).
for (const lang of ['ja', 'en']) {
  test(`a supervisor's take-over: busy, and the message box in view (${lang})`, async () => {
    const sup = await counsellorPage(browser, 'kanda');
    let v;
    try {
      await switchLang(sup.page, lang);
      await sup.page.waitForSelector('#floor:not([hidden])');
      assert.equal(await sup.page.locator('#status-now').getAttribute('data-activity'), 'away');
      v = await visitorPage(browser);
      await startChat(v.page, {});
      const id = (await v.page.evaluate(() => JSON.parse(sessionStorage.getItem('tsunagu.visitor')))).conversation_id;
      const row = sup.page.locator(`#floor-convs-body tr[data-conversation="${id}"]`);
      await row.locator('.floor-take-over').click();
      await sup.page.waitForSelector('.conv-panel:not([hidden]) .composer');
      await sup.page.locator('#status-now[data-activity="busy"]').waitFor();
      assert.equal(await sup.page.locator('#status-now').getAttribute('data-status'), 'away', 'taking over brings no new chats');
      await waitText(sup.page, '#status-now', lang === 'ja' ? '対応中' : 'In a chat');
      await waitText(sup.page, '#floor-counsellors', lang === 'ja' ? '対応中' : 'In a chat');
      // The floor is compact; the message box and the send button are inside the 800 px.
      await sup.page.locator('#floor.compact').waitFor();
      // One banner, and nothing else printed next to it.
      assert.ok(!(await sup.page.locator('#notices').innerText()).includes('null'));
      const bottom = await panel(sup.page)
        .locator('.composer button[type="submit"]')
        .evaluate((e) => e.getBoundingClientRect().bottom);
      assert.ok(bottom <= 800, `the send button ends at ${bottom}px`);
      await axeScan(sup.page, `${lang} supervisor with a compact floor`);
      await screenshot(sup.page, lang, 'console-supervisor-compact-floor');
      // The whole floor on request, and back.
      await sup.page.click('#floor-toggle');
      assert.equal(await sup.page.locator('#floor-toggle').getAttribute('aria-expanded'), 'true');
      assert.equal(await sup.page.locator('#floor.compact').count(), 0);
      await sup.page.click('#floor-toggle');
      await sup.page.locator('#floor.compact').waitFor();
      await counsellorEnds(sup.page, 'listened');
      await sup.page.locator('#status-now[data-activity="away"]').waitFor();
      assertClean(sup.page, sup.context);
    } finally {
      await v?.context.close();
      await sup.context.close();
    }
  });
}
