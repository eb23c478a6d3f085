// Issue 22: letters on the visitor page. While the chat is closed the
// closed screen offers 「お手紙を書く」: the visitor writes, sees when a
// reply can be expected and a new code (copy, save as text); a counsellor
// answers through the API; the visitor reads the reply on the page with
// the code (a wrong code first gets a calm message). An urgent letter
// shows the safety panel at once. In Japanese and English at 360x740,
// axe clean.
//
// Runs against run.sh's closed-hours server (TSUNAGU_CLOSED_URL); the
// counsellor `aoki` answers there (no other spec logs in on that server).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  CLOSED_BASE,
  PASSWORD,
  launch,
  closedVisitorPage,
  switchLang,
  waitText,
  checkState,
  expectRefused,
  assertClean,
} from '../lib/harness.mjs';

let browser;
let staff;
before(async () => {
  browser = await launch();
  // A counsellor on the closed server, through the API (the context keeps the cookie).
  staff = await browser.newContext();
  const r = await staff.request.post(`${CLOSED_BASE}/api/login`, { data: { username: 'aoki', password: PASSWORD } });
  assert.equal(r.status(), 200, 'the counsellor logs in on the closed server');
});
after(async () => {
  await staff?.close();
  await browser?.close();
});

const CODE = /^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){4}$/;

const TEXT = {
  ja: {
    heading: 'お手紙を書く',
    intro: '名前や連絡先は書かなくて大丈夫です',
    letter: '夜になると不安で眠れません。\n誰にも言えなくて、ここに書きました。',
    // "お返事の目安：12月7日(月) 9:15ごろ": as the closed screen writes `next_opening`.
    when: /^お返事の目安：\d{1,2}月\d{1,2}日\([月火水木金土日]\) \d{1,2}:\d{2}ごろ$/,
    sent: 'お手紙を受け取りました',
    how: '「お手紙の返事を読む」にこのコードを入れる',
    answer: '書いてくれてありがとう。眠れない夜はつらいですね。よかったら、受付時間にチャットでも話しましょう。',
    read: 'お手紙の返事を読む',
    wrong: 'このコードではお手紙が見つかりませんでした',
    replies: 'あなたのお手紙（1通・お返事1通）',
    from: '相談員 青木さんからのお返事',
    waiting: 'まだお返事はありません',
  },
  en: {
    heading: 'Write a letter',
    intro: 'You do not need to write your name',
    letter: 'I cannot sleep at night because I feel anxious.\nI could not tell anyone, so I am writing here.',
    // "Expected reply: around Mon 7 Dec, 9:15 (Japan time)"
    when: /^Expected reply: around (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}, \d{1,2}:\d{2} \(Japan time\)$/,
    sent: 'Your letter has arrived',
    how: 'enter this code under "Read the reply to your letter"',
    answer: 'Thank you for writing. Sleepless nights are hard. If you like, we can also talk by chat during opening hours.',
    read: 'Read the reply to your letter',
    wrong: 'No letter was found with that code',
    replies: 'Your letters: 1 (replies: 1)',
    from: 'Reply from 青木 (counsellor)',
    waiting: 'No reply yet',
  },
};

