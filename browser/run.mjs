// Browser checks: start a real Gatehouse (the binary cargo built) on a free port with a fresh
// SQLite database and a file outbox, drive Debian's Chromium headless with playwright-core, and
// assert what the pages show. Screenshots go to target/browser/.
//
//   node browser/run.mjs            (GATEHOUSE_BIN defaults to target/debug/gatehouse)

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
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

/// Fails the check on any page error, console error, or request that leaves this origin.
function watch(page, base, problems) {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`);
  });
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:')) problems.push(`request left the origin: ${url}`);
  });
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
