// Body mode: the tokens travel in JSON bodies and live in the page's memory only. Today's jwtd
// has no CORS, so the page reaches it through its own origin (the static server's /api proxy).
import {
  expectResponse,
  PASSWORD,
  accessToken,
  check,
  delta,
  equal,
  metrics,
  openApp,
  outliveAccessToken,
  uiLogin,
} from './harness.mjs';

const SIMPLEJWT = ['/token/', '/token/refresh/', '/token/verify/', '/token/blacklist/'];

export function bodyScenarios(runner, browser, site) {
  runner.scenario('body: the tokens live in memory only (no storage, no cookie)', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    const answer = expectResponse(page, (response) => response.url() === `${site.api}/token` && response.request().method() === 'POST');
    await uiLogin(page, user);
    const { access, refresh } = await (await answer).json();
    check(access && refresh, 'login answered no pair');
    const stored = await page.evaluate(async () => {
      const all = [document.cookie];
      for (const storage of [localStorage, sessionStorage]) {
        for (let i = 0; i < storage.length; i += 1) all.push(storage.key(i), storage.getItem(storage.key(i)));
      }
      all.push(JSON.stringify(await indexedDB.databases()));
      return all.join('\n');
    });
    check(!stored.includes(refresh) && !stored.includes(access), 'a token was found in storage or cookies');
    equal((await context.cookies()).length, 0, 'cookies');
  });

  runner.scenario('body: a new tab takes the session from an open tab, without a rotation', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const one = await openApp(context, site);
    await uiLogin(one, user);
    const before = await metrics(site.jwtd);
    const two = await openApp(context, site);
    await two.waitForSelector('body[data-state="in"]');
    equal(await accessToken(two), await accessToken(one), 'the access token of both tabs');
    const change = delta(before, await metrics(site.jwtd));
    equal([change.logins, change.rotated], [0, 0], 'logins and rotations');
  });

  simplejwtScenarios(runner, browser, site, 'body (jwtd, simplejwt paths)');
}

/** Scenarios of SIMPLEJWT_PATHS, against jwtd's simplejwt paths or a real simplejwt server. */
export function simplejwtScenarios(runner, browser, site, label) {
  const appUrl = `${site.appUrl}&paths=simplejwt`;

  runner.scenario(`${label}: login, refresh and logout through simplejwt's four views only`, async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const paths = [];
    context.on('request', (request) => {
      if (request.url().startsWith(`${site.api}/`)) paths.push(`${request.method()} ${request.url().slice(site.api.length)}`);
    });
    const page = await openApp(context, { ...site, appUrl });
    const answer = expectResponse(page, (response) => response.url() === `${site.api}/token/`);
    await page.fill('#username', user);
    await page.fill('#password', PASSWORD);
    await page.click('#login');
    await page.waitForSelector('body[data-state="in"]');
    const { refresh } = await (await answer).json();
    const first = await accessToken(page);
    await outliveAccessToken();
    const second = await accessToken(page);
    check(second && second !== first, 'the access token was not renewed');
    await page.click('#logout');
    await page.waitForSelector('body[data-state="out"]');
    const unknown = paths.filter((line) => !SIMPLEJWT.includes(line.split(' ')[1]));
    equal(unknown, [], 'requests outside simplejwt\'s views');
    check(paths.includes('POST /token/blacklist/'), `no logout request: ${paths.join(', ')}`);
    // The login's refresh token was rotated, then its successor blacklisted: both refused.
    const refused = await fetch(`${site.jwtd}/token/refresh/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh }),
    });
    equal(refused.status, 401, 'refresh with the first refresh token after logout');
  });

  runner.scenario(`${label}: two tabs refresh at the same moment and share one refresh`, async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const one = await openApp(context, { ...site, appUrl });
    await one.fill('#username', user);
    await one.fill('#password', PASSWORD);
    await one.click('#login');
    await one.waitForSelector('body[data-state="in"]');
    const two = await openApp(context, { ...site, appUrl });
    await two.waitForSelector('body[data-state="in"]');
    const first = await accessToken(one);
    equal(await accessToken(two), first, 'the second tab took the first tab\'s token');
    await outliveAccessToken();
    const [a, b] = await Promise.all([accessToken(one), accessToken(two)]);
    check(a && a !== first, 'the access token was not renewed');
    equal(b, a, 'both tabs hold the one refreshed access token');
  });
}
