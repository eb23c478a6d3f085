// Shared by every browser test: one headless Chromium, visitor and
// counsellor pages in separate browser contexts, an axe-core scan, and
// screenshots. The server is started by run.sh (TSUNAGU_URL).

import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

export const BASE = process.env.TSUNAGU_URL;
export const PASSWORD = process.env.TSUNAGU_PASSWORD;
/** A second server whose chat is closed (a one-off closure covering today), started by run.sh. */
export const CLOSED_BASE = process.env.TSUNAGU_CLOSED_URL;
/** A third server with the empty-floor alert on (after 2 s); spec 22 only. */
export const FLOOR_BASE = process.env.TSUNAGU_FLOOR_URL;
const OURS = [BASE, CLOSED_BASE, FLOOR_BASE].filter(Boolean);
const ours = (url) => OURS.some((b) => url.startsWith(b));
const CHROMIUM = process.env.TSUNAGU_TEST_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.TSUNAGU_SCREENSHOTS || path.resolve('../../test-artifacts/screenshots');
if (!BASE || !PASSWORD) {
  throw new Error('TSUNAGU_URL and TSUNAGU_PASSWORD are set by tests/browser/run.sh; run the tests through it');
}

/** The neutral page "Quick exit" goes to (index.html's meta tag). Tests answer it locally: no network. */
export const NEUTRAL_URL = 'https://www.google.co.jp/';

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const TIMEOUT = 10_000;

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/**
 * A browser context that never reaches the internet: anything not on the
 * test server is refused (the neutral quick-exit page is answered here),
 * and every request is recorded so a test can check nothing left for a
 * third party.
 */
async function isolatedContext(browser, options) {
  const context = await browser.newContext({ locale: 'ja-JP', timezoneId: 'Asia/Tokyo', ...options });
  context.requests = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    context.requests.push(url);
    if (ours(url) || url.startsWith('data:')) return route.continue();
    if (url.startsWith(NEUTRAL_URL)) {
      return route.fulfill({
        status: 200,
        contentType: 'text/html',
        body: '<!doctype html><html lang="en"><title>Google</title><p>neutral page</p></html>',
      });
    }
    return route.abort();
  });
  return context;
}

/** Collects what a page must never do: console errors, dialogs (an alert() would be injected script). */
function watch(page) {
  page.setDefaultTimeout(TIMEOUT);
  page.problems = [];
  page.dialogs = [];
  page.on('dialog', (d) => {
    page.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A 401 from /api/me before logging in is how the console learns it must show the login form.
    if (m.type() === 'error' && !/WebSocket|ERR_INTERNET_DISCONNECTED|net::|status of 401/.test(m.text())) {
      page.problems.push(`console: ${m.text()}`);
    }
  });
  return page;
}

/** A visitor on a phone (360 x 740) on one of the visitor's pages, as it loads. */
export async function phonePage(browser, pagePath, { viewport = { width: 360, height: 740 }, beforeGoto } = {}) {
  const context = await isolatedContext(browser, { viewport, isMobile: true, hasTouch: true });
  const page = watch(await context.newPage());
  if (beforeGoto) await beforeGoto(page);
  await page.goto(`${BASE}${pagePath}`);
  return { context, page };
}

/** Someone at a desk on a page that needs no login (a partner's relay link), as it loads. */
export async function deskPage(browser, pagePath, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await isolatedContext(browser, { viewport });
  const page = watch(await context.newPage());
  await page.goto(`${BASE}${pagePath}`);
  return { context, page };
}

/** A visitor on a phone on the chat page, ready to start. */
export async function visitorPage(browser, options = {}) {
  const visitor = await phonePage(browser, '/', options);
  await visitor.page.waitForSelector('#start-button:not([disabled])');
  return visitor;
}

/** A visitor on a phone on the closed-hours server: the page as it loads, no start form to wait for. */
export async function closedVisitorPage(browser, { viewport = { width: 360, height: 740 } } = {}) {
  if (!CLOSED_BASE) throw new Error('TSUNAGU_CLOSED_URL is set by tests/browser/run.sh; run the tests through it');
  const context = await isolatedContext(browser, { viewport, isMobile: true, hasTouch: true });
  const page = watch(await context.newPage());
  await page.goto(`${CLOSED_BASE}/`);
  return { context, page };
}

