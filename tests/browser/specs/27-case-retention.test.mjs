// Issue 22: a case's retention on the visitor's page. During a chat (not
// only after it) the visitor takes the code for next time and copies it;
// they agree to keep their history longer (the wording shown word for
// word, the retention in force beside it) and take it back; then they
// erase the whole case, after a confirmation that says what goes. In
// Japanese and English at 360x740, axe clean.

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
  counsellorSend,
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
    theirs: 'こんにちは。お話を聞かせてください',
    normal: 'それぞれの相談が終わってから30日間',
    wording: '最後に相談した日から180日間残します',
    kept: 'あなたの同意により、最後の相談から180日間',
    confirm: '本当に、このコードの相談をすべて消しますか',
    erased: 'このコードでつながる相談をすべて消しました',
  },
  en: {
    theirs: 'Hello. Please tell me about it',
    normal: '30 days after each chat ends',
    wording: 'kept for 180 days after your last chat',
    kept: 'as you agreed: 180 days after your last chat',
    confirm: 'Erase every chat this code links?',
    erased: 'Every chat this code linked is erased',
  },
};

for (const [lang, username, counsellorName] of [['ja', 'kiyo', '清'], ['en', 'kiyo.en', '清水']]) {
  test(`during a chat: take the code, keep longer and take it back, erase the case (${lang}, 360x740)`, async () => {
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
      await startChat(v.page);
      await waitText(v.page, '#chat-heading', counsellorName);
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      await counsellorSend(c.page, say.theirs);
      await waitText(v.page, '#messages .msg-text', say.theirs);

      // During the chat: the control is there, the code comes, it copies.
      const open = v.page.locator('#return-code-open');
      await open.waitFor({ state: 'visible' });
      await open.click();
      await v.page.waitForSelector('#return-code-panel:not([hidden])');
      const code = (await v.page.locator('#return-code').textContent()).trim();
      assert.match(code, CODE);
      assert.ok(await v.page.locator('#composer').isVisible(), 'still chatting');
      await v.page.click('#return-code-copy');
      await v.page.waitForSelector('#return-code-copied:not([hidden])');
      await waitText(v.page, '#keep-status', say.normal);
      await waitText(v.page, '#keep-wording', say.wording);
      await checkState(v.page, lang, 'return code during a chat', 'case-retention-code');

      // Keep longer: the status says so, the other button takes the focus.
      await v.page.click('#keep-give');
      await waitText(v.page, '#keep-status', say.kept);
      assert.ok(await v.page.locator('#keep-give').isHidden());
      assert.equal(await v.page.evaluate(() => document.activeElement?.id), 'keep-withdraw');
      await checkState(v.page, lang, 'keep-longer given', 'case-retention-kept');
      // Taken back: the normal retention again.
      await v.page.click('#keep-withdraw');
      await waitText(v.page, '#keep-status', say.normal);
      assert.equal(await v.page.evaluate(() => document.activeElement?.id), 'keep-give');

      // Erase the case: asked first; cancelling keeps everything.
      await v.page.click('#case-erase');
      await waitText(v.page, '#case-erase-question', say.confirm);
      assert.equal(await v.page.evaluate(() => document.activeElement?.id), 'case-erase-question');
      await checkState(v.page, lang, 'erase the case: confirm', 'case-retention-erase-confirm');
      await v.page.click('#case-erase-no');
      assert.ok(await v.page.locator('#case-erase-confirm').isHidden());
      await v.page.click('#case-erase');
      await v.page.click('#case-erase-yes');
      await waitText(v.page, '#notice', say.erased);
      await v.page.waitForSelector('#screen-welcome:not([hidden])');
      await checkState(v.page, lang, 'case erased', 'case-retention-erased');

      assertClean(v.page, v.context);
      assertClean(c.page, c.context);
    } finally {
      await v.context.close();
      await c.context.close();
    }
  });
}
