// The hearing sheet (ヒアリングシート) in the console (issue 23), in Japanese
// and English at 1280 x 800. A visitor starts a chat; the counsellor opens
// the sheet beside it (the message box stays in view), fills a choice, a
// scale, several choices and text (its count live), and saves a draft. Too
// long a text is refused by the server: the refusal shows by that
// question, focus goes there, and nothing typed is lost. The console is
// reloaded and the draft comes back; it is marked complete and the server
// has it. Ending the chat, the end form's withdrawal and severity are
// filled from the sheet. The visitor takes a return code and comes back:
// in the second chat the earlier sheet is read side by side with the new
// one (and saved as a draft by itself a few seconds after the last
// change). Axe clean; screenshots console-hearing*. Every chat is ended.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  visitorSend,
  counsellorSend,
  counsellorEnds,
  panel,
  openTab,
  waitText,
  checkState,
  assertClean,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const TEXT = {
  ja: {
    open: 'ヒアリングシート',
    first: '息子が部屋から出てこなくなって1年近くになります',
    reply: 'お話しくださってありがとうございます。',
    contact: ['相談してきた人', '同居の家族'],
    withdrawal: ['ひきこもりの期間', '1年未満'],
    state: ['ひきこもりの状態', '状態②'],
    mood: 'いまの気持ち',
    wishes: ['望んでいること', '話を聞いてほしい', '居場所がほしい'],
    situation: 'いまの状況（本人の言葉で）',
    words: '昼夜逆転。夜中にゲームをしている。食事は部屋の前に置いている。',
    count: (n) => `${n} / 400字`,
    tooLong: '400字以内にしてください',
    saved: 'さんが保存しました',
    draft: '下書き',
    complete: '記入完了',
    saveDraft: '下書き保存',
    saveComplete: '記入完了',
    fromSheet: 'ヒアリングシートの回答から入れました',
    again: 'また来ました。少し外に出られるようになりました',
    compare: '前回までとの比較（1回分）',
    now: '今回',
    v1done: '第1版・記入完了',
    earlierCase: 'ヒアリングシート：記入完了',
  },
  en: {
    open: 'Hearing sheet',
    first: 'My son has not come out of his room for almost a year',
    reply: 'Thank you for telling me.',
    contact: ['Who is contacting', 'Family living with them'],
    withdrawal: ['How long withdrawn', 'Under 1 year'],
    state: ['State of withdrawal', 'State 2'],
    mood: 'How they feel now',
    wishes: ['What they wish for', 'Someone to talk to', 'A place to be'],
    situation: 'The situation now (in their words)',
    words: 'Day and night reversed. Games at night. Meals left at his door.',
    count: (n) => `${n} / 400 characters`,
    tooLong: 'Please keep it to 400 characters',
    saved: 'Saved at ',
    draft: 'Draft',
    complete: 'Complete',
    saveDraft: 'Save draft',
    saveComplete: 'Mark complete',
    fromSheet: 'Filled in from the hearing sheet',
    again: 'I am back. He goes out a little now',
    compare: 'Compared with earlier sheets (1)',
    now: 'This time',
    v1done: 'Version 1, Complete',
    earlierCase: 'Hearing sheet: Complete',
  },
};

const sheet = (page) => panel(page).locator('.hearing-col');
const group = (page, name) => sheet(page).getByRole('group', { name, exact: true });

/** The sheet beside the chat fits 1280 x 800: the page does not scroll and the message box is in view. */
async function assertFits(page, label) {
  const m = await page.evaluate(() => {
    const box = document.querySelector('.conv-panel:not([hidden]) .composer textarea').getBoundingClientRect();
    const col = document.querySelector('.conv-panel:not([hidden]) .hearing-col').getBoundingClientRect();
    const foot = document.querySelector('.conv-panel:not([hidden]) .hearing-foot').getBoundingClientRect();
    return {
      page: document.documentElement.scrollHeight,
      client: document.documentElement.clientHeight,
      composerBottom: box.bottom,
      composerWidth: box.width,
      colWidth: col.width,
      footBottom: foot.bottom,
    };
  });
  assert.ok(m.page <= m.client, `${label}: the page is ${m.page}px tall in ${m.client}px`);
  assert.ok(m.composerBottom <= m.client, `${label}: the message box ends at ${m.composerBottom}px`);
  assert.ok(m.footBottom <= m.client, `${label}: the save buttons end at ${m.footBottom}px`);
  assert.ok(m.composerWidth >= 300, `${label}: the message box is ${m.composerWidth}px wide`);
  assert.ok(m.colWidth >= 380, `${label}: the sheet is ${m.colWidth}px wide`);
}

