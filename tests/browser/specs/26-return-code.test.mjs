// Issue 22: the return code. After a chat the visitor takes a code
// (「次回用のコード」), copies it and saves it as a text file; later, on
// the start screen, they give it in the optional field and are matched to
// the same counsellor, whose console shows the earlier conversation. A
// wrong code gets a calm message by the field and nothing starts. In
// Japanese and English at 360x740, axe clean. Every conversation is ended
// before a test ends.

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

const CODE = /^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){4}$/;

const TEXT = {
  ja: {
    open: '次回用のコード',
    explain: '30日間',
    summary: '前に相談したことがある方',
    mine: '最近眠れなくて',
    theirs: 'お話を聞かせてください',
    again: 'また来ました',
    earlier: '前回までの相談（1件）',
    wrong: 'このコードでは前の相談につながりませんでした',
  },
  en: {
    open: 'Code for next time',
    explain: '30 days',
    summary: 'If you have talked with us before',
    mine: 'I cannot sleep lately',
    theirs: 'Please tell me more',
    again: 'I am back',
    earlier: 'Earlier conversations (1)',
    wrong: 'That code does not lead to an earlier chat',
  },
};

for (const [lang, username, counsellorName] of [['ja', 'taniguchi', '谷口'], ['en', 'uno', '宇野']]) {
  test(`a visitor takes a return code, comes back with it, and meets the same counsellor (${lang}, 360x740)`, async () => {
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

      // The start screen: the code is optional and collapsed.
      assert.equal(await v.page.locator('#return-start').getAttribute('open'), null, 'collapsed');
      assert.ok(await v.page.locator('#return-code-open').isHidden(), 'no code before a chat');

      await startChat(v.page);
      await waitText(v.page, '#chat-heading', counsellorName);
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      await counsellorSend(c.page, say.theirs);
      await waitText(v.page, '#messages .msg-text', say.theirs);
      await visitorSend(v.page, say.mine);
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', say.mine);
      await counsellorEnds(c.page, 'listened');
      await v.page.waitForSelector('#ended-panel:not([hidden])');

      // After the chat: take the code, copy it, save it as text.
      const open = v.page.locator('#return-code-open');
      assert.equal((await open.textContent()).trim(), say.open);
      await open.click();
      await v.page.waitForSelector('#return-code-panel:not([hidden])');
      const code = (await v.page.locator('#return-code').textContent()).trim();
      assert.match(code, CODE);
      await waitText(v.page, '#return-code-explain', say.explain);
      assert.equal(await v.page.evaluate(() => document.activeElement?.id), 'return-code-heading');
      const stored = await v.page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
      assert.ok(!stored.includes(code), 'the code is not stored in the page');
      await v.page.click('#return-code-copy');
      await v.page.waitForSelector('#return-code-copied:not([hidden])');
      const [download] = await Promise.all([v.page.waitForEvent('download'), v.page.click('#return-code-save')]);
      assert.equal(download.suggestedFilename(), 'tsunagu-code.txt');
      const file = await download.path();
      const text = (await import('node:fs')).readFileSync(file, 'utf8');
      assert.ok(text.includes(code), 'the saved file holds the code');
      console.log(`# ${lang}: return code ${code.length} characters; saved file ${text.length} characters`);
      await checkState(v.page, lang, 'return code shown', 'return-code');

      // Later: a new chat from the start screen, with the code.
      await v.page.click('#new-chat');
      await v.page.waitForSelector('#screen-welcome:not([hidden])');
      await waitText(v.page, '#return-start summary', say.summary);
      await v.page.click('#return-start summary');
      // A wrong code first: refused by the field, nothing started.
      await v.page.fill('#return-start-input', '2345-6789-ABCD-EFGH-JKMN');
      await v.page.click('#start-button');
      await waitText(v.page, '#start-error', say.wrong);
      assert.ok(await v.page.locator('#screen-welcome').isVisible());
      assert.equal(await v.page.evaluate(() => document.activeElement?.id), 'return-start-input');
      await checkState(v.page, lang, 'a wrong return code', 'return-code-wrong');
      // The right one, typed as a person might: lower case, spaces.
      await v.page.fill('#return-start-input', code.toLowerCase().replaceAll('-', ' '));
      await checkState(v.page, lang, 'start with a return code', 'return-code-start');
      await startChat(v.page, { first_message: say.again });
      await waitText(v.page, '#chat-heading', counsellorName);

      // The counsellor sees the earlier conversation in the console.
      await c.page.waitForSelector('.conv-panel:not([hidden]) .case-box:not([hidden])');
      const box = panel(c.page).locator('.case-box');
      await waitText(c.page, '.conv-panel:not([hidden]) .case-box summary', say.earlier);
      await box.locator('summary').click();
      await waitText(c.page, '.conv-panel:not([hidden]) .case-box .case-log', say.mine);
      await waitText(c.page, '.conv-panel:not([hidden]) .case-box .case-log', say.theirs);
      await checkState(c.page, lang, 'console: a returning visitor\'s earlier conversation', 'return-code-console');

      await counsellorEnds(c.page, 'listened');
      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });
}