/** A counsellor at a desk, logged in through the console's form. */
export async function counsellorPage(browser, username, { viewport = { width: 1280, height: 800 }, base = BASE } = {}) {
  const context = await isolatedContext(browser, { viewport });
  const page = watch(await context.newPage());
  // The socket opens before the server's welcome, and until the welcome the
  // console shows its defaults (status "away"): wait for the welcome itself,
  // or a test acting on that status (setAvailable) may act on a stale one.
  const welcomed = new Promise((resolve) => {
    page.on('websocket', (ws) => ws.on('framereceived', (f) => {
      if (typeof f.payload === 'string' && f.payload.includes('"type":"welcome"')) resolve();
    }));
  });
  await page.goto(`${base}/console`);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('#login-username', username);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-submit');
  await page.waitForSelector('#workspace:not([hidden])');
  await page.waitForSelector('#conn-status[data-state="open"]', { state: 'attached' });
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${username}: no welcome within 10 s`)), 10_000);
  });
  await Promise.race([welcomed, late]).finally(() => clearTimeout(timer));
  return { context, page };
}

export async function setAvailable(page, available) {
  const box = page.locator('#available');
  if ((await box.isChecked()) !== available) await box.click();
  await page.waitForSelector(`#status-now[data-status="${available ? 'available' : 'away'}"]`, { state: 'attached' });
}

/** Switch a page's language with its visible switch. */
export async function switchLang(page, lang) {
  if ((await page.getAttribute('html', 'lang')) === lang) return;
  await page.click('#lang-switch');
  await page.waitForFunction((l) => document.documentElement.lang === l, lang);
}

/** Wait until the console's queue shows no one waiting (leftovers of earlier tests are gone). */
export async function waitQueueEmpty(page, timeout = 15_000) {
  await page.waitForFunction(() => document.querySelectorAll('#queue-list li').length === 0 && !document.querySelector('#queue-empty').hidden, null, { timeout });
}

/** Start a chat from the welcome screen, with optional pre-chat answers. */
export async function startChat(page, { who, age_band, topic, first_message } = {}) {
  if (who || age_band || topic || first_message) {
    await page.click('#prechat summary');
    if (who) await page.selectOption('#pc-who', who);
    if (age_band) await page.selectOption('#pc-age', age_band);
    if (topic) await page.selectOption('#pc-topic', topic);
    if (first_message) await page.fill('#pc-first', first_message);
  }
  await page.click('#start-button');
  await page.waitForSelector('#screen-chat:not([hidden])');
  await page.waitForFunction(() => {
    try {
      return Boolean(JSON.parse(sessionStorage.getItem('tsunagu.visitor'))?.token);
    } catch {
      return false;
    }
  });
}

export async function visitorSend(page, text) {
  await page.fill('#composer-text', text);
  await page.click('#composer button[type="submit"]');
}

/** Texts of the visitor's message list, in display order. */
export async function visitorTexts(page) {
  return page.$$eval('#messages .msg-text', (els) => els.map((e) => e.textContent));
}

/** The console's selected conversation panel. */
export function panel(page) {
  return page.locator('.conv-panel:not([hidden])');
}

export async function counsellorSend(page, text) {
  const p = panel(page);
  await p.locator('.composer textarea').fill(text);
  await p.locator('.composer button[type="submit"]').click();
}

export async function panelTexts(page) {
  return panel(page).locator('.messages .msg-text').allTextContents();
}

/** Wait until the element's text includes `text`. */
export async function waitText(page, selector, text, timeout = TIMEOUT) {
  await page.waitForFunction(
    ([s, t]) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(t)),
    [selector, text],
    { timeout },
  );
}

/** Run axe-core on the page as it is; fail on serious or critical violations. */
export async function axeScan(page, label) {
  // The page's CSP forbids inline script, so axe is evaluated through the
  // DevTools protocol (page.evaluate), which CSP does not govern.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary),
    }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe (${label}): ${JSON.stringify(bad, null, 2)}`);
  return result;
}

/** No horizontal scrolling at the page's width. */
export async function assertNoHorizontalScroll(page, label) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${label}: page is ${scroll}px wide in a ${client}px viewport`);
}

