// Risk, supervision and handing on. A visitor whose first message matches
// a default triage rule goes ahead of an earlier visitor and raises an
// alert on the supervisor's floor, which stays until acknowledged. The
// supervisor observes a conversation (read-only), joins it (the visitor
// sees the second name), and leaves; the counsellor marks a risk level and
// hands a conversation back to the queue with a note, which the
// supervisor then takes over (the visitor sees the new name; the note
// goes with it).

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
  visitorSession,
  counsellorSend,
  panel,
  panelTexts,
  counsellorEnds,
  waitText,
  axeScan,
  screenshot,
  assertClean,
  assertNoHorizontalScroll,
  openTab,
} from '../lib/harness.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('floor: triage alert, acknowledgement, observe, join, leave, risk, hand back to the queue, take over', async () => {
  const sup = await counsellorPage(browser, 'kudo');
  const c = await counsellorPage(browser, 'ishii');
  const opened = [sup, c];
  try {
    await sup.page.waitForSelector('#floor:not([hidden])');
    assert.ok(await c.page.locator('#floor').isHidden(), 'a counsellor has no floor view');
    await waitQueueEmpty(c.page);

    // Two visitors while nobody takes chats: the second writes a phrase of the default rules.
    const a = await visitorPage(browser);
    opened.push(a);
    await startChat(a.page, { first_message: '家族のことで相談したいです' });
    const b = await visitorPage(browser);
    opened.push(b);
    await startChat(b.page, { first_message: 'もう死にたいです' });
    const idA = (await visitorSession(a.page)).conversation_id;
    const idB = (await visitorSession(b.page)).conversation_id;
    // The visitor is told nothing about triage.
    await waitText(b.page, '#queue-position', '1番目');
    assert.doesNotMatch(await b.page.locator('.chat-head').innerText(), /優先|リスク|自傷/);

    // The counsellor's queue: B ahead of A, marked urgent in words.
    await c.page
      .waitForFunction(
        ([x, y]) => {
          const items = [...document.querySelectorAll('#queue-list li')].map((li) => li.dataset.conversation);
          return items.length === 2 && items[0] === x && items[1] === y;
        },
        [idB, idA],
      )
      .catch(async (e) => {
        // Say what the queue held instead (a conversation another test left behind?).
        const held = await c.page.$$eval('#queue-list li', (lis) => lis.map((li) => `${li.dataset.conversation} ${li.dataset.risk} ${li.innerText.replace(/\s+/g, ' ')}`));
        const heads = [await a.page.locator('.chat-head').innerText(), await b.page.locator('.chat-head').innerText()];
        throw new Error(`queue not [B, A] (B=${idB}, A=${idA}): ${JSON.stringify(held)}; visitors see ${JSON.stringify(heads)}; ${e.message}`);
      });
    const first = c.page.locator('#queue-list li').first();
    assert.equal(await first.getAttribute('data-risk'), 'urgent');
    assert.equal((await first.locator('.badge.risk-urgent').textContent()).trim(), '⚠ 緊急');

    // The supervisor's floor: an alert that stays, the queue with its urgent count.
    const alert = sup.page.locator(`#alerts .alert-item[data-conversation="${idB}"]`);
    await alert.waitFor();
    assert.match(await alert.textContent(), /緊急：相談 #\w{4}（自動判定：自傷・自殺の危険）/);
    await waitText(sup.page, '#alerts-live', '緊急');
    await waitText(sup.page, '#floor-summary', '順番待ち 2人');
    await waitText(sup.page, '#floor-summary', '緊急 1人');
    await sup.page.locator(`#floor-convs-body tr[data-conversation="${idB}"] .badge.risk-urgent`).waitFor();
    await axeScan(sup.page, 'ja floor with an alert');
    await screenshot(sup.page, 'ja', 'console-floor-alert');
    await axeScan(c.page, 'ja console queue with an urgent visitor');
    await screenshot(c.page, 'ja', 'console-queue-urgent');

    // Acknowledged by keyboard: it goes, for good.
    await alert.locator('.ack-alert').focus();
    await sup.page.keyboard.press('Enter');
    await alert.waitFor({ state: 'detached' });
    await sup.page.waitForSelector('#alerts-none:not([hidden])');
    await waitText(sup.page, '#floor-summary', '未確認のアラート 0件');

    // The counsellor takes chats: the urgent visitor first.
    await setAvailable(c.page, true);
    await waitText(b.page, '#chat-heading', '石井さん');
    await waitText(a.page, '#chat-heading', '石井さん');
    // Both assignments reach the console (the visitors may hear first).
    await c.page.waitForFunction(() => document.querySelectorAll('#conv-list li').length === 2);
    assert.deepEqual(
      await c.page.$$eval('#conv-list li', (els) => els.map((li) => Boolean(li.querySelector('.badge.risk-urgent')))),
      [true, false],
      'the urgent conversation was assigned first, and is marked in the list',
    );
    await c.page.locator('#conv-list li').first().locator('button').click();
    assert.equal(await panel(c.page).locator('.conv-risk').getAttribute('data-risk'), 'urgent');

    // Observe: read-only, the visitor is not told.
    const rowB = sup.page.locator(`#floor-convs-body tr[data-conversation="${idB}"]`);
    await rowB.and(sup.page.locator('[data-state="active"]')).waitFor();
    await rowB.locator('.floor-observe').click();
    await sup.page.waitForSelector('.conv-panel:not([hidden])');
    await sup.page.waitForFunction(() => document.querySelectorAll('.conv-panel:not([hidden]) .msg-text').length === 1);
    assert.deepEqual(await panelTexts(sup.page), ['もう死にたいです']);
    assert.ok(await panel(sup.page).locator('.composer').isHidden(), 'observing: no composer');
    assert.ok(await panel(sup.page).locator('.note-form').isHidden(), 'observing: no notes');
    await openTab(sup.page, 'end');
    assert.ok(await panel(sup.page).locator('.end-form').isHidden(), 'observing: no end');
    await openTab(sup.page, 'notes');
    // Observed chats are listed apart from held ones.
    await sup.page.locator(`#observed-list li[data-conversation="${idB}"]`).waitFor();
    assert.equal(await sup.page.locator('#conv-list li').count(), 0, 'an observed chat is not listed as held');
    await waitText(sup.page, '.conv-panel:not([hidden]) .supervision-line', '見守り中（読むだけ）');
    await waitText(sup.page, '.conv-panel:not([hidden]) .supervision-line', '担当：石井');
    await waitText(c.page, '.conv-panel:not([hidden]) .supervision-line', '工藤さんが見守り中');
    await counsellorSend(c.page, 'お話を聞かせてください');
    await waitText(sup.page, '.conv-panel:not([hidden]) .msg-text', 'お話を聞かせてください');
    // The visitor's lines about the conversation are the join line and the site's greeting, nothing about an observer.
    assert.deepEqual(
      (await b.page.locator('.msg-system').allTextContents()).map((l) => l.slice(0, 12)),
      ['石井さんが入りました', 'お知らせ つながりました'],
      'the visitor is not told of an observer',
    );
    await axeScan(sup.page, 'ja observing');
    await screenshot(sup.page, 'ja', 'console-observe');

    // Join: a second counsellor, named to the visitor.
    await panel(sup.page).locator('.join-button').click();
    await panel(sup.page).locator('.composer').waitFor();
    await waitText(b.page, '#chat-heading', '石井さん・工藤さんと話しています');
    await waitText(b.page, '.msg-system', '相談員の工藤さんが会話に加わりました');
    await counsellorSend(sup.page, '責任者の工藤です。一緒にお話を聞きます');
    await waitText(b.page, '#messages .msg-text', '責任者の工藤です');
    assert.equal(
      await b.page.locator('#messages .msg-other', { hasText: '責任者の工藤です' }).locator('.msg-who').textContent(),
      '相談員 工藤',
    );
    await waitText(c.page, '.conv-panel:not([hidden]) .supervision-line', '工藤さんが参加中');
    await assertNoHorizontalScroll(b.page, 'visitor with a second counsellor');
    await axeScan(b.page, 'ja visitor with a second counsellor');
    await screenshot(b.page, 'ja', 'visitor-joined');

    // The counsellor lowers the risk by hand; everyone watching sees it.
    await openTab(c.page, 'risk');
    const riskSelect = panel(c.page).locator('.risk-form select');
    await riskSelect.selectOption('watch');
    await panel(c.page).locator('.risk-form button').click();
    await panel(c.page).locator('.conv-risk[data-risk="watch"]').waitFor();
    await waitText(c.page, '.conv-panel:not([hidden]) .risk-reasons', '石井が設定');
    await sup.page.locator('.conv-panel:not([hidden]) .conv-risk[data-risk="watch"]').waitFor();
    await rowB.locator('.badge.risk-watch').waitFor();

    // Leave: the visitor is told, the supervisor's panel goes.
    await panel(sup.page).locator('.leave-button').click();
    await waitText(b.page, '.msg-system', '相談員の工藤さんが会話から離れました');
    await waitText(b.page, '#chat-heading', '石井さんと話しています');
    await sup.page.waitForFunction(() => !document.querySelector('.conv-panel'));
    await rowB.locator('.floor-observe').waitFor();

    // The counsellor hands A back to the queue with a note (away first, so it is not assigned back to them).
    await setAvailable(c.page, false);
    await c.page.locator(`#conv-list li[data-conversation="${idA}"] button`).click();
    await openTab(c.page, 'handoff');
    const pa = panel(c.page);
    await pa.locator('.transfer-form select').selectOption('');
    assert.equal(await pa.locator('.transfer-form select option:checked').textContent(), '順番待ちの先頭に戻す');
    await pa.locator('.transfer-form textarea').fill('就労の話の続きをお願いします');
    await axeScan(c.page, 'ja console with the transfer form filled');
    await screenshot(c.page, 'ja', 'console-transfer');
    await pa.locator('.transfer-form button').click();
    await waitText(c.page, '#notices', '順番待ちに戻しました');
    await c.page.waitForFunction(() => document.querySelectorAll('#conv-list li').length === 1);
    await waitText(a.page, '#chat-heading', '相談員を待っています');
    await waitText(a.page, '#queue-position', '1番目');

    // The supervisor takes it over from the queue: the visitor is matched with them, the note goes along.
    const rowA = sup.page.locator(`#floor-convs-body tr[data-conversation="${idA}"]`);
    await rowA.and(sup.page.locator('[data-state="queued"]')).waitFor();
    await rowA.locator('.floor-take-over').click();
    await waitText(a.page, '#chat-heading', '工藤さんと話しています');
    await sup.page.waitForSelector('.conv-panel:not([hidden]) .composer');
    await waitText(sup.page, '.conv-panel:not([hidden]) .note-text', '就労の話の続きをお願いします');
    assert.deepEqual(await panelTexts(sup.page), ['家族のことで相談したいです']);
    await rowA.locator('.floor-open').waitFor();

    // English.
    await switchLang(sup.page, 'en');
    await waitText(sup.page, '#floor-heading', 'Floor');
    await waitText(sup.page, '#floor-summary', 'open alerts');
    await axeScan(sup.page, 'en floor');
    await screenshot(sup.page, 'en', 'console-floor');
    await switchLang(c.page, 'en');
    await waitText(c.page, '.conv-panel:not([hidden]) .conv-risk', 'Watch');
    await axeScan(c.page, 'en console with risk and transfer');
    await screenshot(c.page, 'en', 'console-risk');
    await switchLang(b.page, 'en');
    await waitText(b.page, '.msg-system', 'The counsellor 工藤 has left the conversation.');
    await axeScan(b.page, 'en visitor after a supervisor left');
    await screenshot(b.page, 'en', 'visitor-joined-left');

    await counsellorEnds(sup.page);
    await counsellorEnds(c.page);
    for (const o of opened) assertClean(o.page, o.context);
  } finally {
    for (const o of opened) await o.context.close();
  }
});