for (const lang of ['ja', 'en']) {
  test(`a letter while closed: written, its code kept, answered, and the reply read (${lang}, 360x740)`, async () => {
    const say = TEXT[lang];
    const info = await (await fetch(`${CLOSED_BASE}/api/info`)).json();
    assert.equal(info.hours.accepting, false, 'the closed-hours server is closed');
    assert.equal(info.letters?.enabled, true, 'and takes letters');

    const { context, page } = await closedVisitorPage(browser);
    try {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: CLOSED_BASE });
      await page.waitForSelector('#closed-panel:not([hidden])');
      await switchLang(page, lang);

      // The letter form, under the closed panel.
      await page.waitForSelector('#letter-write:not([hidden])');
      await waitText(page, '#letter-heading', say.heading);
      await waitText(page, '#letter-intro', say.intro);
      assert.equal(await page.locator('#letter-text').getAttribute('maxlength'), String(info.letters.max_chars));
      await page.fill('#letter-text', say.letter);
      await waitText(page, '#letter-count', `${[...say.letter].length} / ${info.letters.max_chars}`);
      assert.ok(await page.locator('#safety').isHidden(), 'no safety panel before anything was written');

      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/letters') && r.request().method() === 'POST'),
        page.click('#letter-send'),
      ]);
      assert.equal(response.status(), 201);
      const receipt = await response.json();
      assert.equal(receipt.safety_info, false);

      // The receipt: the estimate, the code (shown once), copy and save.
      await page.waitForSelector('#letter-sent:not([hidden])');
      assert.ok(await page.locator('#letter-form').isHidden(), 'the form gives way to the receipt');
      await page.waitForFunction(() => document.activeElement?.id === 'letter-sent-heading');
      await waitText(page, '#letter-sent-heading', say.sent);
      assert.match((await page.locator('#letter-sent-when').textContent()).trim(), say.when);
      const code = (await page.locator('#letter-code').textContent()).trim();
      assert.match(code, CODE);
      assert.equal(code, receipt.return_code);
      await waitText(page, '#letter-sent-how', say.how);
      assert.ok(await page.locator('#safety').isHidden(), 'an ordinary letter: no safety panel');
      assert.equal(await page.locator('#letter-text').inputValue(), '', 'the letter is not kept in the page');
      const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
      assert.ok(!stored.includes(code), 'the code is not stored in the page');

      await page.click('#letter-code-copy');
      await page.waitForSelector('#letter-code-copied:not([hidden])');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code, 'the code is on the clipboard');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#letter-code-save')]);
      assert.equal(download.suggestedFilename(), 'tsunagu-code.txt');
      const file = readFileSync(await download.path(), 'utf8');
      assert.ok(file.includes(code), 'the saved file holds the code');
      assert.ok(file.includes(say.read), 'and says where to read the reply');
      await checkState(page, lang, 'a letter written', 'visitor-letter-written');

      // A counsellor answers it (the letters queue is the console's; here the API).
      const answered = await staff.request.post(`${CLOSED_BASE}/api/counsellor/letters/${receipt.letter_id}/answer`, {
        data: { client_id: `x1${lang}`, text: say.answer },
      });
      assert.equal(answered.status(), 200, `answer: ${await answered.text()}`);

      // The visitor reads the reply with the code: a mistyped code first.
      await page.click('#letter-read summary');
      await waitText(page, '#letter-read summary', say.read);
      await page.fill('#letter-read-input', '2345-6789-ABCD-EFGH-JKMN');
      await page.click('#letter-read-submit');
      await waitText(page, '#letter-read-error', say.wrong);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'letter-read-input');
      assert.ok(await page.locator('#letter-replies').isHidden());
      expectRefused(page, 403, 1);
      // Then the right one, typed as a person might: lower case, spaces.
      await page.fill('#letter-read-input', code.toLowerCase().replaceAll('-', ' '));
      await page.click('#letter-read-submit');
      await page.waitForSelector('#letter-replies:not([hidden])');
      await page.waitForFunction(() => document.activeElement?.id === 'letter-replies-heading');
      assert.ok(await page.locator('#letter-read-error').isHidden());
      await waitText(page, '#letter-replies-heading', say.replies);
      await waitText(page, '#letter-list .letter-mine .letter-text', say.letter);
      await waitText(page, '#letter-list .letter-answer .letter-meta', say.from);
      await waitText(page, '#letter-list .letter-answer .letter-text', say.answer);
      await checkState(page, lang, 'the reply to a letter', 'visitor-letter-reply');
      assertClean(page, context);
    } finally {
      await context.close();
    }
  });
}

test('an urgent letter shows the safety panel at once; its reply is still to come', async () => {
  const { context, page } = await closedVisitorPage(browser);
  try {
    await page.waitForSelector('#letter-write:not([hidden])');
    await page.fill('#letter-text', 'もう死にたい');
    await page.click('#letter-send');
    await page.waitForSelector('#letter-sent:not([hidden])');
    // The page's safety panel, in the receipt, open, with 119/110 as links.
    await page.waitForSelector('#letter-sent #safety:not([hidden]) #safety-full:not([hidden])');
    await waitText(page, '#safety-heading', 'ひとりで抱えないでください');
    assert.equal(await page.locator('#safety-emergency a[href="tel:119"]').count(), 1);
    assert.ok((await page.locator('#safety-lines li').count()) > 0, 'and the lines to talk to');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'letter-sent-heading');
    await checkState(page, 'ja', 'an urgent letter', 'visitor-letter-safety');
    await switchLang(page, 'en');
    await waitText(page, '#safety-heading', 'You do not have to carry this alone');
    await checkState(page, 'en', 'an urgent letter', 'visitor-letter-safety');
    await switchLang(page, 'ja');

    // Read with its code before anyone answered: "no reply yet".
    const code = (await page.locator('#letter-code').textContent()).trim();
    assert.match(code, CODE);
    await page.click('#letter-read summary');
    await page.fill('#letter-read-input', code);
    await page.click('#letter-read-submit');
    await page.waitForSelector('#letter-replies:not([hidden])');
    await waitText(page, '#letter-list .letter-mine .letter-text', 'もう死にたい');
    await waitText(page, '#letter-list .letter-waiting', TEXT.ja.waiting);
    assert.equal(await page.locator('#letter-list .letter-answer').count(), 0);
    assertClean(page, context);
  } finally {
    await context.close();
  }
});
