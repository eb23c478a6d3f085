// The relay sheet (つなぐシート, issue 23) in the console, in Japanese and
// English at 1280 x 800. An admin adds two partners that take relays and
// one that does not. A visitor in their twenties chats; the counsellor
// fills and saves the hearing sheet in the console, then opens
// 「つなぐシートを作る」 from the sheet's foot: the partner that does not take
// relays is not offered, nothing is ticked, and what is missing is said by
// the step concerned, focus there. Two partners get different answers; the
// preview shows what the visitor will read. A refusal by the server (a
// partner stopped taking relays meanwhile) is shown by the partners, focus
// there. Proposed, the visitor answers through the visitor API (yes to one,
// no to the other): the console shows both answers live, with a banner.
// The consented partner gets a one-time link (shown with a copy button and
// the note) and a print tab that loads; the refused one has neither. The
// partner opens the link: the count of views goes up live. The visitor
// withdraws: links and printing are said to have stopped. Everything fits
// beside the chat with the message box in view. Axe clean; screenshots
// console-relay-*. The chat is ended and the partners deleted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  launch,
  counsellorPage,
  visitorPage,
  deskPage,
  setAvailable,
  switchLang,
  waitQueueEmpty,
  startChat,
  visitorSession,
  counsellorEnds,
  panel,
  waitText,
  checkState,
  expectRefused,
  assertClean,
  staffApi,
} from '../lib/harness.mjs';

const ADMIN = 'renkei';

let browser;
let admin;
const added = [];
before(async () => {
  browser = await launch();
  admin = await staffApi(browser, ADMIN);
});
after(async () => {
  for (const id of added) await admin?.request.delete(`${BASE}/api/partners/${id}`).catch(() => {});
  await admin?.close();
  await browser?.close();
});

const tag = Date.now().toString(36);

const TEXT = {
  ja: {
    first: '家から出られない日が続いています。誰かに話を聞いてほしいです',
    situation: '昼夜が逆転していて、外に出るのは夜のコンビニだけです。',
    purpose: '就労の相談を、安心できるところから始めるため',
    opener: 'つなぐシートを作る',
    openerAfter: 'つなぐシート',
    heading: 'つなぐシート',
    saveFirst: '先にヒアリングシートを保存してください',
    hidden: /受け付けていない連携先（\d+件）は表示していません/,
    forAge: '20代',
    purposeEmpty: 'つなぐ目的を書いてください。',
    noPartner: '連携先を1件以上選んでください。',
    noAnswer: (name) => `「${name}」に伝える回答を1つ以上選んでください。`,
    notAccepting: (name) => `「${name}」は、いまはつなぐシートを受け付けていません。`,
    contact: ['相談してきた人', '本人'],
    withdrawal: ['ひきこもりの期間', '3年未満'],
    previewTitle: '4. 相談者に表示される内容',
    submit: '相談者に提案する',
    saved: 'さんが保存しました',
    state: { asked: '回答待ち', given: '同意', refused: '同意しない', withdrawn: '取り消し' },
    proposed: '相談者に提案しました。',
    notice: 'つなぐシートに相談者の回答が届きました。',
    issue: 'リンクを発行',
    once: 'このリンクは今だけ表示されます。連携先の担当者に安全な方法で渡してください。有効期限：',
    copy: 'リンクをコピー',
    copied: ['コピーしました', 'コピーできませんでした'],
    print: '印刷用を開く',
    printTitle: 'つなぐシート',
    viewedOnce: '連携先の閲覧 1回',
    hide: '表示を消す',
    reissue: 'リンクを発行し直す',
    stopped: 'リンクはもう開けず、印刷もできません。',
    badgeWaiting: '回答待ち',
  },
  en: {
    first: 'I have not been able to leave the house for days. I want someone to listen',
    situation: 'Day and night are reversed; the only trip out is to the corner shop at night.',
    purpose: 'To start talking about work somewhere that feels safe',
    opener: 'Prepare a relay sheet',
    openerAfter: 'Relay sheets',
    heading: 'Relay sheets',
    saveFirst: 'Please save the hearing sheet first',
    hidden: /Partners that do not take them \(\d+\) are not shown/,
    forAge: '20s',
    purposeEmpty: 'Please write why you are passing it on.',
    noPartner: 'Please choose at least one partner.',
    noAnswer: (name) => `Please choose at least one answer for “${name}”.`,
    notAccepting: (name) => `“${name}” does not take relay sheets now.`,
    contact: ['Who is contacting', 'The person themself'],
    withdrawal: ['How long withdrawn', 'Under 3 years'],
    previewTitle: '4. What the visitor will see',
    submit: 'Propose to the visitor',
    saved: 'Saved at ',
    state: { asked: 'Waiting for the visitor', given: 'Agreed', refused: 'Declined', withdrawn: 'Withdrawn' },
    proposed: 'Proposed to the visitor',
    notice: 'the visitor answered the relay sheet.',
    issue: 'Issue a link',
    once: 'This link is shown only now. Pass it to the partner’s staff in a safe way. It works until ',
    copy: 'Copy the link',
    copied: ['Copied', 'Could not copy'],
    print: 'Open for printing',
    printTitle: 'つなぐシート',
    viewedOnce: 'Opened by the partner once',
    hide: 'Hide it',
    reissue: 'Issue a new link',
    stopped: 'The link no longer opens and the sheet can no longer be printed.',
    badgeWaiting: 'Waiting',
  },
};

