// The relay sheet (つなぐシート, issue 23) from end to end, in Japanese
// and English. An admin adds two partners that take relays; a visitor on a
// phone (360 x 740) chats; their counsellor saves a hearing sheet and
// prepares a relay (through the API), then changes it before it is
// answered: partner A would get "who is contacting" and the situation
// (with a marker), partner B how long the person has been withdrawn. On
// the phone the changed card replaces the first and says so; it is
// focused, nothing chosen, and lists exactly those answers per partner;
// sending without choosing says what is missing. The visitor agrees to A
// and refuses B: each partner's result shows, and B gets no link. A's link
// opens the partner's page: A's answers with the marker, nothing of B's,
// the token gone from the address; the phone then shows that A looked
// once. The counsellor's printed sheet is one A4 page (and so is a full
// sheet of ten answers with a long text). The visitor takes A's consent
// back (with a confirmation): the same link then says the consent was
// withdrawn, and the print page refuses too. Axe clean at every step;
// screenshots relay-*; the PDFs under test-artifacts/. The chat is ended
// and the partners deleted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
  waitText,
  axeScan,
  checkState,
  screenshot,
  assertNoHorizontalScroll,
  expectRefused,
  assertClean,
  staffApi,
} from '../lib/harness.mjs';

const ADMIN = 'renkei';
const ARTIFACTS = path.resolve(process.env.TSUNAGU_SCREENSHOTS || '../../test-artifacts/screenshots', '..');
const CENTRE = { ja: 'ひきこもり地域支援センター チャット相談（テスト）', en: 'Hikikomori Support Centre chat (test)' };

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
    first: '家から出られなくて、誰にも相談できませんでした',
    situation: (marker) =>
      `夜は眠れず、昼過ぎに起きる生活です。仕事を探したい気持ちはあるけれど、面接のことを考えると手が震えます。（${marker}）`,
    purpose: '就労の相談を、安心できるところから始めるため',
    firstPurpose: '相談先を一緒に探すため',
    changed: '提案の内容が変わりました。新しい内容を読んでから、もう一度選んでください。',
    heading: '相談員からの提案：ほかの相談先に話をつなぐ',
    noName: '名前や連絡先は伝わりません。',
    withdrawAnytime: '同意は、あとからいつでも取り消せます。',
    offersA: '支援の種類：福祉・就労',
    fieldsA: [['相談してきた人：', '本人'], ['いまの状況（本人の言葉で）：', null]],
    fieldsB: [['ひきこもりの期間：', '3年未満']],
    withdrawalLabel: 'ひきこもりの期間',
    withdrawalAnswer: '3年未満',
    yes: 'この連携先に伝えてよい（同意する）',
    no: '伝えない（同意しない）',
    send: '回答を送る',
    missing: (name) => `「${name}」について、「伝えてよい」か「伝えない」かを選んでください。`,
    sent: '回答を送りました。',
    given: '伝えることに同意しました',
    refused: '伝えません',
    viewedOnce: '連携先が1回確認しました',
    withdraw: '同意を取り消す',
    confirm: (name) => `「${name}」への同意を取り消しますか。`,
    withdrawYes: '取り消す',
    withdrawn: '同意を取り消しました',
    withdrawnSaid: (name) => `「${name}」への同意を取り消しました。`,
    sheetTitle: 'つなぐシート（連携のための情報提供）',
    note: 'ご本人が貴機関に伝えることに同意した内容だけを表示しています',
    partnerWithdrawn: 'ご本人が同意を取り消したため、表示できません。',
    printHead: ['項目', '内容'],
    footer: '本人の同意に基づき提供。目的外利用・複写を禁じます。',
    printWithdrawn: 'ご本人が同意を取り消したため、印刷できません。',
  },
  en: {
    first: 'I cannot leave the house and had no one to talk to',
    situation: (marker) =>
      `I cannot sleep at night and get up after noon. I would like to look for work, but my hands shake when I think of an interview. (${marker})`,
    purpose: 'To start talking about work somewhere that feels safe',
    firstPurpose: 'To look for a service together',
    changed: 'The proposal has changed. Please read the new version and choose again.',
    heading: 'A suggestion from your counsellor: passing your story on to other services',
    noName: 'Your name and contact details are not passed on.',
    withdrawAnytime: 'You can take your agreement back at any time.',
    offersA: 'What they offer: Welfare, Employment',
    fieldsA: [['Who is contacting: ', 'The person themself'], ['The situation now (in their words): ', null]],
    fieldsB: [['How long withdrawn: ', 'Under 3 years']],
    withdrawalLabel: 'How long withdrawn',
    withdrawalAnswer: 'Under 3 years',
    yes: 'Yes, this service may be told',
    no: 'No, do not tell them',
    send: 'Send my answer',
    missing: (name) => `Please choose yes or no for “${name}”.`,
    sent: 'Your answer was sent.',
    given: 'You agreed to this being passed on',
    refused: 'Not passed on',
    viewedOnce: 'The service has looked at it once',
    withdraw: 'Take my agreement back',
    confirm: (name) => `Take your agreement back for “${name}”?`,
    withdrawYes: 'Take it back',
    withdrawn: 'You took your agreement back',
    withdrawnSaid: (name) => `You took your agreement back for “${name}”.`,
    sheetTitle: 'Relay sheet (information shared for a referral)',
    note: 'This page shows only what the person agreed to share with your service.',
    partnerWithdrawn: 'The person has taken their consent back, so this cannot be shown.',
    printHead: ['Item', 'Answer'],
    footer: 'Shared with the person’s consent. Do not use it for any other purpose or copy it.',
    printWithdrawn: 'The person has taken their consent back, so it cannot be printed.',
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

/** A request from the counsellor's page: its session cookie, its Origin. */
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

/** Pages of a PDF: its /Type /Page objects (not /Pages). */
function pdfPages(pdf) {
  return (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
}

function savePdf(name, pdf) {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, name), pdf);
}

