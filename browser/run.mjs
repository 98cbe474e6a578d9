// Browser checks: start a real Gatehouse (the binary cargo built) on a free port with a fresh
// SQLite database and a file outbox, drive Debian's Chromium headless with playwright-core, and
// assert what the pages show. Screenshots go to target/browser/.
//
//   node browser/run.mjs            (GATEHOUSE_BIN defaults to target/debug/gatehouse)

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = process.env.GATEHOUSE_BIN || join(root, 'target/debug/gatehouse');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = join(root, 'target/browser');
mkdirSync(shots, { recursive: true });

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });
}

async function startGatehouse() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'));
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      GATEHOUSE_ADDR: `127.0.0.1:${port}`,
      GATEHOUSE_BASE_URL: base,
      DATABASE_URL: `sqlite://${join(dir, 'gatehouse.db')}?mode=rwc`,
      GATEHOUSE_MAIL_URL: `file://${join(dir, 'outbox')}`,
      GATEHOUSE_RATE_LIMIT: 'off',
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) return { base, dir, child };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('gatehouse did not become ready');
}

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/// Fails the check on any page error, console error, or request that leaves this origin; and on
/// any error answer, unless the check provokes 4xx answers on purpose (`clientErrorsExpected`),
/// when only 5xx count.
function watch(page, base, problems, clientErrorsExpected = false) {
  const floor = clientErrorsExpected ? 500 : 400;
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const refused = /status of 4\d\d/.test(m.text());
    if (m.type() === 'error' && !(clientErrorsExpected && refused)) problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= floor) problems.push(`${r.status()} for ${r.url()}`);
  });
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:')) problems.push(`request left the origin: ${url}`);
  });
}

const PASSWORD = 'a-long-secure-passphrase';

