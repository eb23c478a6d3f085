// Issue 20: a supervisor observing a chat whispers to the counsellor; the
// counsellor sees it inline, marked as not visible to the visitor; the
// visitor's page never shows it. The admin page's audit log, filtered by
// action, lists the whisper (ja and en, 1280x800, and 360 px).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch,
  counsellorPage,
  visitorPage,
  setAvailable,
  switchLang,
  startChat,
  visitorSession,
  panel,
  waitText,
  axeScan,
  screenshot,
  assertClean,
  assertNoHorizontalScroll,
  staffPage,
} from '../lib/harness.mjs';

const MARKER = 'WHISPER-21 眠れているか聞いてみてください';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('whisper: the counsellor sees it marked, the visitor never; the audit page filters by action', async () => {
  const sup = await counsellorPage(browser, 'sugi');
  const c = await counsellorPage(browser, 'tamura');
  const opened = [sup, c];
  try {
    await setAvailable(c.page, true);
    const v = await visitorPage(browser);
    opened.push(v);
    await startChat(v.page, { first_message: '最近眠れなくて' });
    const id = (await visitorSession(v.page)).conversation_id;
    await waitText(v.page, '#chat-heading', '田村さん');
    await c.page.locator(`#conv-list li[data-conversation="${id}"]`).waitFor();
    await c.page.locator(`#conv-list li[data-conversation="${id}"] button`).click();

    // The supervisor observes from the floor and gets a whisper composer.
    const row = sup.page.locator(`#floor-convs-body tr[data-conversation="${id}"]`);
    await row.and(sup.page.locator('[data-state="active"]')).waitFor();
    await row.locator('.floor-observe').click();
    await sup.page.waitForSelector('.conv-panel:not([hidden]) .whisper-form:not([hidden])');
    assert.ok(await panel(sup.page).locator('.composer').isHidden(), 'observing: no composer to the visitor');
    await panel(sup.page).locator('.whisper-form textarea').fill(MARKER);
    await panel(sup.page).locator('.whisper-form button[type="submit"]').click();

    // The counsellor sees it inline, marked.
    await waitText(c.page, '.conv-panel:not([hidden]) .msg-whisper', 'WHISPER-21');
    const mark = panel(c.page).locator('.msg-whisper .whisper-mark');
    assert.equal((await mark.textContent()).trim(), 'スーパーバイザーより（相談者には見えません）');
    await waitText(sup.page, '.conv-panel:not([hidden]) .msg-whisper', 'WHISPER-21');
    await c.page.evaluate(() => window.scrollTo(0, 0));
    await axeScan(c.page, 'ja console with a whisper');
    await screenshot(c.page, 'ja', 'console-whisper');
    await axeScan(sup.page, 'ja supervisor whispering');
    await screenshot(sup.page, 'ja', 'console-whisper-supervisor');

    // The visitor's page never shows it, even after a reload (resume).
    await v.page.waitForTimeout(500);
    assert.doesNotMatch(await v.page.locator('body').innerText(), /WHISPER-21/);
    await v.page.reload();
    await waitText(v.page, '.msg-text', '最近眠れなくて');
    await v.page.waitForTimeout(500);
    assert.doesNotMatch(await v.page.locator('body').innerText(), /WHISPER-21/);

    await switchLang(c.page, 'en');
    await waitText(c.page, '.conv-panel:not([hidden]) .whisper-mark', 'Whisper from supervisor — not visible to the visitor');
    await axeScan(c.page, 'en console with a whisper');
    await screenshot(c.page, 'en', 'console-whisper');

    // The admin's audit log, filtered by action.
    for (const [lang, viewport, shot] of [
      ['ja', { width: 1280, height: 800 }, 'admin-audit-whisper'],
      ['en', { width: 1280, height: 800 }, 'admin-audit-whisper'],
      ['ja', { width: 360, height: 740 }, 'admin-audit-whisper-360'],
    ]) {
      const admin = await staffPage(browser, '/admin#audit-log', 'hori', { viewport });
      opened.push(admin);
      await switchLang(admin.page, lang);
      await admin.page.selectOption('#audit-action', 'whisper');
      await admin.page.click('#audit-apply');
      await admin.page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('#audit-body tr')];
        return rows.length > 0 && rows.every((r) => r.dataset.action === 'whisper');
      });
      const first = admin.page.locator('#audit-body tr').first();
      assert.match(await first.innerText(), lang === 'ja' ? /杉/ : /杉/);
      assert.match(await first.innerText(), lang === 'ja' ? /相談員へのささやき/ : /Whispered to the counsellor/);
      assert.doesNotMatch(await admin.page.locator('body').innerText(), /WHISPER-21/, 'never the words');
      await admin.page.locator('#audit-heading').scrollIntoViewIfNeeded();
      await axeScan(admin.page, `${lang} ${viewport.width} audit filtered by action`);
      await assertNoHorizontalScroll(admin.page, `${lang} ${viewport.width} audit`);
      await screenshot(admin.page, lang, shot);
    }

    await setAvailable(c.page, false);
    for (const o of opened) assertClean(o.page, o.context);
  } finally {
    for (const o of opened) await o.context.close();
  }
});