/** [label, answer] of each field the card shows for a partner. */
async function cardFields(page, partner) {
  return page
    .locator(`.relay-part[data-partner="${partner}"] .relay-field`)
    .evaluateAll((els) => els.map((e) => [e.querySelector('dt').textContent, e.querySelector('dd').textContent]));
}

/**
 * The card as the person sees it on the phone, a screen at a time: the log
 * scrolled to its top, to each partner, and to its foot.
 */
async function cardShots(page, card, lang, name) {
  const stops = [card.locator('h2'), ...(await card.locator('.relay-part').all()), card];
  for (const [i, stop] of stops.entries()) {
    await stop.evaluate((e, last) => e.scrollIntoView({ block: last ? 'end' : 'start' }), i === stops.length - 1);
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    await screenshot(page, lang, `${name}-${i + 1}`);
  }
}

/** A page of the counsellor's context (the print page), its errors collected. */
async function printPage(context, url) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  if (url) await page.goto(`${BASE}${url}`);
  return page;
}

/** A typical full sheet: ten answers, one a text of a few hundred characters. */
function fullSheet(lang) {
  const long =
    lang === 'ja'
      ? '夜は眠れず、昼過ぎに起きる生活が二年ほど続いています。家族とは食事のときに少し話しますが、それ以外は自分の部屋で過ごしています。仕事を探したい気持ちはあるけれど、面接のことを考えると手が震え、求人票を見るだけで疲れてしまいます。まずは人の少ない時間に外に出ることから始めたいと話しています。同年代の人がいる場所には、今はまだ行きたくないそうです。'
      : 'For about two years they have not slept at night and got up after noon. They talk a little with the family at meals and otherwise stay in their room. They would like to look for work, but their hands shake when they think of an interview, and even reading job adverts tires them. They say they would like to start by going out at quiet times. For now they do not want to go where people of their age are.';
  const rows = [
    ['相談してきた人', 'Who is contacting', '本人', 'The person themself'],
    ['本人の年代', "The person's age band", '20代', '20s'],
    ['本人の性別', "The person's gender", '不明・答えない', 'Unknown or not said'],
    ['ひきこもりの期間', 'How long withdrawn', '3年未満', 'Under 3 years'],
    ['ひきこもりの状態', 'State of withdrawal', '状態②', 'State 2'],
    ['いまの気持ち', 'How they feel now', '2 / 5（とてもつらい〜落ち着いている）', '2 / 5 (Very hard to Settled)'],
    ['外に出ることへの気持ち', 'How they feel about going out', '3 / 5（考えられない〜出てみたい）', '3 / 5 (Unthinkable to Would like to)'],
    ['望んでいること', 'What they wish for', '居場所がほしい、仕事・学校のこと、心や体の健康のこと', 'A place to be, Work or school, Health of mind or body'],
    ['いまの状況（本人の言葉で）', 'The situation now (in their words)', long, long],
    ['相談の経過', 'How the talks went', '初回の相談から三週間、週に一度チャットで話しています。', 'Three weeks since the first talk; a chat once a week.'],
  ];
  return {
    centre_ja: CENTRE.ja,
    centre_en: CENTRE.en,
    partner_ja: '多摩就労サポートステーション（八王子分室）',
    partner_en: 'Tama Employment Support Station (Hachioji office)',
    purpose:
      lang === 'ja'
        ? '就労の相談を、安心できるところから始めるため。初回は短い面談から、本人のペースで進めてください。'
        : 'To start talking about work somewhere that feels safe; the first meeting short, at their pace.',
    fields: rows.map(([lja, len, aja, aen], i) => ({ question: `q${i}`, label_ja: lja, label_en: len, answer_ja: aja, answer_en: aen })),
    consented_at: Date.now() - 3600_000,
  };
}

