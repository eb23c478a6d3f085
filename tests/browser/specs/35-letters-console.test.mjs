// The letters queue in the console (issue 22), in Japanese and English at
// 1280x800. Two letters are written (as a visitor would, with fetch): a
// normal one, then an urgent one ("もう死にたい"). The counsellor logs in:
// the collapsed "お手紙 / Letters" area at the foot of the side column
// says how many wait and how many are urgent. Opened with the keyboard, it
// lists the urgent letter first (though newer), marked; the normal one is
// opened, answered with Ctrl+Enter, and leaves the list; its writer reads
// the answer with the return code. The urgent one is then answered by
// "someone else" first: the counsellor's send is refused kindly
// (letter_answered) and the list is refreshed. A supervisor acknowledges
// the urgent letter's triage alert, so later specs start clean.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  launch,
  counsellorPage,
  staffApi,
  switchLang,
  waitText,
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

const URGENT_TEXT = 'もう死にたい';

const COPY = {
  ja: {
    normal: '昼間は外に出られません。\n夜なら少し話せそうです。お返事をもらえますか。',
    count: (n) => `${n}通`,
    urgent: '⚠ 緊急 1通',
    urgentBadge: '⚠ 緊急',
    age: '1分以内',
    web: 'Web',
    replyLabel: '返信',
    reply: 'お手紙ありがとうございます。夜に話したいと思えたこと、大切にしたいです。',
    sent: '返信を送りました',
    answered: 'ほかの相談員がすでに返信していました',
    empty: '返信を待っているお手紙はありません',
    name: '文',
    again: 'お返事ありがとうございました。また書きます。',
    earlier: '前回までの相談（1件）',
  },
  en: {
    normal: 'I cannot go out in the daytime.\nAt night I could maybe talk. Could you write back?',
    count: (n) => `${n} waiting`,
    urgent: '⚠ 1 urgent',
    urgentBadge: '⚠ Urgent',
    age: 'just now',
    web: 'Web',
    replyLabel: 'Your answer',
    reply: 'Thank you for your letter. It matters that you feel you could talk at night.',
    sent: 'Answer sent',
    answered: 'Another counsellor had already answered this letter',
    empty: 'No letter is waiting for an answer',
    name: '文子',
    again: 'Thank you for the answer. I will write again.',
    earlier: 'Earlier conversations (1)',
  },
};

/** A visitor writes a letter (no return code: a new one comes back). */
async function writeLetter(text, lang) {
  const r = await fetch(`${BASE}/api/letters`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text, lang }),
  });
  assert.equal(r.status, 201, await r.clone().text());
  return r.json();
}

/** Answer every waiting letter through the API (leftovers, or this test's own at the end). */
async function drain(api) {
  const r = await api.request.get(`${BASE}/api/counsellor/letters`);
  assert.equal(r.status(), 200);
  for (const l of (await r.json()).letters) {
    await api.request.post(`${BASE}/api/counsellor/letters/${l.letter_id}/answer`, {
      data: { client_id: `cleanup-${l.letter_id.replace(/-/g, '')}`.slice(0, 60), text: 'test cleanup' },
    });
  }
}

async function listIds(page) {
  return page.$$eval('#letters-list li', (lis) => lis.map((li) => li.dataset.letter));
}

