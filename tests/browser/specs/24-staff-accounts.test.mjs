// Issue 21: staff accounts run from the admin page. An admin creates an
// account; the page shows the one-time set-up link once; the new person
// opens it on a phone, is refused a common password, sets a good one, and
// logs in to the console; the admin deactivates them and their open
// console shows the logged-out state at once. In Japanese (admin at a
// desk) and English (admin on a 360 px phone), axe clean.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  launch,
  phonePage,
  staffPage,
  adminSection,
  switchLang,
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

const TEXT = {
  ja: { weak: 'このパスワードは使えません', done: 'パスワードを設定しました', deactivated: '停止中', loggedOut: '管理者によって停止されました' },
  en: { weak: 'That password cannot be used', done: 'Your password is set', deactivated: 'Deactivated', loggedOut: 'An admin deactivated this account' },
};

for (const [lang, viewport] of [
  ['ja', { width: 1280, height: 800 }],
  ['en', { width: 360, height: 740 }],
]) {
  test(`an admin creates an account, the person sets a password by the link, logs in, and is deactivated (${lang})`, async () => {
    const username = `newcomer-${lang}`;
    const name = lang === 'ja' ? '新井' : 'Arai';
    const password = `yuki-no-hi-${lang}-2026`;
    const admin = await staffPage(browser, '/admin/#staff-accounts', 'hoshino', {
      viewport,
      beforeLogin: (page) => switchLang(page, lang),
    });
    let person;
    let console_;
    try {
      const a = admin.page;
      await a.waitForSelector('#accounts-body tr[data-account="hoshino"]');
      await a.fill('#acc-username', username);
      await a.fill('#acc-name', name);
      await a.selectOption('#acc-role', 'counsellor');
      await a.click('#acc-submit');
      await a.waitForSelector('#setup-box:not([hidden])');
      await a.waitForSelector(`#accounts-body tr[data-account="${username}"][data-state="active"]`);
      const link = await a.inputValue('#setup-link');
      assert.match(link, new RegExp(`^${BASE}/setup/#[0-9a-f-]{36}\\.[A-Za-z0-9_-]{43}$`));
      await checkState(a, lang, 'admin: the set-up link shown once', 'accounts-1-setup-link');

      // ---- the new person, on a phone
      person = await phonePage(browser, link.slice(BASE.length), { beforeGoto: (page) => page.addInitScript((l) => sessionStorage.setItem('tsunagu.lang', l), lang) });
      const p = person.page;
      await p.waitForSelector('#setup-form');
      assert.equal(new URL(p.url()).hash, '', 'the code leaves the address bar at once');
      await p.fill('#setup-password', 'qwerty123456');
      await p.fill('#setup-again', 'qwerty123456');
      await p.click('#setup-submit');
      await waitText(p, '#setup-error', TEXT[lang].weak);
      expectRefused(p, 400, 1);
      await checkState(p, lang, 'set-up: a common password refused', 'accounts-2-setup-weak');
      await p.fill('#setup-password', password);
      await p.fill('#setup-again', password);
      await p.click('#setup-submit');
      await waitText(p, '#setup-done', TEXT[lang].done);
      await checkState(p, lang, 'set-up: done', 'accounts-3-setup-done');
      assertClean(p, person.context);

      // ---- they log in to the console with it
      console_ = await phonePage(browser, '/console', { viewport: { width: 1280, height: 800 }, beforeGoto: (page) => page.addInitScript((l) => sessionStorage.setItem('tsunagu.lang', l), lang) });
      const c = console_.page;
      await c.waitForSelector('#login:not([hidden])');
      await c.fill('#login-username', username);
      await c.fill('#login-password', password);
      await c.click('#login-submit');
      await c.waitForSelector('#workspace:not([hidden])');
      await c.waitForSelector('#conn-status[data-state="open"]', { state: 'attached' });

      // ---- the admin deactivates them: the console is logged out at once
      await a.reload();
      const row = a.locator(`#accounts-body tr[data-account="${username}"]`);
      await row.waitFor();
      assert.notEqual((await row.textContent()).trim(), '');
      await row.locator('button.deactivate').click();
      await a.waitForSelector(`#accounts-body tr[data-account="${username}"][data-state="deactivated"]`);
      await waitText(a, `#accounts-body tr[data-account="${username}"]`, TEXT[lang].deactivated);
      await checkState(a, lang, 'admin: the account deactivated', 'accounts-4-deactivated');
      await c.waitForSelector('#login:not([hidden])', { timeout: 5_000 });
      assert.ok(await c.locator('#workspace').isHidden());
      await waitText(c, '#login-error', TEXT[lang].loggedOut);
      await checkState(c, lang, 'console: logged out by the deactivation', 'accounts-5-console-logged-out');
      // The audit log names the account.
      await a.reload();
      await adminSection(a, 'audit-log');
      await a.waitForSelector('#audit-body tr[data-action="account_deactivated"]');
      assert.ok((await a.locator('#audit-body tr[data-action="account_deactivated"]').first().textContent()).includes(name));
      assertClean(a, admin.context);
    } finally {
      await admin.context.close();
      await person?.context.close();
      await console_?.context.close();
    }
  });
}