for (const lang of ['ja', 'en']) {
  test(`a relay sheet goes only where the visitor agreed, and stops when they take it back (${lang})`, async () => {
    const T = TEXT[lang];
    const marker = `MARK-${lang}-${tag}`;
    const c = await counsellorPage(browser, `tsunagi.${lang}`);
    let v = null;
    let partner = null;
    try {
      await waitQueueEmpty(c.page);
      await setAvailable(c.page, true);

      // Two partners that take relays.
      const A = {
        name_ja: `八王子就労サポート（試験 ${lang} ${tag}）`,
        name_en: `Hachioji Work Support (test ${lang} ${tag})`,
        offers: ['employment', 'welfare'],
        contact: '042-000-4444',
        accepts_relays: true,
      };
      const B = {
        name_ja: `多摩の居場所ひだまり（試験 ${lang} ${tag}）`,
        name_en: `Tama Drop-in Hidamari (test ${lang} ${tag})`,
        offers: ['peer_group'],
        contact: '042-000-5555',
        accepts_relays: true,
      };
      const aId = await addPartner(A);
      const bId = await addPartner(B);
      const nameA = lang === 'en' ? A.name_en : A.name_ja;
      const nameB = lang === 'en' ? B.name_en : B.name_ja;

      // ---- the visitor chats on a phone
      v = await visitorPage(browser);
      await switchLang(v.page, lang);
      await startChat(v.page, { first_message: T.first });
      await c.page.waitForSelector('.conv-panel:not([hidden])');
      await waitText(c.page, '.conv-panel:not([hidden]) .msg-text', T.first);
      await v.page.waitForSelector('#composer:not([hidden])');
      const conversation = (await visitorSession(v.page)).conversation_id;

      // ---- the counsellor's side, through the API of their page
      const situation = T.situation(marker);
      const saved = await api(c.page, 'PUT', `/api/counsellor/conversations/${conversation}/hearing`, {
        version: 1,
        answers: {
          contact: 'self',
          age: 'teens',
          withdrawal: 'under_three_years',
          state: 'state_2',
          mood: 2,
          wishes: ['a_place', 'work_school'],
          situation,
        },
        complete: false,
      });
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      // A first suggestion, which the counsellor then changes before it is answered.
      const first = await api(c.page, 'POST', `/api/counsellor/conversations/${conversation}/relays`, {
        purpose: T.firstPurpose,
        partners: [{ partner_id: aId, questions: ['contact'] }],
      });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const firstCard = v.page.locator(`.relay[data-relay="${first.body.relay.relay_id}"]`);
      await firstCard.waitFor();
      await firstCard.getByLabel(T.yes).check();
      const prepared = await api(c.page, 'POST', `/api/counsellor/conversations/${conversation}/relays`, {
        purpose: T.purpose,
        partners: [
          { partner_id: aId, questions: ['contact', 'situation'] },
          { partner_id: bId, questions: ['withdrawal'] },
        ],
      });
      assert.equal(prepared.status, 201, JSON.stringify(prepared.body));
      const relayId = prepared.body.relay.relay_id;

      // ---- the card on the phone: focused, exactly what would go to whom, nothing chosen
      const card = v.page.locator(`.relay[data-relay="${relayId}"]`);
      await card.waitFor();
      await firstCard.waitFor({ state: 'detached' });
      assert.equal(await card.locator('.relay-result').textContent(), T.changed, 'the visitor is told it changed');
      await v.page.waitForFunction((id) => document.activeElement?.id === `relay-${id}-heading`, relayId);
      assert.equal(await card.locator('h2').textContent(), T.heading);
      assert.ok((await card.locator('.relay-notice').textContent()).length > 20, 'the notice, word for word');
      const cardText = await card.innerText();
      for (const s of [T.noName, T.withdrawAnytime, T.purpose, nameA, nameB, T.offersA]) {
        assert.ok(cardText.includes(s), `${s} on the card`);
      }
      const [fa0, fa1] = T.fieldsA;
      assert.deepEqual(await cardFields(v.page, aId), [fa0, [fa1[0], situation]]);
      assert.deepEqual(await cardFields(v.page, bId), T.fieldsB);
      assert.equal(await card.locator('input[type="radio"]:checked').count(), 0, 'nothing preselected');
      const partA = card.locator(`.relay-part[data-partner="${aId}"]`);
      const partB = card.locator(`.relay-part[data-partner="${bId}"]`);
      assert.equal(await partA.evaluate((e) => e.tagName), 'FIELDSET');
      assert.equal(await partA.locator('legend').textContent(), nameA);
      await axeScan(v.page, `${lang} relay card`);
      await v.page.emulateMedia({ colorScheme: 'dark' });
      await axeScan(v.page, `${lang} relay card (dark)`);
      await screenshot(v.page, lang, 'relay-card-phone-dark');
      await v.page.emulateMedia({ colorScheme: 'light' });
      await assertNoHorizontalScroll(v.page, `${lang} relay card`);
      await screenshot(v.page, lang, 'relay-card-phone');
      await cardShots(v.page, card, lang, 'relay-card');

      // Sending before choosing says what is missing, by the first partner.
      await card.getByRole('button', { name: T.send }).click();
      await waitText(v.page, `.relay[data-relay="${relayId}"] .error`, T.missing(nameA));
      assert.equal(await v.page.evaluate(() => document.activeElement?.value), 'yes');

      // Agree to A, refuse B (each choice a labelled radio in the partner's group).
      await partA.getByLabel(T.yes).check();
      await partB.getByLabel(T.no).check();
      await card.getByRole('button', { name: T.send }).click();
      await partA.locator('.relay-state').waitFor();
      await v.page.waitForFunction((id) => document.activeElement?.id === `relay-${id}-result`, relayId);
      const result = await card.locator('.relay-result').textContent();
      assert.ok(result.startsWith(T.sent), result);
      assert.ok(result.includes(nameA) && result.includes(nameB), result);
      assert.ok((await partA.locator('.relay-state').textContent()).startsWith(T.given));
      assert.ok((await partB.locator('.relay-state').textContent()).startsWith(T.refused));
      assert.ok(await partA.getByRole('button', { name: nameA }).isVisible(), 'A can be taken back');
      assert.equal(await partB.locator('button:visible').count(), 0, 'nothing to take back from B');
      await axeScan(v.page, `${lang} relay answered`);
      await v.page.emulateMedia({ colorScheme: 'dark' });
      await axeScan(v.page, `${lang} relay answered (dark)`);
      await v.page.emulateMedia({ colorScheme: 'light' });
      await cardShots(v.page, card, lang, 'relay-card-answered');

      // A reload brings the answered card back from the server, after the messages before it.
      await v.page.reload();
      await partA.locator('.relay-state').waitFor();
      assert.equal(await v.page.locator('.relay').count(), 1, 'the replaced suggestion is gone for good');
      await waitText(v.page, '#messages .msg-text', T.first);
      assert.ok(
        await card.evaluate((el, first) => {
          const msg = [...document.querySelectorAll('#messages .msg')].find((m) => m.textContent.includes(first));
          return Boolean(msg.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
        }, T.first),
        'the card comes after the first message',
      );

      // ---- the links: B was refused, so none; A's is issued
      const noLink = await api(c.page, 'POST', `/api/counsellor/conversations/${conversation}/relays/${relayId}/link`, { partner_id: bId });
      assert.equal(noLink.body?.code, 'outside_consent');
      expectRefused(c.page, 403, 1);
      const issued = await api(c.page, 'POST', `/api/counsellor/conversations/${conversation}/relays/${relayId}/link`, { partner_id: aId });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const link = issued.body.link;
      assert.match(link, /^\/relay\/#[A-Za-z0-9_-]{43}$/);

      // ---- the partner's page: A's answers, the marker, nothing of B's
      partner = await deskPage(browser, lang === 'en' ? '/relay/' : link);
      if (lang === 'en') {
        // Switched to English first; then the link (a new document: the token is read once).
        await switchLang(partner.page, 'en');
        await partner.page.goto('about:blank');
        await partner.page.goto(`${BASE}${link}`);
      }
      await partner.page.waitForSelector('#sheet-body:not([hidden])');
      assert.equal(await partner.page.evaluate(() => location.hash), '', 'the token is gone from the address');
      const sheet = await partner.page.locator('#main').innerText();
      for (const s of [T.sheetTitle, CENTRE[lang], nameA, T.purpose, T.note, T.footer, marker, fa0[1]]) {
        assert.ok(sheet.includes(s), `${s} on the partner's page`);
      }
      assert.deepEqual(
        await partner.page.locator('#sheet-fields dt').allTextContents(),
        [fa0[0], fa1[0]].map((l) => l.replace(/[：:]\s*$/, '')),
      );
      for (const s of [T.withdrawalLabel, T.withdrawalAnswer, nameB]) assert.ok(!sheet.includes(s), `${s} is not B's to see`);
      await checkState(partner.page, lang, 'relay partner page', 'relay-partner');
      await partner.page.setViewportSize({ width: 360, height: 740 });
      await checkState(partner.page, lang, 'relay partner page (phone)', 'relay-partner-phone');
      await partner.page.setViewportSize({ width: 1280, height: 800 });

      // The phone learns that A looked once.
      await waitText(v.page, `.relay-part[data-partner="${aId}"] .relay-views`, T.viewedOnce);

      // ---- the printed sheet: one A4 page
      const print = await printPage(c.context, `/console/relay-print.html?c=${conversation}&r=${relayId}&p=${aId}`);
      await switchLang(print, lang);
      await print.waitForSelector('#sheet:not([hidden])');
      const printed = await print.locator('#sheet').innerText();
      for (const s of [CENTRE[lang], T.sheetTitle, nameA, T.purpose, marker, T.footer]) {
        assert.ok(printed.includes(s), `${s} on the printed sheet`);
      }
      for (const s of [T.withdrawalAnswer, nameB]) assert.ok(!printed.includes(s), `${s} not printed`);
      assert.deepEqual(await print.locator('.sheet-fields-table thead th').allTextContents(), T.printHead);
      assert.equal(await print.locator('.sheet-fields-table tbody tr').count(), 2);
      await axeScan(print, `${lang} relay print`);
      await screenshot(print, lang, 'relay-print');
      await print.emulateMedia({ media: 'print' });
      await screenshot(print, lang, 'relay-print-media');
      await print.emulateMedia({ media: null });
      const pdf = await print.pdf({ format: 'A4', printBackground: true });
      savePdf(`relay-sheet-${lang}.pdf`, pdf);
      assert.equal(pdfPages(pdf), 1, 'the printed sheet is one A4 page');

      // A typical full sheet (ten answers, a long text) still fits on one page.
      const full = await printPage(c.context);
      await full.route('**/api/counsellor/conversations/*/relays/*/print*', (route) =>
        route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ sheet: fullSheet(lang) }) }),
      );
      await full.goto(`${BASE}/console/relay-print.html?c=${conversation}&r=${relayId}&p=${aId}`);
      await switchLang(full, lang);
      await full.waitForSelector('#sheet:not([hidden])');
      assert.equal(await full.locator('.sheet-fields-table tbody tr').count(), 10);
      await screenshot(full, lang, 'relay-print-full');
      const fullPdf = await full.pdf({ format: 'A4', printBackground: true });
      savePdf(`relay-sheet-full-${lang}.pdf`, fullPdf);
      assert.equal(pdfPages(fullPdf), 1, 'a full sheet is one A4 page');
      await full.close();

      // ---- the visitor takes A's consent back, with a confirmation
      await partA.getByRole('button', { name: nameA }).click();
      const question = partA.locator('.relay-confirm p');
      await question.waitFor();
      assert.ok((await question.textContent()).startsWith(T.confirm(nameA)));
      assert.equal(await v.page.evaluate(() => document.activeElement?.tagName), 'P');
      await axeScan(v.page, `${lang} relay withdraw confirm`);
      await partA.getByRole('button', { name: T.withdrawYes, exact: true }).click();
      await v.page.waitForFunction(
        ([id, s]) => document.querySelector(`.relay-part[data-partner="${id}"] .relay-state`)?.textContent.startsWith(s),
        [aId, T.withdrawn],
      );
      assert.equal(await card.locator('.relay-result').textContent(), T.withdrawnSaid(nameA));
      await v.page.waitForFunction((id) => document.activeElement?.id === `relay-${id}-result`, relayId);
      assert.equal(await partA.locator('button:visible').count(), 0);
      await cardShots(v.page, card, lang, 'relay-card-withdrawn');

      // The same link now shows nothing (a fresh load: the page read the token once).
      await partner.page.goto('about:blank');
      await partner.page.goto(`${BASE}${link}`);
      await waitText(partner.page, '#sheet-state-text', T.partnerWithdrawn);
      assert.ok(await partner.page.locator('#sheet-body').isHidden());
      assert.ok(!(await partner.page.locator('#main').innerText()).includes(marker));
      expectRefused(partner.page, 410, 1);
      await checkState(partner.page, lang, 'relay partner page withdrawn', 'relay-partner-withdrawn');

      // …and the print page refuses.
      await print.reload();
      await waitText(print, '#print-state', T.printWithdrawn);
      assert.ok(await print.locator('#sheet').isHidden());
      print.problems = print.problems.filter((p) => !p.includes('status of 410'));
      assert.deepEqual(print.problems, []);
      await print.close();

      // ---- the end
      await counsellorEnds(c.page, 'listened');
      await setAvailable(c.page, false);
      assertClean(v.page, v.context);
      assertClean(partner.page, partner.context);
      assertClean(c.page, c.context);
    } finally {
      await partner?.context.close();
      await v?.context.close();
      await c.context.close();
    }
  });
}