export async function screenshot(page, lang, name) {
  const dir = path.join(SHOTS, lang);
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** A page in one state, at the top: axe, no horizontal scroll, a screenshot. */
export async function checkState(page, lang, label, shot) {
  // A full-page screenshot of a scrolled page would show the sticky top bar mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await axeScan(page, `${lang} ${label}`);
  await assertNoHorizontalScroll(page, `${lang} ${label}`);
  await screenshot(page, lang, shot);
}

/**
 * A test that provokes a refusal on purpose (the browser logs each failed
 * request as a console error): there must be exactly `count` with this
 * HTTP status; they are then no longer counted as problems.
 */
export function expectRefused(page, status, count) {
  const refused = page.problems.filter((p) => p.includes(`status of ${status}`));
  assert.equal(refused.length, count, JSON.stringify(page.problems));
  page.problems = page.problems.filter((p) => !refused.includes(p));
}

/** Nothing the page did may be an error, a dialog, or a request to anyone else. */
export function assertClean(page, context) {
  assert.deepEqual(page.dialogs, [], 'a dialog opened (injected script?)');
  assert.deepEqual(page.problems, [], 'errors in the page');
  const foreign = context.requests.filter((u) => !ours(u) && !u.startsWith('data:') && !u.startsWith(NEUTRAL_URL));
  assert.deepEqual(foreign, [], 'requests to third parties');
}

/** sessionStorage of the visitor page, parsed. */
export async function visitorSession(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('tsunagu.visitor') || 'null'));
}

/**
 * A counsellor (available, capacity as given) and a visitor already
 * chatting with them. Returns both, and the visitor's conversation id.
 */
export async function chattingPair(browser, username, { capacity, first_message } = {}) {
  const c = await counsellorPage(browser, username);
  await waitQueueEmpty(c.page);
  if (capacity) {
    await c.page.fill('#capacity', String(capacity));
    await c.page.locator('#capacity').blur();
    await waitText(c.page, '#active-count', `/ ${capacity}`);
  }
  await setAvailable(c.page, true);
  const v = await visitorPage(browser);
  await startChat(v.page, { first_message });
  await v.page.waitForFunction(() => document.querySelector('#chat-heading').textContent.includes('さん'));
  await c.page.waitForSelector('.conv-panel:not([hidden])');
  const conversation = (await visitorSession(v.page)).conversation_id;
  return { c, v, conversation };
}

/**
 * End a conversation from the console with an outcome (and, optionally,
 * the statistics fields: `withdrawal`, `severity`, `referral`) and close
 * its tab. The tab closes only once the server has taken the end.
 */
export async function counsellorEnds(page, outcome = 'listened', { withdrawal, severity, referral } = {}) {
  const p = panel(page);
  await openTab(page, 'end');
  await p.locator('.end-outcome').selectOption(outcome);
  if (withdrawal) await p.locator('.end-withdrawal').selectOption(withdrawal);
  if (severity) await p.locator('.end-severity').selectOption(severity);
  if (referral) await p.locator('.end-referral').check();
  await p.locator('.end-form button').click();
  // Ending a live chat the visitor wrote last in (or with no reply) asks first (spec 18 checks when).
  await page.waitForFunction(
    () => document.querySelector('#end-confirm[open]') || document.querySelector('.conv-panel:not([hidden]) .close-conv:not([hidden])'),
  );
  if (await page.locator('#end-confirm[open]').isVisible()) await page.locator('#end-confirm .end-confirm-yes').click();
  await p.locator('.close-conv').waitFor();
  await p.locator('.close-conv').click();
}

/** The console's side column is tabs: `notes`, `risk`, `handoff` (to intake or a colleague), `end`. */
export async function openTab(page, name) {
  const tab = panel(page).locator(`.side-tab[data-tab="${name}"]`);
  await tab.click();
  await panel(page).locator(`.side-panel[data-tab="${name}"]:not([hidden])`).waitFor();
}

