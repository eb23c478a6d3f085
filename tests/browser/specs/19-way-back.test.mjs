// Issue 19: the way back after a quick exit. During a chat the visitor
// asks for a way-back code (「この会話に戻るコード」 beside the quick exit), uses
// the quick exit (which clears the page's storage), opens the page again,
// enters the code on the welcome page, and the conversation is back with
// its messages; the counsellor's console shows the visitor back online. A
// wrong code gets a calm, typed message. In Japanese and English at
// 360x740, axe clean. Every conversation is ended before a test ends.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  NEUTRAL_URL,
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  visitorSend,
  visitorSession,
  counsellorSend,
  counsellorEnds,
  panel,
  waitText,
  checkState,
  expectRefused,
  assertClean,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const CODE = /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/;

const TEXT = {
  ja: {
    link: 'この会話に戻るコード',
    explain: '（30分以内・一度だけ）',
    summary: 'さっき離れた会話に戻る（8文字のコード）',
    mine: '親に聞かれそうで怖い',
    theirs: 'ゆっくりで大丈夫です',
    wrong: 'このコードでは会話に戻れませんでした',
  },
  en: {
    link: 'Code to reopen this chat',
    explain: '(within 30 minutes, once only)',
    summary: 'Back to the chat you just left (8-character code)',
    mine: 'someone may hear me',
    theirs: 'Take your time',
    wrong: 'That code does not lead back to a conversation',
  },
};

async function consoleOnline(c, online) {
  await c.page.waitForSelector(`.conv-panel:not([hidden]) .conv-meta[data-online="${online}"]`);
}

for (const [lang, username, counsellorName] of [['ja', 'ono', '小野'], ['en', 'ikeda', '池田']]) {
  test(`a way-back code brings the visitor back after a quick exit (${lang}, 360x740)`, async () => {
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

      // The welcome page: the way back is one collapsed line under the start button.
      const start = await v.page.locator('#start-button').boundingBox();
      const field = await v.page.locator('#way-back-return summary').boundingBox();
      console.log(`# ${lang}: start button bottom ${Math.round(start.y + start.height)} px, way-back line at ${Math.round(field.y)} px`);
      assert.ok(start.y + start.height <= 740, 'the start button is in the first screen');
      assert.ok(field.y > start.y, 'the way back comes after the start button');
      assert.equal(await v.page.locator('#way-back-return').getAttribute('open'), null, 'collapsed');
      assert.ok(await v.page.locator('#way-back-open').isHidden(), 'no way-back link before a chat');

      await startChat(v.page);
      await waitText(v.page, '#chat-heading', counsellorName);
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      const id = (await visitorSession(v.page)).conversation_id;
      await counsellorSend(c.page, say.theirs);
      await waitText(v.page, '#messages .msg-text', say.theirs);
      await visitorSend(v.page, say.mine);
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', say.mine);

      // Ask for the code: shown large, grouped 4-4, with its one line.
      const link = v.page.locator('#way-back-open');
      assert.equal((await link.textContent()).trim(), say.link);
      await link.click();
      await v.page.waitForSelector('#way-back-panel:not([hidden])');
      const code = (await v.page.locator('#way-back-code').textContent()).trim();
      assert.match(code, CODE);
      await waitText(v.page, '#way-back-explain', say.explain);
      assert.equal(await link.getAttribute('aria-expanded'), 'true');
      assert.equal(await v.page.evaluate(() => document.activeElement?.id), 'way-back-heading');
      assert.ok(!JSON.stringify(await visitorSession(v.page)).includes(code), 'the code is not stored in the page');
      await v.page.click('#way-back-copy');
      await v.page.waitForSelector('#way-back-copied:not([hidden])');
      await checkState(v.page, lang, 'way-back code shown', 'way-back-code');

      // Quick exit: the page goes, and its storage with it.
      await v.page.click('#quick-exit');
      await v.page.waitForURL(NEUTRAL_URL);
      await consoleOnline(c, false);

      // Back on the top page, with nothing stored: enter the code.
      await v.page.goto(`${BASE}/`);
      await v.page.waitForSelector('#screen-welcome:not([hidden])');
      assert.equal(await v.page.evaluate(() => sessionStorage.length), 0);
      if (lang === 'en') await switchLang(v.page, 'en');
      await waitText(v.page, '#way-back-return summary', say.summary);
      await v.page.click('#way-back-return summary');
      // Typed as a person might: lower case, a space for the hyphen.
      await v.page.fill('#way-back-input', code.toLowerCase().replace('-', ' '));
      await checkState(v.page, lang, 'welcome: back with a code', 'way-back-enter');
      await v.page.click('#way-back-submit');

      // The conversation is back, with its messages, and goes on.
      await v.page.waitForSelector('#screen-chat:not([hidden])');
      await waitText(v.page, '#chat-heading', counsellorName);
      await waitText(v.page, '#messages .msg-text', say.theirs);
      await waitText(v.page, '#messages .msg-text', say.mine);
      const again = await visitorSession(v.page);
      assert.equal(again.conversation_id, id);
      await consoleOnline(c, true);
      await visitorSend(v.page, 'ただいま');
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', 'ただいま');
      await checkState(v.page, lang, 'back in the chat after the way-back code', 'way-back-returned');
      await checkState(c.page, lang, 'console: the visitor is back', 'way-back-console');
      assert.match(await panel(c.page).innerText(), new RegExp(say.mine));

      await counsellorEnds(c.page, 'listened');
      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });

  test(`a wrong or used code gets a calm, typed message (${lang})`, async () => {
    const say = TEXT[lang];
    const v = await visitorPage(browser);
    try {
      if (lang === 'en') await switchLang(v.page, 'en');
      await v.page.click('#way-back-return summary');
      // Empty: said on the page, nothing sent.
      await v.page.click('#way-back-submit');
      await v.page.waitForSelector('#way-back-error:not([hidden])');
      await v.page.fill('#way-back-input', 'ABCD-EFGH');
      await v.page.click('#way-back-submit');
      await waitText(v.page, '#way-back-error', say.wrong);
      assert.equal(await v.page.evaluate(() => document.activeElement?.id), 'way-back-input');
      assert.ok(await v.page.locator('#screen-welcome').isVisible(), 'still on the welcome page');
      assert.ok(await v.page.locator('#start-button').isEnabled(), 'a new chat can still start');
      await checkState(v.page, lang, 'welcome: a wrong way-back code', 'way-back-wrong');
      expectRefused(v.page, 404, 1);
      assertClean(v.page, v.context);
    } finally {
      await v.context.close();
    }
  });
}
