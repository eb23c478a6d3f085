// Handoff over LINE: a LINE user (a signed webhook event) is matched to a
// counsellor on the console, who offers a first consultation; the LINE
// Messaging API (a stand-in served here, on the port run.sh configured)
// receives a message with a one-time link. On a phone the link's page
// takes the token out of the address bar, shows the summary word for
// word, takes the consent and the booking with the same component as the
// web chat, and shows the PIN once. Opening the link again says it is
// spent (in Japanese, then in English) and points to the booking page.
// axe, 360 px and a screenshot on each state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import {
  BASE,
  launch,
  staffApi,
  phonePage,
  counsellorPage,
  setAvailable,
  waitQueueEmpty,
  switchLang,
  waitText,
  checkState,
  assertClean,
  expectRefused,
  counsellorEnds,
  createSlot,
  tomorrowInJapan,
  counsellorOffers,
  visitorConsents,
  visitorBooks,
} from '../lib/harness.mjs';

const SECRET = process.env.TSUNAGU_LINE_SECRET;
const API_PORT = Number(process.env.TSUNAGU_LINE_API_PORT);
const SUMMARY = 'LINEからのご相談です。\n半年ほど仕事に行けていません。<b>太字</b>';
const PLACE = '本館2階 相談室C（LINE）';

/** What the stand-in Messaging API received: the texts pushed or replied. */
const received = [];
let api;
const f = { browser: null, admin: null };

before(async () => {
  assert.ok(SECRET && API_PORT, 'TSUNAGU_LINE_SECRET and TSUNAGU_LINE_API_PORT are set by tests/browser/run.sh');
  api = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        for (const m of JSON.parse(body).messages || []) if (m.text) received.push(m.text);
      } catch {
        // not ours to judge
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((ok) => api.listen(API_PORT, '127.0.0.1', ok));
  f.browser = await launch();
  f.admin = await staffApi(f.browser, 'mori');
});

after(async () => {
  await f.admin?.close();
  await f.browser?.close();
  await new Promise((ok) => api.close(ok));
});

/** A LINE user's text message, signed as LINE signs it. */
async function lineSays(user, text) {
  const body = JSON.stringify({
    destination: 'U0',
    events: [
      {
        type: 'message',
        mode: 'active',
        timestamp: Date.now(),
        webhookEventId: `01BT${Date.now()}`,
        deliveryContext: { isRedelivery: false },
        source: { type: 'user', userId: user },
        message: { id: 'm1', type: 'text', text },
      },
    ],
  });
  const signature = createHmac('sha256', SECRET).update(body).digest('base64');
  const r = await fetch(`${BASE}/channels/line/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-line-signature': signature },
    body,
  });
  assert.equal(r.status, 200);
}

/** The token of the first handoff link the stand-in received. */
async function linkToken() {
  const prefix = `${BASE}/handoff/#`;
  for (let i = 0; i < 200; i += 1) {
    const text = received.find((t) => t.includes(prefix));
    if (text) {
      assert.ok(text.indexOf('初回相談') < text.indexOf('first consultation'), 'Japanese first');
      return text.slice(text.indexOf(prefix) + prefix.length).match(/^[A-Za-z0-9_-]+/)[0];
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`no handoff link reached LINE: ${JSON.stringify(received)}`);
}

test('a LINE visitor consents and books through the one-time link, which then is spent', async () => {
  await createSlot(f.admin, { starts_at: tomorrowInJapan(15).ms, place: PLACE, capacity: 2 });
  const c = await counsellorPage(f.browser, 'ueda');
  await waitQueueEmpty(c.page);
  await setAvailable(c.page, true);
  await lineSays(`U${Date.now()}browser`, 'LINEから相談したいです');
  await c.page.waitForSelector('.conv-panel:not([hidden])');
  await counsellorOffers(c.page, SUMMARY);
  const token = await linkToken();
  assert.ok(token.length >= 22, token);

  // ---- the link's page: the token leaves the address bar at once
  const v = await phonePage(f.browser, `/handoff/#${token}`);
  try {
    await v.page.waitForSelector('#offer-form:not([hidden])');
    assert.equal(new URL(v.page.url()).hash, '', 'the fragment is gone from the address');
    assert.ok(!v.page.url().includes(token));
    assert.equal(await v.page.locator('#offer-summary').textContent(), SUMMARY, 'word for word, as text');
    assert.ok(await v.page.locator('#link-state').isHidden());
    const kept = Object.keys(await v.page.evaluate(() => ({ ...sessionStorage })));
    assert.ok(kept.every((k) => k === 'tsunagu.lang'), `nothing but the language is kept: ${kept}`);
    await checkState(v.page, 'ja', 'LINE handoff link, offer', 'line-handoff-1-offer');

    await visitorConsents(v.page, { contact: false });
    await checkState(v.page, 'ja', 'LINE handoff link, booking form', 'line-handoff-2-booking');
    await visitorBooks(v.page, PLACE);
    assert.match(await v.page.locator('#booked-pin').textContent(), /^\d{6}$/);
    assert.ok(await v.page.locator('#withdraw-area').isHidden(), 'withdrawing goes through the booking page now');
    // The link is spent: a new PIN and a new time go through the booking page too.
    assert.ok(await v.page.locator('#new-pin').isHidden());
    assert.ok(await v.page.locator('#reschedule-open').isHidden());
    await waitText(v.page, '#booked-lookup', '予約番号とPIN');
    await checkState(v.page, 'ja', 'LINE handoff link, booked', 'line-handoff-3-booked');
    // The counsellor sees the booking.
    await waitText(c.page, '.conv-panel:not([hidden]) .handoff-booked', '予約あり');
    assertClean(v.page, v.context);
  } finally {
    await v.context.close();
  }

  // ---- the same link again: spent, said in both languages
  const again = await phonePage(f.browser, `/handoff/#${token}`);
  try {
    await waitText(again.page, '#link-state-text', 'このリンクはもう使えません');
    assert.equal(new URL(again.page.url()).hash, '');
    assert.ok(await again.page.locator('#handoff').isHidden(), 'nothing of the handoff shows');
    assert.equal(await again.page.getAttribute('#link-state-lookup a', 'href'), '/booking/');
    await checkState(again.page, 'ja', 'LINE handoff link, spent', 'line-handoff-4-spent');
    await switchLang(again.page, 'en');
    await waitText(again.page, '#link-state-text', 'This link can no longer be used');
    await checkState(again.page, 'en', 'LINE handoff link, spent', 'line-handoff-4-spent');
    expectRefused(again.page, 410, 1);
    assertClean(again.page, again.context);
  } finally {
    await again.context.close();
  }
  await counsellorEnds(c.page, 'handoff_agreed');
  await c.context.close();
});