async function addPartner(body) {
  const r = await admin.request.post(`${BASE}/api/partners`, { data: body });
  assert.equal(r.status(), 201, `add partner: ${await r.text()}`);
  const p = await r.json();
  const id = p.partner_id ?? p.partner?.partner_id;
  assert.ok(id, JSON.stringify(p));
  added.push(id);
  return id;
}

async function editPartner(id, body) {
  const r = await admin.request.put(`${BASE}/api/partners/${id}`, { data: body });
  assert.equal(r.status(), 200, `edit partner: ${await r.text()}`);
}

/** A request from a page (its session or none), as JSON. */
async function api(page, method, url, body) {
  return page.evaluate(
    async ([m, u, b]) => {
      const r = await fetch(u, {
        method: m,
        headers: b ? { 'Content-Type': 'application/json' } : {},
        body: b ? JSON.stringify(b) : undefined,
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    [method, url, body],
  );
}

const sheet = (page) => panel(page).locator('.hearing-col');
const view = (page) => panel(page).locator('.relayc-view');
const part = (page, relay, partner) => view(page).locator(`[data-relay="${relay}"] .relayc-part[data-partner="${partner}"]`);

/** The column beside the chat fits 1280 x 800: the page does not scroll, the message box and the column's foot are in view. */
async function assertFits(page, label, footSelector) {
  const m = await page.evaluate((foot) => {
    const p = document.querySelector('.conv-panel:not([hidden])');
    const box = p.querySelector('.composer textarea').getBoundingClientRect();
    const col = p.querySelector('.hearing-col').getBoundingClientRect();
    const f = foot ? p.querySelector(foot).getBoundingClientRect() : null;
    return {
      page: document.documentElement.scrollHeight,
      client: document.documentElement.clientHeight,
      composerBottom: box.bottom,
      composerWidth: box.width,
      colWidth: col.width,
      colBottom: col.bottom,
      footBottom: f ? f.bottom : 0,
    };
  }, footSelector);
  assert.ok(m.page <= m.client, `${label}: the page is ${m.page}px tall in ${m.client}px`);
  assert.ok(m.composerBottom <= m.client, `${label}: the message box ends at ${m.composerBottom}px`);
  assert.ok(m.colBottom <= m.client, `${label}: the column ends at ${m.colBottom}px`);
  assert.ok(m.footBottom <= m.client, `${label}: the foot ends at ${m.footBottom}px`);
  assert.ok(m.composerWidth >= 300, `${label}: the message box is ${m.composerWidth}px wide`);
  assert.ok(m.colWidth >= 380, `${label}: the column is ${m.colWidth}px wide`);
}

async function isFocused(locator) {
  return locator.evaluate((e) => e === document.activeElement || e.contains(document.activeElement));
}

for (const lang of ['ja', 'en']) {
  test(`the counsellor prepares a relay sheet and follows the visitor's answers (${lang}, 1280x800)`, async () => {
    const T = TEXT[lang];
    const c = await counsellorPage(browser, `renraku.${lang}`);
    let v = null;
    let partner = null;
    try {
      if (lang === 'en') await switchLang(c.page, 'en');
      await c.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
      await waitQueueEmpty(c.page);
      await setAvailable(c.page, true);

      // ---- the directory: two partners take relays, one does not
      const A = {
        name_ja: `八王子就労サポート（試験 ${lang} ${tag}）`,
        name_en: `Hachioji Work Support (test ${lang} ${tag})`,
        offers: ['employment', 'welfare'],
        area: '八王子市',
        contact: '042-000-6666',
        accepts_relays: true,
      };
      const B = {
        name_ja: `多摩の居場所ひだまり（試験 ${lang} ${tag}）`,
        name_en: `Tama Drop-in Hidamari (test ${lang} ${tag})`,
        offers: ['peer_group'],
        contact: '042-000-7777',
        accepts_relays: true,
      };
      const N = {
        name_ja: `紹介だけの相談室（試験 ${lang} ${tag}）`,
        name_en: `Referral-only Office (test ${lang} ${tag})`,
        offers: ['legal'],
        contact: '042-000-8888',
        accepts_relays: false,
      };
      const aId = await addPartner(A);
      const bId = await addPartner(B);
      const nId = await addPartner(N);
      const nameA = lang === 'en' ? A.name_en : A.name_ja;
      const nameB = lang === 'en' ? B.name_en : B.name_ja;

      // ---- a visitor in their twenties chats
      v = await visitorPage(browser);
      await switchLang(v.page, lang);
      await startChat(v.page, { age_band: 'twenties', first_message: T.first });
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', T.first);
      const session = await visitorSession(v.page);
      const conversation = session.conversation_id;

      // ---- the hearing sheet: the relay sheet asks for it saved first
      await panel(c.page).locator('.hearing-toggle').click();
      await sheet(c.page).locator('.hearing-section').first().waitFor();
      const opener = sheet(c.page).locator('.relayc-opener');
      await opener.waitFor();
      assert.equal((await opener.innerText()).trim(), T.opener);
      await opener.click();
      await view(c.page).waitFor();
      assert.ok(await isFocused(view(c.page).locator('h3')), 'focus on the relay view');
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-sheet-note', T.saveFirst);
      assert.ok(await view(c.page).locator('.relayc-new').isHidden(), 'nothing to make a relay from');
      await view(c.page).locator('.relayc-back').click();
      assert.ok(await isFocused(opener), 'focus back on the button');

      // Filled and saved through the sheet.
      await sheet(c.page).locator('[data-question="contact"] input[value="self"]').check();
      await sheet(c.page).locator('[data-question="withdrawal"] input[value="under_three_years"]').check();
      await sheet(c.page).locator('[data-question="mood"] input[value="2"]').check();
      await sheet(c.page).locator('[data-question="situation"] textarea').fill(T.situation);
      await sheet(c.page).locator('.hearing-save-draft').click();
      await waitText(c.page, '.conv-panel:not([hidden]) .hearing-status', T.saved);
      await assertFits(c.page, `${lang} sheet saved`, '.hearing-foot');
      await checkState(c.page, lang, 'console: the hearing sheet saved, the relay button in its foot', 'console-relay-opener');

      // ---- 「つなぐシートを作る」: nothing proposed yet, so the form opens at once
      await opener.click();
      const formHeading = view(c.page).locator('.relayc-form-heading');
      await formHeading.waitFor();
      assert.ok(await isFocused(formHeading), 'focus on the form');
      await view(c.page).locator(`.relayc-partner[data-partner="${aId}"]`).waitFor();
      assert.equal(await view(c.page).locator(`.relayc-partner[data-partner="${nId}"]`).count(), 0, 'a partner that takes no relays is not offered');
      assert.equal(await view(c.page).locator(`.relayc-partner[data-partner="${bId}"]`).count(), 1);
      const intro = await view(c.page).locator('.relayc-partners-intro').innerText();
      assert.match(intro, T.hidden);
      assert.ok(intro.includes(T.forAge), intro);
      const aItem = await view(c.page).locator(`.relayc-partner[data-partner="${aId}"]`).innerText();
      assert.ok(aItem.includes('八王子市'), aItem);
      // Labelled: the purpose, each partner, and the steps as fieldsets.
      const purpose = view(c.page).locator('textarea.relayc-purpose');
      assert.ok(await purpose.evaluate((e) => e.labels.length === 1 && e.labels[0].textContent.length > 2));
      assert.equal(await c.page.getByLabel(nameA, { exact: true }).getAttribute('type'), 'checkbox');
      assert.equal(await view(c.page).locator('[data-step="partners"]').evaluate((e) => e.tagName), 'FIELDSET');
      await assertFits(c.page, `${lang} form`, '.relayc-foot');

      // ---- what is missing is said where it is, focus there
      const submit = view(c.page).getByRole('button', { name: T.submit, exact: true });
      await submit.click();
      await waitText(c.page, '.conv-panel:not([hidden]) [data-step="purpose"] .relayc-field-error', T.purposeEmpty);
      assert.ok(await isFocused(purpose), 'focus on the purpose');
      assert.equal(await purpose.getAttribute('aria-invalid'), 'true');
      await purpose.fill(T.purpose);
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-count', `${[...T.purpose].length} / 300`);
      await submit.click();
      await waitText(c.page, '.conv-panel:not([hidden]) [data-step="partners"] .relayc-field-error', T.noPartner);
      assert.ok(await isFocused(view(c.page).locator('.relayc-partners')), 'focus in the partners');
      await c.page.getByLabel(nameA, { exact: true }).check();
      await c.page.getByLabel(nameB, { exact: true }).check();
      const setA = view(c.page).locator(`.relayc-answer-set[data-partner="${aId}"]`);
      const setB = view(c.page).locator(`.relayc-answer-set[data-partner="${bId}"]`);
      await setB.waitFor();
      await formHeading.evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await checkState(c.page, lang, 'console: a relay sheet, partners chosen', 'console-relay-form-partners');
      // The saved sheet's answered questions, none ticked.
      const offered = await setA.locator('[data-question]').evaluateAll((els) => els.map((e) => e.dataset.question));
      assert.deepEqual(offered, ['contact', 'withdrawal', 'mood', 'situation']);
      assert.equal(await view(c.page).locator('.relayc-answer-set input:checked').count(), 0, 'nothing ticked at first');
      assert.equal(await setA.locator('[data-question="contact"] .relayc-answer').innerText(), T.contact[1]);
      assert.equal(await setA.locator('[data-question="situation"] .relayc-answer').innerText(), T.situation);
      // A scale as the server words it: checked against the relay below.
      const moodText = await setB.locator('[data-question="mood"] .relayc-answer').innerText();
      assert.match(moodText, /^2/);
      await submit.click();
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-answer-set .relayc-field-error', T.noAnswer(nameA));
      assert.ok(await isFocused(setA), 'focus in the first partner without answers');
      await checkState(c.page, lang, 'console: a relay sheet, an answer missing', 'console-relay-form-missing');
      await setA.locator('[data-question="contact"] input').check();
      await setA.locator('[data-question="situation"] input').check();
      await setB.locator('[data-question="withdrawal"] input').check();
      await setB.locator('[data-question="mood"] input').check();

      // ---- the preview: what the visitor will read, per partner
      const preview = view(c.page).locator('.relayc-preview');
      assert.equal(await preview.locator('h5').innerText(), T.previewTitle);
      const previewText = await preview.innerText();
      for (const s of [T.purpose, nameA, nameB, T.contact[0], T.contact[1], T.situation, T.withdrawal[0], T.withdrawal[1]]) {
        assert.ok(previewText.includes(s), `${s} in the preview`);
      }
      const pA = await preview.locator(`[data-partner="${aId}"]`).innerText();
      const pB = await preview.locator(`[data-partner="${bId}"]`).innerText();
      assert.ok(!pA.includes(T.withdrawal[1]) && !pB.includes(T.situation), 'each partner its own answers');
      await preview.scrollIntoViewIfNeeded();
      await checkState(c.page, lang, 'console: a relay sheet being prepared', 'console-relay-form');

      // ---- the server refuses: B stopped taking relays meanwhile; said by the partners, focus there
      await editPartner(bId, { ...B, accepts_relays: false });
      await submit.click();
      await waitText(c.page, '.conv-panel:not([hidden]) [data-step="partners"] .relayc-field-error', T.notAccepting(nameB));
      assert.ok(await isFocused(view(c.page).locator('.relayc-partners')), 'focus in the partners after the refusal');
      await c.page.waitForFunction((b) => !document.querySelector(`.conv-panel:not([hidden]) .relayc-partner[data-partner="${b}"]`), bId);
      assert.equal(await purpose.inputValue(), T.purpose, 'nothing typed is lost');
      assert.ok(await setA.locator('[data-question="situation"] input').isChecked());
      expectRefused(c.page, 409, 1);
      await editPartner(bId, B);
      // Loaded again (as a counsellor would, by opening the form afresh): B is back.
      await view(c.page).locator('.relayc-cancel').click();
      await view(c.page).locator('.relayc-new').click();
      await purpose.fill(T.purpose);
      await c.page.getByLabel(nameA, { exact: true }).check();
      await c.page.getByLabel(nameB, { exact: true }).check();
      await setA.locator('[data-question="contact"] input').check();
      await setA.locator('[data-question="situation"] input').check();
      await setB.locator('[data-question="withdrawal"] input').check();
      await setB.locator('[data-question="mood"] input').check();

      // ---- proposed: the form closes, the relay waits for the visitor
      await submit.click();
      await view(c.page).locator('.relayc-relay').waitFor();
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-live', T.proposed);
      const relays = await api(c.page, 'GET', `/api/counsellor/conversations/${conversation}/relays`);
      assert.equal(relays.status, 200);
      assert.equal(relays.body.relays.length, 1);
      const relay = relays.body.relays[0];
      assert.deepEqual(
        relay.parts.map((p) => [p.partner_id, p.fields.map((f) => f.question)]),
        [[aId, ['contact', 'situation']], [bId, ['withdrawal', 'mood']]],
      );
      // What the counsellor saw in the form is what goes, word for word.
      assert.equal(relay.parts[1].fields[1][`answer_${lang}`], moodText);
      assert.equal(relay.parts[0].fields[1][`answer_${lang}`], T.situation);
      assert.ok(await isFocused(view(c.page).locator(`[data-relay="${relay.relay_id}"] .relayc-relay-title`)), 'focus on the new relay');
      assert.ok(await view(c.page).locator('.relayc-foot').isHidden());
      for (const id of [aId, bId]) await waitText(c.page, `.conv-panel:not([hidden]) .relayc-part[data-partner="${id}"] .relayc-state`, T.state.asked);
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-opener .badge', T.badgeWaiting);
      await assertFits(c.page, `${lang} proposed`);
      // The other language and back: rebuilt, the state kept.
      const other = lang === 'ja' ? 'en' : 'ja';
      await switchLang(c.page, other);
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-view h3', TEXT[other].heading);
      await waitText(c.page, `.conv-panel:not([hidden]) .relayc-part[data-partner="${aId}"] .relayc-state`, TEXT[other].state.asked);
      await switchLang(c.page, lang);
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-view h3', T.heading);
      await checkState(c.page, lang, 'console: a relay sheet waiting for the visitor', 'console-relay-waiting');

      // ---- the visitor answers (through the visitor API): yes to A, no to B; the console follows live
      const answer = await api(v.page, 'POST', '/api/visitor/relays/answer', {
        conversation_id: conversation,
        token: session.token,
        relay_id: relay.relay_id,
        wording_version: relay.wording_version,
        consents: { [aId]: true, [bId]: false },
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      await waitText(c.page, `.conv-panel:not([hidden]) .relayc-part[data-partner="${aId}"] .relayc-state`, T.state.given);
      await waitText(c.page, `.conv-panel:not([hidden]) .relayc-part[data-partner="${bId}"] .relayc-state`, T.state.refused);
      await waitText(c.page, '#notices', T.notice);
      await waitText(c.page, '.conv-panel:not([hidden]) .relayc-live', nameA);
      const partA = part(c.page, relay.relay_id, aId);
      const partB = part(c.page, relay.relay_id, bId);
      assert.equal(await partB.locator('.relayc-issue').count(), 0, 'no link for a refusal');
      assert.equal(await partB.locator('.relayc-print').count(), 0, 'no printing for a refusal');

      // ---- the link for A: shown once, in full, with a copy button and the note
      await partA.getByRole('button', { name: T.issue, exact: true }).click();
      const link = partA.locator('.relayc-link');
      await link.waitFor();
      const url = (await link.locator('.relayc-link-url').innerText()).trim();
      assert.match(url, new RegExp(`^${BASE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/relay/#[A-Za-z0-9_-]{43}$`));
      assert.ok((await link.locator('.relayc-link-note').innerText()).startsWith(T.once));
      const copy = link.getByRole('button', { name: T.copy, exact: true });
      assert.ok(await isFocused(copy), 'focus on the copy button');
      await copy.click();
      await link.locator('.relayc-copied:not([hidden])').waitFor();
      const copiedSaid = await link.locator('.relayc-copied').innerText();
      assert.ok(T.copied.some((s) => copiedSaid.startsWith(s)), copiedSaid);
      if (copiedSaid.startsWith(T.copied[0])) {
        assert.equal(await c.page.evaluate(() => navigator.clipboard.readText()), url);
      }
      assert.equal(await partA.locator('.relayc-issue').count(), 0, 'no second link while one is shown');
      await assertFits(c.page, `${lang} link shown`);
      await partA.evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await checkState(c.page, lang, 'console: a relay sheet answered, the link shown', 'console-relay-link');

      // ---- printing: a new tab with the print page
      const print = partA.getByRole('link', { name: new RegExp(`^${T.print}`) });
      assert.equal(
        await print.getAttribute('href'),
        `/console/relay-print.html?c=${conversation}&r=${relay.relay_id}&p=${aId}`,
      );
      assert.equal(await print.getAttribute('target'), '_blank');
      const [tab] = await Promise.all([c.context.waitForEvent('page'), print.click()]);
      await tab.waitForLoadState();
      await tab.waitForFunction((name) => document.title.includes(name), A.name_ja);
      assert.ok((await tab.title()).includes(T.printTitle), await tab.title());
      await tab.close();

      // ---- put away, the link can be issued again (replacing it)
      await link.getByRole('button', { name: T.hide, exact: true }).click();
      assert.equal(await partA.locator('.relayc-link').count(), 0);
      const reissue = partA.getByRole('button', { name: T.reissue, exact: true });
      assert.ok(await isFocused(reissue), 'focus on issuing again');
      await reissue.click();
      await link.waitFor();
      const url2 = (await link.locator('.relayc-link-url').innerText()).trim();
      assert.notEqual(url2, url, 'a new link');

      // ---- the partner opens the link: the view is counted, live
      partner = await deskPage(browser, url2.slice(BASE.length));
      await waitText(c.page, `.conv-panel:not([hidden]) .relayc-part[data-partner="${aId}"] .relayc-part-meta`, T.viewedOnce);
      // The link stays shown while the list is read again.
      assert.ok(await link.isVisible());

      // ---- the visitor withdraws: the link and printing stop
      const withdraw = await api(v.page, 'POST', '/api/visitor/relays/withdraw', {
        conversation_id: conversation,
        token: session.token,
        relay_id: relay.relay_id,
        partner_id: aId,
      });
      assert.equal(withdraw.status, 200, JSON.stringify(withdraw.body));
      await waitText(c.page, `.conv-panel:not([hidden]) .relayc-part[data-partner="${aId}"] .relayc-state`, T.state.withdrawn);
      await waitText(c.page, `.conv-panel:not([hidden]) .relayc-part[data-partner="${aId}"] .relayc-part-say`, T.stopped);
      assert.equal(await partA.locator('.relayc-link').count(), 0, 'the link is no longer shown');
      assert.equal(await partA.locator('.relayc-issue').count(), 0);
      assert.equal(await partA.locator('.relayc-print').count(), 0);
      await checkState(c.page, lang, 'console: a relay sheet withdrawn', 'console-relay-withdrawn');

      // ---- back to the sheet; the button now says what it holds
      await view(c.page).locator('.relayc-back').click();
      assert.equal((await opener.locator('span').first().innerText()).trim(), T.openerAfter);
      await sheet(c.page).locator('.hearing-close').click();
      await counsellorEnds(c.page, 'listened');
      await setAvailable(c.page, false);
      assertClean(c.page, c.context);
      assertClean(v.page, v.context);
    } finally {
      await partner?.context.close();
      await v?.context.close();
      await c.context.close();
    }
  });
}