/// Waits for an email to `to` whose text contains `marker`; returns the link that starts there.
async function emailLink(dir, to, marker, skip = new Set()) {
  const outbox = join(dir, 'outbox');
  for (let i = 0; i < 100; i++) {
    let files = [];
    try {
      files = readdirSync(outbox).filter((f) => f.endsWith('.eml')).sort();
    } catch {}
    for (const f of files) {
      const text = readFileSync(join(outbox, f), 'utf8');
      if (!text.includes(`To: ${to}`) || !text.includes(marker)) continue;
      const link = text.split(/\s+/).find((w) => w.includes(marker));
      if (link && !skip.has(link)) return link;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no email to ${to} with ${marker}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function text(page, selector) {
  return (await page.locator(selector).innerText()).trim();
}

const checks = {
  // GRAPHQL.md: the explorer loads from Gatehouse alone and runs { me { email } } with a session.
  async graphiql({ browser, base }) {
    const email = 'browser-graphiql@example.com';
    const password = 'a-long-secure-passphrase';
    const up = await fetch(`${base}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password, name: 'Browser Check' }),
    });
    assert(up.status === 201, `sign-up answered ${up.status}`);
    const context = await browser.newContext();
    const signIn = await context.request.post(`${base}/api/auth/sign-in/email`, { data: { email, password } });
    assert(signIn.status() === 200, `sign-in answered ${signIn.status()}`);
    const page = await context.newPage();
    const problems = [];
    watch(page, base, problems);
    await page.goto(`${base}/graphql?query=${encodeURIComponent('{ me { email } }')}`);
    await page.waitForSelector('.graphiql-execute-button', { timeout: 20000 });
    await page.click('.graphiql-execute-button');
    await page.waitForFunction((e) => document.body.innerText.includes(`"email": "${e}"`), email, { timeout: 20000 });
    await page.screenshot({ path: join(shots, 'graphiql.png'), fullPage: true });
    assert(problems.length === 0, problems.join('\n'));
    await context.close();
  },

  // PAGES.md: a person goes from sign-up to every credential and every emailed link.
  async pages({ browser, base, dir }) {
    const problems = [];
    const alice = await browser.newContext();
    const page = await alice.newPage();
    watch(page, base, problems, true);
    const email = 'alice-pages@example.com';

    // Sign up; the page sends us to sign in with a notice.
    await page.goto(`${base}/sign-up`);
    await shot(page, 'sign-up');
    await page.fill('input[name=name]', 'Alice Pages');
    await page.fill('input[name=email]', 'not-an-email');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-error-for=email]:not(:empty)');
    assert((await text(page, '[data-error-for=email]')) === 'Invalid email', 'the API error is shown next to the field');
    await page.fill('input[name=email]', email);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/sign-in\?notice=check-email/);
    assert((await text(page, '#notice')).includes('Check your email'), 'check-your-email notice');
    await shot(page, 'sign-in');

    // The verification link from the .eml, opened in the browser: 303 to the page.
    const verify = await emailLink(dir, email, '/api/auth/verify-email?token=');
    await page.goto(verify);
    await page.waitForURL(/\/verify-email\?status=verified/);
    assert((await text(page, '#verify-result')) === 'Your email address is verified.', 'verified');
    await shot(page, 'verify-email');

    // A page that needs a session sends us to sign in, and back afterwards.
    await page.goto(`${base}/account/api-keys`);
    await page.waitForURL(/\/sign-in\?next=%2Faccount%2Fapi-keys/);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'wrong-password');
    await page.click('button[type=submit]');
    await page.waitForSelector('.form-error:not(:empty)');
    assert((await text(page, '.form-error')) === 'Invalid email or password', 'wrong password shown in words');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/account\/api-keys$/);

    // Create a key; it is shown once; it works from outside the browser.
    await page.fill('input[name=name]', 'laptop script');
    await page.check('input[name=scopes][value="user:read"]');
    await page.check('input[name=scopes][value="projects:read"]');
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#new-key:not([hidden])');
    const key = await text(page, '#new-key-value');
    assert(key.startsWith('ba_'), `the key is shown: ${key}`);
    await page.waitForSelector('#keys tr');
    assert((await text(page, '#keys')).includes('laptop script'), 'listed');
    assert(!(await text(page, '#keys')).includes(key), 'the list never shows the full key');
    await shot(page, 'api-keys');
    const me = await fetch(`${base}/api/user/me`, { headers: { 'X-Api-Key': key } });
    assert(me.status === 200 && (await me.json()).data.email === email, 'the new key works over HTTP');
    await page.click('#keys tr >> text=Disable');
    await page.waitForSelector('#keys >> text=disabled');
    assert((await fetch(`${base}/api/user/me`, { headers: { 'X-Api-Key': key } })).status === 401, 'a disabled key stops working');

    // Account page: profile, verification state.
    await page.goto(`${base}/account`);
    assert((await text(page, '#verified')) === 'verified', 'verified state shown');
    await page.fill('input[name=fullName]', 'Alice P.');
    await page.click('#profile-form button[type=submit]');
    await page.waitForSelector('#notice:not([hidden])');
    await shot(page, 'account');

    // Another session (another device), revoked from the sessions page.
    const phone = await browser.newContext({ userAgent: 'PhoneBrowser/1.0' });
    const signIn = await phone.request.post(`${base}/api/auth/sign-in/email`, { data: { email, password: PASSWORD } });
    assert(signIn.status() === 200, 'second session');
    assert((await phone.request.get(`${base}/api/user/me`)).status() === 200, 'second session works');
    await page.goto(`${base}/account/sessions`);
    await page.waitForSelector('#sessions tr >> text=PhoneBrowser/1.0');
    assert((await page.locator('#sessions tr').count()) === 2, 'two sessions listed');
    await shot(page, 'sessions');
    await page.click('#sessions tr:has-text("PhoneBrowser/1.0") >> text=Revoke');
    await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1);
    assert((await phone.request.get(`${base}/api/user/me`)).status() === 401, 'the revoked session is dead');
    await phone.close();

    // Organizations: invite Bob from the organization page.
    await page.goto(`${base}/account/organizations`);
    await page.waitForSelector('#orgs tr a');
    await shot(page, 'organizations');
    await page.click('#orgs tr a');
    await page.waitForURL(/\/orgs\//);
    const orgUrl = page.url();
    await page.waitForSelector('#invites-section:not([hidden])');
    await page.fill('#project-form input[name=name]', 'Status page');
    await page.fill('#project-form input[name=website]', 'ftp://nope');
    await page.click('#project-form button[type=submit]');
    await page.waitForSelector('#project-form [data-error-for=website]:not(:empty)');
    assert((await text(page, '#project-form [data-error-for=website]')) === 'Invalid url', 'project error in words');
    await page.fill('#project-form input[name=website]', 'https://status.example.com');
    await page.click('#project-form button[type=submit]');
    await page.waitForSelector('#projects tr');
    await page.fill('#invite-form input[name=emails]', 'bob-pages@example.com');
    await page.click('#invite-form button[type=submit]');
    await page.waitForSelector('#invites tr >> text=bob-pages@example.com');
    await shot(page, 'org-owner');

    // Bob follows the emailed link, signs up, signs in, accepts.
    const bob = await browser.newContext();
    const bobPage = await bob.newPage();
    watch(bobPage, base, problems, true);
    const inviteLink = await emailLink(dir, 'bob-pages@example.com', '/invites/');
    await bobPage.goto(inviteLink);
    await shot(bobPage, 'invite-signed-out');
    await bobPage.click('a:has-text("Create an account")');
    await bobPage.waitForURL(/\/sign-up\?next=/);
    await bobPage.fill('input[name=name]', 'Bob Pages');
    await bobPage.fill('input[name=email]', 'bob-pages@example.com');
    await bobPage.fill('input[name=password]', PASSWORD);
    await bobPage.click('button[type=submit]');
    await bobPage.waitForURL(/\/sign-in\?notice=check-email&next=/);
    await bobPage.fill('input[name=email]', 'bob-pages@example.com');
    await bobPage.fill('input[name=password]', PASSWORD);
    await bobPage.click('button[type=submit]');
    await bobPage.waitForURL(/\/invites\//);
    await bobPage.waitForSelector('#accept:not([hidden])');
    assert((await text(bobPage, '#offer')).includes('as member'), 'the offer is shown');
    await shot(bobPage, 'invite');
    await bobPage.click('#accept');
    await bobPage.waitForURL(orgUrl);
    await bobPage.waitForSelector('#members tr >> text=bob-pages@example.com');
    assert((await text(bobPage, '#org-summary')).startsWith('You are member'), 'Bob is a member');
    assert(await bobPage.locator('#invites-section').isHidden(), 'a member sees no invitation controls');
    assert((await bobPage.locator('#members select').count()) === 0, 'a member sees no role controls');
    await shot(bobPage, 'org-member');
    await bob.close();

    // Password reset through the emailed link, then sign in with the new password.
    const reset = await browser.newContext();
    const resetPage = await reset.newPage();
    watch(resetPage, base, problems, true);
    await resetPage.goto(`${base}/forgot-password`);
    await resetPage.fill('input[name=email]', email);
    await resetPage.click('button[type=submit]');
    await resetPage.waitForSelector('#notice:not([hidden])');
    await shot(resetPage, 'forgot-password');
    const resetLink = await emailLink(dir, email, '/reset-password?token=');
    await resetPage.goto(resetLink);
    await resetPage.fill('input[name=newPassword]', 'a-brand-new-passphrase');
    await resetPage.fill('input[name=confirm]', 'something-else-entirely');
    await resetPage.click('button[type=submit]');
    await resetPage.waitForSelector('[data-error-for=confirm]:not(:empty)');
    await resetPage.fill('input[name=confirm]', 'a-brand-new-passphrase');
    await shot(resetPage, 'reset-password');
    await resetPage.click('button[type=submit]');
    await resetPage.waitForURL(/\/sign-in\?notice=password-reset/);
    assert((await text(resetPage, '#notice')).includes('password has been changed'), 'reset notice');
    // ?next= is honoured for same-origin paths only: another host falls back to the account.
    await resetPage.goto(`${base}/sign-in?next=${encodeURIComponent('//evil.example/steal')}`);
    await resetPage.fill('input[name=email]', email);
    await resetPage.fill('input[name=password]', 'a-brand-new-passphrase');
    await resetPage.click('button[type=submit]');
    await resetPage.waitForURL(/\/account$/);
    // The reset signed out every earlier session, Alice's first browser included.
    assert((await alice.request.get(`${base}/api/user/me`)).status() === 401, 'old sessions revoked by the reset');
    await reset.close();
    await alice.close();
    assert(problems.length === 0, problems.join('\n'));
  },
};

async function main() {
  const only = process.argv.slice(2);
  const gh = await startGatehouse();
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  let failed = 0;
  try {
    for (const [name, check] of Object.entries(checks)) {
      if (only.length && !only.includes(name)) continue;
      const started = Date.now();
      try {
        await check({ browser, base: gh.base, dir: gh.dir });
        console.log(`ok   ${name} (${Date.now() - started} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${e.stack || e}`);
      }
    }
  } finally {
    await browser.close();
    gh.child.kill('SIGTERM');
    await new Promise((r) => (gh.child.exitCode !== null ? r() : gh.child.once('exit', r)));
    rmSync(gh.dir, { recursive: true, force: true }); // database and outbox; screenshots stay in target/browser
  }
  if (failed) {
    console.log(`${failed} browser check(s) failed`);
    process.exit(1);
  }
  console.log('browser checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