/** A staff member on the admin (`/admin/`) or intake (`/intake/`) page, logged in through its form. */
export async function staffPage(browser, pagePath, username, { viewport = { width: 1280, height: 800 }, beforeLogin, base = BASE } = {}) {
  const context = await isolatedContext(browser, { viewport });
  const page = watch(await context.newPage());
  await page.goto(`${base}${pagePath}`);
  await page.waitForSelector('#login:not([hidden]) #login-submit');
  if (beforeLogin) await beforeLogin(page);
  await page.fill('#login-username', username);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-submit');
  await page.waitForSelector('#workspace:not([hidden])');
  return { context, page };
}

/**
 * Show one section of the admin page by its menu (`fragment`: floor,
 * statistics, audit-log, staff-accounts, canned-replies, partners,
 * appointment-slots), as a person would.
 */
export async function adminSection(page, fragment) {
  await page.click(`.admin-nav a[href="#${fragment}"]`);
  await page.waitForSelector(`.admin-section:not([hidden]) :is(h2, h3)`);
  await page.waitForFunction((f) => location.hash === `#${f}`, fragment);
}

/** The HTTP API as a logged-in staff member (a context's own request client keeps the cookie). */
export async function staffApi(browser, username) {
  const context = await browser.newContext();
  const r = await context.request.post(`${BASE}/api/login`, { data: { username, password: PASSWORD } });
  assert.equal(r.status(), 200, `login as ${username}`);
  return context;
}

/**
 * For a handoff test file: one browser, and the API clients of the admin
 * (`mori`) and of intake (`noda`), opened before its tests and closed
 * after them. The fields are set once `before` has run.
 */
export function handoffFixture() {
  const f = { browser: null, admin: null, intake: null };
  before(async () => {
    f.browser = await launch();
    f.admin = await staffApi(f.browser, 'mori');
    f.intake = await staffApi(f.browser, 'noda');
  });
  after(async () => {
    await f.admin?.close();
    await f.intake?.close();
    await f.browser?.close();
  });
  return f;
}

/** The bookings intake sees now (GET /api/intake/bookings). */
export async function intakeBookings(intake) {
  const r = await intake.request.get(`${BASE}/api/intake/bookings`);
  assert.equal(r.status(), 200);
  return r.json();
}

/** Tomorrow (Japan time) at `hour`:`minute`, as ms since the epoch, and its date and time strings. */
export function tomorrowInJapan(hour, minute = 0) {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(new Date());
  const d = new Date(`${today}T00:00:00+09:00`);
  d.setUTCDate(d.getUTCDate() + 1);
  const date = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(d);
  const time = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  return { date, time, ms: Date.parse(`${date}T${time}:00+09:00`) };
}

/** Admins: create a slot through the API; returns the slot as the server shows it. */
export async function createSlot(api, { starts_at, place, capacity = 1, kind = 'centre', duration_mins = 60, staff = 2 }) {
  const r = await api.request.post(`${BASE}/api/admin/slots`, { data: { starts_at, duration_mins, kind, place, capacity, staff } });
  assert.equal(r.status(), 201, `create slot: ${await r.text()}`);
  return r.json();
}

/** The counsellor offers (or revises) a first consultation in the selected conversation. */
export async function counsellorOffers(page, summary, { transcript = false } = {}) {
  await openTab(page, 'handoff');
  const form = panel(page).locator('.handoff-form');
  await form.locator('textarea').fill(summary);
  await form.locator('input[type="checkbox"]').setChecked(transcript);
  await form.locator('button[type="submit"]').click();
}

/** The visitor agrees to the offer on screen, with the scope given; the booking form follows. */
export async function visitorConsents(page, { transcript = false, contact = false } = {}) {
  await page.waitForSelector('#offer-form:not([hidden])');
  if (transcript) await page.check('#offer-transcript');
  if (contact) await page.check('#offer-contact');
  await page.click('#offer-agree');
  await page.waitForSelector('#booking-form:not([hidden])');
}

/** The visitor books the slot at `place`: contact `self`, or `phone`/`email` with a value. */
export async function visitorBooks(page, place, { kind = 'self', value, name } = {}) {
  await page.locator('#slot-list .slot', { hasText: place }).locator('input').check();
  if (name) await page.fill('#booking-name', name);
  if (kind !== 'self') {
    await page.check(`#contact-${kind}`);
    await page.fill('#contact-value', value);
  }
  await page.click('#booking-submit');
  await page.waitForSelector('#booked:not([hidden])');
}
