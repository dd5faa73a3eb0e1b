// What every browser scenario needs: the processes it starts (jwtd, static servers), stopped
// whatever happens; jwtd's metrics; pages of the example; and a runner that prints PASS/FAIL
// per scenario.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const PASSWORD = 'correct horse battery staple';
export const ACCESS_LIFETIME_S = 5;

const children = new Set();
const dirs = new Set();

/** Stops every process started here and removes every temporary directory. */
export async function stopAll() {
  const exits = [...children].map(
    (child) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  await Promise.all(exits);
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => stopAll().finally(() => process.exit(130)));
}

/** Starts a process that prints "listening on URL" and resolves to that URL. */
export function startListening(command, args, env = process.env) {
  const child = spawn(command, args, {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start`)), 20_000);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^listening on (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
}

/** A static server of the example (optionally proxying `/api` to `proxyTarget`). */
export function startStatic(repo, proxyTarget) {
  const args = [join(repo, 'scripts/spa-static.mjs'), '--port', '0'];
  if (proxyTarget) args.push('--proxy', `/api=${proxyTarget}`);
  return startListening(process.execPath, args);
}

let users = 0;

/** A fresh jwtd on its own temporary SQLite database; `newUser()` creates a user of it. */
export async function startJwtd(binary, settings) {
  const dir = mkdtempSync(join(tmpdir(), 'jwtd-e2e-'));
  dirs.add(dir);
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('JWTD_')));
  const env = {
    ...inherited,
    JWTD_DATABASE_URL: `sqlite://${join(dir, 'jwtd.db')}`,
    JWTD_LOG: 'warn',
    JWTD_ACCESS_TOKEN_LIFETIME: String(ACCESS_LIFETIME_S),
    JWTD_REFRESH_TOKEN_LIFETIME: '3600',
    // Strict: any second use of a rotated token, even within a second, revokes the family,
    // so that a race between tabs cannot hide behind the grace window.
    JWTD_ROTATION_GRACE_SECONDS: '0',
    JWTD_REVOKE_ACCESS_ON_LOGOUT: 'true',
    // Every scenario's browser comes from loopback: one address, more logins a minute than
    // a person would make. The limits themselves are tested in tests/api/abuse.rs.
    JWTD_LOGIN_ADDRESS_MAX_ATTEMPTS: '600',
    JWTD_REFRESH_RATE_PER_MINUTE: '6000',
    ...settings,
  };
  execFileSync(binary, ['migrate'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = await startListening(binary, ['serve', '--bind', '127.0.0.1:0'], env);
  // Each scenario logs in as a user of its own, so that session lists are its own too.
  const newUser = () => {
    users += 1;
    const name = `user${users}`;
    execFileSync(binary, ['user', 'create', name, '--password-stdin'], {
      env,
      input: `${PASSWORD}\n`,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    return name;
  };
  return { url, dir, newUser };
}

/**
 * A real djangorestframework-simplejwt server (e2e/simplejwt/server.py in e2e/.venv) with
 * users user1..user40, or null when e2e/.venv is missing.
 */
export async function startSimplejwt(python, script) {
  if (!existsSync(python)) return null;
  const dir = mkdtempSync(join(tmpdir(), 'simplejwt-e2e-'));
  dirs.add(dir);
  const url = await startListening(python, [script, join(dir, 'db.sqlite3'), PASSWORD, '40']);
  let next = 0;
  const newUser = () => {
    next += 1;
    return `user${next}`;
  };
  return { url, newUser };
}

/** jwtd's counters, by their full sample name. */
export async function metrics(api) {
  const text = await (await fetch(`${api}/metrics`)).text();
  const samples = {};
  for (const line of text.split('\n')) {
    const match = /^(jwtd_[^\s]+) (\d+)$/.exec(line);
    if (match) samples[match[1]] = Number(match[2]);
  }
  return {
    rotated: samples['jwtd_refreshes_total{outcome="rotated"}'] ?? 0,
    replayed: samples['jwtd_refreshes_total{outcome="replayed"}'] ?? 0,
    refused: samples['jwtd_refreshes_total{outcome="refused"}'] ?? 0,
    reuse: samples.jwtd_reuse_detected_total ?? 0,
    logouts: samples.jwtd_logouts_total ?? 0,
    logins: samples['jwtd_logins_total{outcome="succeeded"}'] ?? 0,
  };
}

/** The change of each counter from `before` to `after`. */
export function delta(before, after) {
  return Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - before[key]]));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until every access token minted so far has expired. */
export const outliveAccessToken = () => sleep(ACCESS_LIFETIME_S * 1000 + 400);

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export function equal(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** Opens the example page and waits until it has decided whether it is logged in. */
export async function openApp(context, site) {
  const page = await context.newPage();
  await page.goto(site.appUrl);
  await page.waitForSelector('body[data-ready="yes"]');
  return page;
}

/**
 * A response the page is about to get; its rejection (when a scenario fails before) is
 * handled, so that it cannot end the run.
 */
export function expectResponse(page, predicate) {
  const response = page.waitForResponse(predicate);
  response.catch(() => {});
  return response;
}

/** Logs in through the page's form; fails at once with the page's message if login fails. */
export async function uiLogin(page, user) {
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await page.evaluate(() => {
    document.querySelector('#status').textContent = '';
  });
  await page.click('#login');
  await page.waitForFunction(() => document.querySelector('#status').textContent !== '');
  const message = await page.textContent('#status');
  if (message !== 'logged in') throw new Error(`login failed in the page: ${message}`);
  await page.waitForFunction((name) => document.querySelector('#whoami').textContent.startsWith(name), user);
}

/** `GET /me` through the page's client: the status and the body. */
export function me(page) {
  return page.evaluate(async () => {
    const response = await window.jwtdClient.fetch('/me');
    return { status: response.status, body: await response.text() };
  });
}

/** The page client's current access token (refreshing it if it is due). */
export function accessToken(page) {
  return page.evaluate(() => window.jwtdClient.accessToken());
}

/** A browser context whose pages have no Web Locks, as in a browser that lacks them. */
export async function contextWithoutWebLocks(browser) {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
  });
  return context;
}

/** Runs scenarios one by one, each in its own browser contexts, and prints PASS or FAIL. */
export class Runner {
  constructor(filter) {
    this.filter = filter;
    this.results = [];
    this.pending = [];
  }

  /** Registers a scenario; `run` runs the registered ones in order. */
  scenario(name, body) {
    if (!this.filter || name.includes(this.filter)) this.pending.push([name, body]);
  }

  async run() {
    const pending = this.pending.splice(0);
    for (const [name, body] of pending) await this.runOne(name, body);
  }

  async runOne(name, body) {
    const contexts = [];
    const started = Date.now();
    try {
      await body(contexts);
      this.results.push({ name, ok: true });
      console.log(`PASS  ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      this.results.push({ name, ok: false, error });
      console.log(`FAIL  ${name}: ${error.message.split('\n')[0]}`);
    } finally {
      for (const context of contexts) await context.close().catch(() => {});
    }
  }

  summary() {
    const failed = this.results.filter((result) => !result.ok);
    console.log(`\n${this.results.length - failed.length} passed, ${failed.length} failed`);
    for (const { name } of failed) console.log(`  FAIL ${name}`);
    return failed.length;
  }
}
