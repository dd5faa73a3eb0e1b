// Scenarios that hold in both modes: cookie mode (page and jwtd on two origins) and body mode.
import {
  expectResponse,
  PASSWORD,
  accessToken,
  check,
  contextWithoutWebLocks,
  delta,
  equal,
  me,
  metrics,
  openApp,
  outliveAccessToken,
  sleep,
  uiLogin,
} from './harness.mjs';

const shots = new Set();

/** Saves a screenshot of the page into `SCREENSHOTS` (once per name and run). */
export async function screenshot(page, name) {
  const dir = process.env.SCREENSHOTS;
  if (!dir || shots.has(name)) return;
  shots.add(name);
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

/** Two tabs of one browser, logged in once, refresh at the same moment: one rotation. */
async function twoTabsRefreshTogether(site, context, user, staggers) {
  const one = await openApp(context, site);
  await uiLogin(one, user);
  const afterLogin = await metrics(site.jwtd);
  const two = await openApp(context, site);
  await two.waitForSelector('body[data-state="in"]');
  equal(delta(afterLogin, await metrics(site.jwtd)).rotated, 0, 'rotations when the second tab opened');
  // At once, then the second tab a moment later (within an election window where Web Locks
  // are missing, the case where both tabs could believe they won).
  for (const lag of staggers) {
    await outliveAccessToken();
    const before = await metrics(site.jwtd);
    const [first, second] = await Promise.all([me(one), sleep(lag).then(() => me(two))]);
    equal([first.status, second.status], [200, 200], `both tabs after the access token expired (lag ${lag} ms)`);
    const change = delta(before, await metrics(site.jwtd));
    equal(
      { rotated: change.rotated, replayed: change.replayed, reuse: change.reuse, refused: change.refused },
      { rotated: 1, replayed: 0, reuse: 0, refused: 0 },
      `refreshes of both tabs (lag ${lag} ms)`,
    );
    equal(await accessToken(one), await accessToken(two), 'both tabs hold the same access token');
  }
  const sessions = await one.evaluate(() => window.jwtdClient.sessions());
  equal(sessions.length, 1, 'sessions');
}

export function commonScenarios(runner, browser, site) {
  const mode = site.mode;

  runner.scenario(`${mode}: login through the form shows who I am`, async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await screenshot(page, 'spa-login');
    await uiLogin(page, user);
    const answer = await me(page);
    equal(answer.status, 200, 'GET /me');
    equal(JSON.parse(answer.body).username, user, 'username');
    await site.assertSession?.(context, page);
  });

  runner.scenario(`${mode}: the access token expires and the next call refreshes silently`, async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await uiLogin(page, user);
    await site.assertSession?.(context, page);
    const first = await accessToken(page);
    await outliveAccessToken();
    const before = await metrics(site.jwtd);
    const answer = await me(page);
    equal(answer.status, 200, 'GET /me after expiry');
    const second = await accessToken(page);
    check(second && second !== first, 'the access token was not renewed');
    const change = delta(before, await metrics(site.jwtd));
    equal([change.rotated, change.refused], [1, 0], 'rotations and refusals');
  });

  runner.scenario(`${mode}: a 401 on a token the page thinks fresh refreshes once and retries`, async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    const first = await page.evaluate(
      async ({ api, cookieMode, password, user }) => {
        const { createClient } = await import('/clients/js/jwtd.js');
        let frozen = null;
        const client = createClient({
          baseUrl: api,
          cookieMode,
          name: 'frozen-clock',
          now: () => frozen ?? Date.now(),
        });
        window.frozenClient = client;
        await client.login(user, password);
        // From now on the client's clock stands still: its token never looks due.
        frozen = Date.now();
        return client.accessToken();
      },
      { api: site.api, cookieMode: mode === 'cookie', password: PASSWORD, user },
    );
    await site.assertSession?.(context, page);
    await outliveAccessToken();
    const before = await metrics(site.jwtd);
    const after = await page.evaluate(async () => {
      const response = await window.frozenClient.fetch('/me');
      return { status: response.status, token: await window.frozenClient.accessToken() };
    });
    equal(after.status, 200, 'GET /me after the 401');
    check(after.token !== first, 'the access token was not renewed');
    const change = delta(before, await metrics(site.jwtd));
    equal([change.rotated, change.refused], [1, 0], 'rotations and refusals');
  });

  runner.scenario(`${mode}: two tabs refresh at the same moment with one rotation (Web Locks)`, async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const probe = await context.newPage();
    await probe.goto(site.appUrl);
    equal(await probe.evaluate(() => typeof navigator.locks?.request), 'function', 'navigator.locks.request');
    await probe.close();
    await twoTabsRefreshTogether(site, context, user, [0, 20]);
  });

  runner.scenario(`${mode}: two tabs refresh at the same moment with one rotation (BroadcastChannel, no Web Locks)`, async (contexts) => {
    const user = site.newUser();
    const context = await contextWithoutWebLocks(browser);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(site.appUrl);
    equal(await page.evaluate(() => navigator.locks === undefined), true, 'Web Locks hidden');
    await page.close();
    await twoTabsRefreshTogether(site, context, user, [0, 30, 80]);
  });

  runner.scenario(`${mode}: logout makes the next call fail`, async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await uiLogin(page, user);
    await site.assertSession?.(context, page);
    const old = await accessToken(page);
    const before = await metrics(site.jwtd);
    await page.click('#logout');
    await page.waitForSelector('body[data-state="out"]');
    equal(delta(before, await metrics(site.jwtd)).logouts, 1, 'logouts');
    equal((await me(page)).status, 401, 'GET /me through the client after logout');
    equal(await accessToken(page), null, 'access token after logout');
    const direct = await fetch(`${site.jwtd}/me`, { headers: { Authorization: `Bearer ${old}` } });
    equal(direct.status, 401, 'GET /me with the access token of the logged-out session');
    await site.assertLoggedOut?.(context, page);
  });

  runner.scenario(`${mode}: logout everywhere ends the sessions of other browsers`, async (contexts) => {
    const user = site.newUser();
    const [mine, theirs] = [await browser.newContext(), await browser.newContext()];
    contexts.push(mine, theirs);
    const page = await openApp(mine, site);
    await uiLogin(page, user);
    const other = await openApp(theirs, site);
    await uiLogin(other, user);
    equal((await page.evaluate(() => window.jwtdClient.sessions())).length, 2, 'sessions before');
    await page.click('#logout-all');
    await page.waitForSelector('body[data-state="out"]');
    equal((await me(other)).status, 401, 'GET /me in the other browser');
    await other.waitForSelector('body[data-state="out"]');
    await site.assertLoggedOut?.(mine, page);
  });

  runner.scenario(`${mode}: "end this session" in the list ends another browser's session`, async (contexts) => {
    const user = site.newUser();
    const [mine, theirs] = [await browser.newContext(), await browser.newContext()];
    contexts.push(mine, theirs);
    const page = await openApp(mine, site);
    await uiLogin(page, user);
    const other = await openApp(theirs, site);
    await uiLogin(other, user);
    await page.click('#refresh-view');
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 2);
    await screenshot(page, 'spa-sessions');
    await page.click('#sessions tbody tr:not(.current) button.end-session');
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1);
    equal((await me(other)).status, 401, 'GET /me in the browser whose session ended');
    equal((await me(page)).status, 200, 'GET /me in the browser that ended it');
  });
}