for (const [lang, username] of [
  ['ja', 'fumi'],
  ['en', 'fumi.en'],
]) {
  test(`the letters queue: urgent first, answered once, read with the code (${lang})`, async () => {
    const copy = COPY[lang];
    const api = await staffApi(browser, username);
    let c;
    let urgent;
    try {
      await drain(api);
      const normal = await writeLetter(copy.normal, lang);
      urgent = await writeLetter(URGENT_TEXT, 'ja');
      assert.ok(normal.return_code && urgent.return_code);

      c = await counsellorPage(browser, username);
      await switchLang(c.page, lang);

      // Collapsed, at the foot of the side column: how many wait, how many are urgent.
      await c.page.locator('#letters:not([hidden])').waitFor();
      await waitText(c.page, '#letters-count', copy.count(2));
      assert.equal(await c.page.locator('#letters-urgent').textContent(), copy.urgent);
      assert.ok(await c.page.locator('#letters-urgent').isVisible());
      assert.equal(await c.page.getAttribute('#letters-toggle', 'aria-expanded'), 'false');
      assert.ok(await c.page.locator('#letters-body').isHidden());

      // Opened with the keyboard: the urgent letter first (it is the newer), marked in words.
      await c.page.focus('#letters-toggle');
      await c.page.keyboard.press('Enter');
      assert.equal(await c.page.getAttribute('#letters-toggle', 'aria-expanded'), 'true');
      await c.page.waitForFunction(() => document.querySelectorAll('#letters-list li').length === 2);
      assert.deepEqual(await listIds(c.page), [urgent.letter_id, normal.letter_id]);
      const urgentRow = c.page.locator(`#letters-list li[data-letter="${urgent.letter_id}"]`);
      const normalRow = c.page.locator(`#letters-list li[data-letter="${normal.letter_id}"]`);
      assert.equal(await urgentRow.getAttribute('data-risk'), 'urgent');
      assert.equal((await urgentRow.locator('.badge.risk-urgent').textContent()).trim(), copy.urgentBadge);
      assert.equal(await normalRow.locator('.badge.risk-urgent').count(), 0);
      for (const row of [urgentRow, normalRow]) {
        assert.equal(await row.locator('.letter-age').textContent(), copy.age);
        assert.equal(await row.locator('.badge.channel').textContent(), copy.web);
        assert.equal(await row.locator('.letter-returning').count(), 0, 'a first letter is not "returning"');
      }
      assert.equal(await urgentRow.locator('.letter-row-text').textContent(), URGENT_TEXT);
      // The chats keep their room: the area stays inside the side column.
      const box = await c.page.locator('#letters').boundingBox();
      const area = await c.page.locator('#conv-area').boundingBox();
      assert.ok(box.x + box.width <= area.x, 'the letters area does not reach into the chat area');
      await axeScan(c.page, `${lang} console with the letters open`);
      await screenshot(c.page, lang, 'console-letters');

      // Keyboard only: Tab to the rows (urgent, then normal), Enter opens the normal one.
      await c.page.keyboard.press('Tab');
      assert.equal(await c.page.evaluate(() => document.activeElement.dataset.letter), urgent.letter_id);
      await c.page.keyboard.press('Tab');
      assert.equal(await c.page.evaluate(() => document.activeElement.dataset.letter), normal.letter_id);
      await c.page.keyboard.press('Enter');
      await c.page.locator('#letter-reader:not([hidden])').waitFor();
      assert.equal(await c.page.evaluate(() => document.activeElement.id), 'letter-heading');
      assert.equal(await c.page.locator('#letter-text').textContent(), copy.normal);
      // Read in the main pane, in place of the chat; the list stays, the open letter marked.
      const textBox = await c.page.locator('#letter-text').boundingBox();
      const pane = await c.page.locator('#conv-area').boundingBox();
      assert.ok(
        textBox.x >= pane.x && textBox.x + textBox.width <= pane.x + pane.width && textBox.width > 600,
        `the letter is read in the main pane, wide: ${JSON.stringify({ textBox, pane })}`,
      );
      assert.equal(await c.page.locator('#conv-area #letter-reader').count(), 1);
      assert.ok(await c.page.locator('#no-selection').isHidden());
      assert.equal(await normalRow.locator('button').getAttribute('aria-current'), 'true');
      assert.equal(await urgentRow.locator('button').getAttribute('aria-current'), null);
      // The reply box is labelled; Tab reaches it after the letter's text.
      const reply = c.page.getByLabel(copy.replyLabel, { exact: true });
      assert.equal(await reply.evaluate((e) => e.id), 'letter-reply');
      await c.page.keyboard.press('Tab');
      assert.equal(await c.page.evaluate(() => document.activeElement.id), 'letter-text');
      await c.page.keyboard.press('Tab');
      assert.equal(await c.page.evaluate(() => document.activeElement.id), 'letter-reply');
      await c.page.keyboard.type(copy.reply);
      await axeScan(c.page, `${lang} a letter open with a reply written`);
      await screenshot(c.page, lang, 'console-letters-reply');
      await c.page.keyboard.press('Control+Enter');

      // Sent: the status says so, the letter leaves the list, the count follows.
      await waitText(c.page, '#letters-status', copy.sent);
      assert.equal(await c.page.getAttribute('#letters-status', 'aria-live'), 'polite');
      await normalRow.waitFor({ state: 'detached' });
      assert.deepEqual(await listIds(c.page), [urgent.letter_id]);
      await waitText(c.page, '#letters-count', copy.count(1));
      assert.ok(await c.page.locator('#letter-reader').isHidden());
      await screenshot(c.page, lang, 'console-letters-sent');

      // The writer reads the answer with their return code.
      const read = await fetch(`${BASE}/api/letters/read`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ return_code: normal.return_code }),
      });
      assert.equal(read.status, 200);
      const { letters } = await read.json();
      const mine = letters.find((l) => l.letter_id === normal.letter_id);
      assert.ok(mine, JSON.stringify(letters));
      assert.equal(mine.text, copy.normal);
      assert.equal(mine.answer?.text, copy.reply);
      assert.equal(mine.answer?.name, copy.name);

      // Someone else answers the urgent one first: a kind word, and the list is refreshed.
      await urgentRow.locator('button').click();
      await c.page.locator('#letter-reader:not([hidden])').waitFor();
      assert.equal(await c.page.locator('#letter-reader').getAttribute('data-risk'), 'urgent');
      await reply.fill(copy.reply);
      await drain(api);
      await c.page.click('#letter-send');
      await waitText(c.page, '#letters-status', copy.answered);
      expectRefused(c.page, 409, 1);
      await urgentRow.waitFor({ state: 'detached' });
      await waitText(c.page, '#letters-empty', copy.empty);
      await waitText(c.page, '#letters-count', copy.count(0));
      assert.ok(await c.page.locator('#letters-urgent').isHidden());
      await axeScan(c.page, `${lang} letters: answered by someone else`);
      await screenshot(c.page, lang, 'console-letters-answered');

      // The same writer again, with their code: returning, and whoever
      // answers reads the earlier letter and its answer first.
      const again = await fetch(`${BASE}/api/letters`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: copy.again, lang, return_code: normal.return_code }),
      });
      assert.equal(again.status, 201);
      const { letter_id: againId } = await again.json();
      await c.page.click('#letters-refresh');
      const againRow = c.page.locator(`#letters-list li[data-letter="${againId}"]`);
      await againRow.waitFor();
      assert.equal(await againRow.locator('.letter-returning').count(), 1);
      await againRow.locator('button').click();
      await c.page.locator('#letter-case:not([hidden])').waitFor();
      await waitText(c.page, '#letter-case summary', copy.earlier);
      await c.page.click('#letter-case summary');
      await waitText(c.page, '#letter-case', copy.reply);
      await axeScan(c.page, `${lang} a returning writer's letter with their case`);
      await screenshot(c.page, lang, 'console-letters-case');
      // Esc puts the letter away, back on its row.
      await c.page.keyboard.press('Escape');
      assert.ok(await c.page.locator('#letter-reader').isHidden());
      assert.equal(await c.page.evaluate(() => document.activeElement.dataset.letter), againId);
      assert.equal(await againRow.locator('button').getAttribute('aria-current'), null);
      assert.ok(await c.page.locator('#no-selection').isVisible());
      assertClean(c.page, c.context);
    } finally {
      await drain(api).catch(() => {});
      await c?.context.close();
      await api.close();
      // Triage's alert for the urgent letter is kept until a supervisor acknowledges it.
      if (urgent) {
        const sup = await counsellorPage(browser, 'fumi.sup');
        try {
          const alert = sup.page.locator(`#alerts li[data-conversation="${urgent.letter_id}"]`);
          await alert.first().waitFor();
          while ((await alert.count()) > 0) {
            await alert.first().locator('.ack-alert').click();
            await sup.page.waitForTimeout(200);
          }
        } finally {
          await sup.context.close();
        }
      }
    }
  });
}