async function openSheet(page) {
  await panel(page).locator('.hearing-toggle').click();
  await sheet(page).waitFor();
  await sheet(page).locator('.hearing-section').first().waitFor();
}

/** The sheet as the server has it (fetched by the page, with its session). */
async function serverSheet(page, conversation) {
  return page.evaluate(async (id) => {
    const r = await fetch(`/api/counsellor/conversations/${id}/hearing`, { credentials: 'same-origin' });
    return { status: r.status, body: await r.json() };
  }, conversation);
}

/** The conversation id of the panel shown. */
async function shownConversation(page) {
  const id = await panel(page).locator('.hearing-col').getAttribute('id');
  return id.replace(/^conv-/, '').replace(/-hearing$/, '');
}

for (const [lang, username, name] of [['ja', 'kiki.ja', '菊池'], ['en', 'kiki.en', '木下']]) {
  test(`the counsellor fills the hearing sheet, and reads it beside the next one (${lang}, 1280x800)`, async () => {
    const say = TEXT[lang];
    const c = await counsellorPage(browser, username);
    const v = await visitorPage(browser);
    try {
      if (lang === 'en') {
        await switchLang(c.page, 'en');
        await switchLang(v.page, 'en');
      }
      await waitQueueEmpty(c.page);
      await setAvailable(c.page, true);
      await startChat(v.page, { first_message: say.first });
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', say.first);
      await counsellorSend(c.page, say.reply);
      await waitText(v.page, '#messages .msg-text', say.reply);
      const conversation = await shownConversation(c.page);

      // ---- the sheet opens beside the chat; focus goes to it
      const toggle = panel(c.page).locator('.hearing-toggle');
      assert.equal((await toggle.innerText()).trim(), say.open);
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      await openSheet(c.page);
      assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
      assert.match(await c.page.evaluate(() => document.activeElement.id), /-hearing-heading$/);
      await assertFits(c.page, `${lang} sheet open`);
      // Sections are fieldsets with legends; questions are labelled groups.
      assert.ok((await sheet(c.page).locator('fieldset.hearing-section > legend').count()) >= 4);
      // The order of focus: heading, close, then the first question's options.
      await c.page.keyboard.press('Tab');
      assert.ok(await sheet(c.page).locator('.hearing-close').evaluate((e) => e === document.activeElement));
      await c.page.keyboard.press('Tab');
      const firstFocus = await c.page.evaluate(() => document.activeElement.closest('[data-question]')?.dataset.question);
      assert.equal(firstFocus, 'contact');

      // ---- a choice (and cleared, and chosen again), a scale, several choices, text
      const contact = group(c.page, say.contact[0]).getByLabel(say.contact[1], { exact: true });
      await contact.check();
      const clear = group(c.page, say.contact[0]).locator('.hearing-clear');
      await clear.click();
      assert.equal(await contact.isChecked(), false);
      assert.ok(await clear.isHidden());
      await contact.check();
      await group(c.page, say.withdrawal[0]).getByLabel(say.withdrawal[1], { exact: true }).check();
      await group(c.page, say.state[0]).getByLabel(say.state[1], { exact: true }).check();
      await group(c.page, say.mood).getByRole('radio', { name: /^2/ }).check();
      for (const w of say.wishes.slice(1)) await group(c.page, say.wishes[0]).getByLabel(w, { exact: true }).check();
      const situation = sheet(c.page).getByLabel(say.situation, { exact: true });
      await situation.fill(say.words);
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-count', say.count([...say.words].length));
      // The scale's ends are in the first and last options' names.
      const ends = await group(c.page, say.mood).getByRole('radio').evaluateAll((rs) => rs.map((r) => r.labels[0].textContent));
      assert.equal(ends.length, 5);
      assert.ok(ends[0].length > 1 && ends[4].length > 1 && ends[2] === '3', JSON.stringify(ends));

      await group(c.page, say.mood).scrollIntoViewIfNeeded();
      await checkState(c.page, lang, 'console: the hearing sheet being filled', 'console-hearing-filled');

      // ---- the other language and back: the labels change, the answers stay
      const other = lang === 'ja' ? 'en' : 'ja';
      await switchLang(c.page, other);
      await group(c.page, TEXT[other].contact[0]).getByLabel(TEXT[other].contact[1], { exact: true }).waitFor();
      assert.ok(await group(c.page, TEXT[other].contact[0]).getByLabel(TEXT[other].contact[1], { exact: true }).isChecked());
      assert.equal(await sheet(c.page).getByLabel(TEXT[other].situation, { exact: true }).inputValue(), say.words);
      await switchLang(c.page, lang);
      assert.ok(await contact.isChecked());

      // ---- save a draft
      await sheet(c.page).getByRole('button', { name: say.saveDraft, exact: true }).click();
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-status', say.saved);
      const status = await sheet(c.page).locator('.hearing-status').innerText();
      assert.ok(status.includes(name) && /\d{1,2}:\d{2}/.test(status), status);
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-toggle .badge', say.draft);

      // ---- too long a text: the server refuses it, by the question; nothing is lost
      const long = `${say.words}${'あ'.repeat(400)}`;
      await situation.fill(long);
      assert.ok(await sheet(c.page).locator('.hearing-count.over').isVisible());
      await sheet(c.page).getByRole('button', { name: say.saveDraft, exact: true }).click();
      const qError = sheet(c.page).locator('[data-question="situation"] .hearing-q-error');
      await qError.waitFor();
      assert.ok((await qError.innerText()).includes(say.tooLong), await qError.innerText());
      assert.ok(await situation.evaluate((e) => e === document.activeElement), 'focus on the refused question');
      assert.equal(await situation.getAttribute('aria-invalid'), 'true');
      assert.ok((await situation.getAttribute('aria-describedby')).includes(await qError.getAttribute('id')));
      assert.equal(await situation.inputValue(), long);
      assert.ok(await contact.isChecked(), 'the other answers are kept');
      await checkState(c.page, lang, 'console: the hearing sheet refused', 'console-hearing-refused');
      // The browser logs the refused PUT as a console error: expected here, once or twice (the autosave).
      const refused = c.page.problems.filter((p) => p.includes('status of 400'));
      assert.ok(refused.length >= 1 && refused.length <= 2, JSON.stringify(c.page.problems));
      c.page.problems = c.page.problems.filter((p) => !refused.includes(p));
      await situation.fill(say.words);
      await sheet(c.page).getByRole('button', { name: say.saveDraft, exact: true }).click();
      await qError.waitFor({ state: 'hidden' });
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-status', say.saved);
      await assertFits(c.page, `${lang} draft saved`);
      await checkState(c.page, lang, 'console: the hearing sheet, a draft', 'console-hearing-draft');

      // ---- reload the console: the draft comes back
      await c.page.reload();
      await c.page.waitForSelector('#workspace:not([hidden])');
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-toggle .badge', say.draft);
      await openSheet(c.page);
      assert.ok(await group(c.page, say.contact[0]).getByLabel(say.contact[1], { exact: true }).isChecked());
      assert.ok(await group(c.page, say.withdrawal[0]).getByLabel(say.withdrawal[1], { exact: true }).isChecked());
      assert.ok(await group(c.page, say.mood).getByRole('radio', { name: /^2/ }).isChecked());
      for (const w of say.wishes.slice(1)) assert.ok(await group(c.page, say.wishes[0]).getByLabel(w, { exact: true }).isChecked());
      assert.equal(await sheet(c.page).getByLabel(say.situation, { exact: true }).inputValue(), say.words);
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-status', say.saved);

      // ---- mark it complete; the server has it
      await sheet(c.page).getByRole('button', { name: say.saveComplete, exact: true }).click();
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-head .badge', say.complete);
      const saved = await serverSheet(c.page, conversation);
      assert.equal(saved.status, 200);
      assert.equal(saved.body.sheet.complete, true);
      assert.equal(saved.body.sheet.version, 1);
      assert.equal(saved.body.sheet.saved_by.display_name, name);
      assert.deepEqual(
        { ...saved.body.sheet.answers },
        {
          contact: 'family_together',
          withdrawal: 'under_one_year',
          state: 'state_2',
          mood: 2,
          wishes: ['someone_to_talk', 'a_place'],
          situation: say.words,
        },
      );

      // ---- the end form: withdrawal and severity filled from the sheet
      await sheet(c.page).locator('.hearing-close').click();
      assert.ok(await sheet(c.page).isHidden());
      assert.ok(await toggle.evaluate((e) => e === document.activeElement), 'focus back on the button');
      await openTab(c.page, 'end');
      assert.equal(await panel(c.page).locator('.end-withdrawal').inputValue(), 'under_one_year');
      assert.equal(await panel(c.page).locator('.end-severity').inputValue(), 'state_2');
      await waitText(c.page, '.conv-panel:not([hidden]) .end-from-sheet', say.fromSheet);
      await checkState(c.page, lang, 'console: the end form filled from the sheet', 'console-hearing-end');
      await visitorSend(v.page, say.reply);
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', say.reply);
      await panel(c.page).locator('.end-outcome').selectOption('listened');
      await panel(c.page).locator('.end-form button[type="submit"]').click();
      await c.page.waitForFunction(
        () => document.querySelector('#end-confirm[open]') || document.querySelector('.conv-panel:not([hidden]) .close-conv:not([hidden])'),
      );
      if (await c.page.locator('#end-confirm[open]').isVisible()) await c.page.locator('#end-confirm .end-confirm-yes').click();
      await panel(c.page).locator('.close-conv').waitFor();
      // Ended, the panel still open: the sheet can still be read.
      assert.ok(await toggle.isVisible());
      await panel(c.page).locator('.close-conv').click();
      await v.page.waitForSelector('#ended-panel:not([hidden])');

      // ---- the visitor takes a return code and comes back with it
      await v.page.click('#return-code-open');
      await v.page.waitForSelector('#return-code-panel:not([hidden])');
      const code = (await v.page.locator('#return-code').textContent()).trim();
      await v.page.click('#new-chat');
      await v.page.waitForSelector('#screen-welcome:not([hidden])');
      await v.page.click('#return-start summary');
      await v.page.fill('#return-start-input', code);
      // (The pre-chat questions are still open from the first chat: the message is sent once in.)
      await startChat(v.page);
      await visitorSend(v.page, say.again);
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', say.again);
      const second = await shownConversation(c.page);
      assert.notEqual(second, conversation);
      await c.page.waitForSelector('.conv-panel:not([hidden]) .case-box:not([hidden])');
      await waitText(c.page, '.conv-panel:not([hidden]) .case-box', say.earlierCase);

      // ---- the second chat's sheet: the earlier one beside it
      await openSheet(c.page);
      const compare = sheet(c.page).locator('.hearing-compare');
      await compare.waitFor();
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-compare summary', say.compare);
      const heads = await compare.locator('thead th').allInnerTexts();
      assert.equal(heads.length, 3, JSON.stringify(heads));
      assert.ok(heads[1].includes(say.v1done), JSON.stringify(heads));
      assert.ok(heads[2].includes(say.now), JSON.stringify(heads));
      const row = (qid) => compare.locator(`tbody tr[data-question="${qid}"]`);
      assert.ok((await row('withdrawal').locator('td').first().innerText()).includes(say.withdrawal[1]));
      assert.ok((await row('situation').locator('td').first().innerText()).includes(say.words));
      // Filled now, the new column follows: a higher mood is marked as a change.
      await group(c.page, say.mood).getByRole('radio', { name: /^4/ }).check();
      await group(c.page, say.withdrawal[0]).getByLabel(say.withdrawal[1], { exact: true }).check();
      await c.page.waitForFunction(() => {
        const r = document.querySelector('.conv-panel:not([hidden]) .hearing-compare tr[data-question="mood"]');
        return r && r.querySelectorAll('td')[1]?.classList.contains('changed');
      });
      const mood = await row('mood').locator('td').allInnerTexts();
      assert.deepEqual(mood.map((x) => x.replace(/\s+/g, ' ').trim().slice(0, 5)), ['2 / 5', '4 / 5'], JSON.stringify(mood));
      assert.ok(mood[1].includes('↑'), JSON.stringify(mood));
      // Not saved by hand: a draft is saved a few seconds after the last change.
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-status', say.saved);
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-head .badge', say.draft);
      await assertFits(c.page, `${lang} side by side`);
      // The comparison is at the top of the sheet.
      await sheet(c.page).locator('.hearing-scroll').evaluate((e) => {
        e.scrollTop = 0;
      });
      await checkState(c.page, lang, 'console: the hearing sheet beside the earlier one', 'console-hearing-compare');
      const secondSaved = await serverSheet(c.page, second);
      assert.equal(secondSaved.body.sheet.answers.mood, 4);
      assert.equal(secondSaved.body.sheet.complete, false);

      await sheet(c.page).locator('.hearing-close').click();
      await counsellorEnds(c.page, 'listened');
      await setAvailable(c.page, false);
      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });
}
