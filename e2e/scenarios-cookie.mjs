// Cookie mode: the refresh token is an HttpOnly cookie at Path /token, the page on another
// origin than jwtd, and requests the cookie authenticates carry a CSRF proof.
import {
  expectResponse,
  accessToken,
  check,
  delta,
  equal,
  me,
  metrics,
  openApp,
  outliveAccessToken,
  uiLogin,
} from './harness.mjs';

export const REFRESH_COOKIE = 'refresh_token';
export const CSRF_COOKIE = 'csrftoken';

async function refreshCookie(context, api) {
  const cookies = await context.cookies(`${api}/token/refresh`);
  return cookies.find((cookie) => cookie.name === REFRESH_COOKIE) ?? null;
}

/** The CSRF token the page's client keeps (in localStorage, under its scope). */
function pageCsrf(page, api) {
  return page.evaluate((base) => localStorage.getItem(`jwtd:${base}:csrf`), new URL(api).href.replace(/\/+$/, ''));
}

/** A POST of the page (or any page) to a cookie-authenticated path: status, or "blocked". */
function rawPost(page, url, { csrf, mode } = {}) {
  return page.evaluate(
    async ({ url, csrf, mode }) => {
      const headers = mode === 'no-cors' ? { 'Content-Type': 'text/plain' } : { 'Content-Type': 'application/json' };
      if (csrf) headers['X-CSRF-Token'] = csrf;
      try {
        const response = await fetch(url, { method: 'POST', credentials: 'include', mode, headers, body: mode === 'no-cors' ? '' : '{}' });
        return response.type === 'opaque' ? 'opaque' : response.status;
      } catch {
        return 'blocked';
      }
    },
    { url, csrf, mode: mode ?? 'cors' },
  );
}

/** Submits an HTML form (a "simple" cross-site request: no preflight) and gives jwtd's status. */
async function formPost(page, url) {
  const answer = expectResponse(page, (response) => response.url() === url);
  await page.evaluate((action) => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = action;
    document.body.append(form);
    form.submit();
  }, url);
  const status = (await answer).status();
  // The answer arrives before the page commits to it: wait for that, so that the next
  // navigation does not race the form's.
  await page.waitForURL(url);
  return status;
}

export function cookieSite(site) {
  return {
    ...site,
    // The cookie session exists: HttpOnly refresh cookie at Path /token, csrftoken beside it.
    async assertSession(context) {
      const cookie = await refreshCookie(context, site.api);
      check(cookie, `no ${REFRESH_COOKIE} cookie after login`);
    },
    async assertLoggedOut(context) {
      const cookie = await refreshCookie(context, site.api);
      check(!cookie, `the ${REFRESH_COOKIE} cookie is still there after logout`);
    },
  };
}

export function cookieScenarios(runner, browser, site) {
  runner.scenario('cookie: login answers the access token only, and hands the CSRF token over in X-CSRF-Token', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    const answer = expectResponse(page, (response) => response.url() === `${site.api}/token` && response.request().method() === 'POST');
    await uiLogin(page, user);
    const response = await answer;
    equal(Object.keys(await response.json()), ['access'], 'login body fields');
    const header = (await response.allHeaders())['x-csrf-token'];
    check(header, 'no X-CSRF-Token header on the login answer');
    equal(await pageCsrf(page, site.api), header, 'the CSRF token the page could read');
    const csrfCookie = (await context.cookies(`${site.api}/token/refresh`)).find((cookie) => cookie.name === CSRF_COOKIE);
    check(csrfCookie, `no ${CSRF_COOKIE} cookie`);
    equal(csrfCookie.value, header, `${CSRF_COOKIE} cookie against the header`);
    equal(csrfCookie.httpOnly, false, `${CSRF_COOKIE} is HttpOnly`);
  });

  runner.scenario('cookie: document.cookie cannot see the refresh token', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await uiLogin(page, user);
    const cookie = await refreshCookie(context, site.api);
    check(cookie, `no ${REFRESH_COOKIE} cookie`);
    equal(
      { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path },
      { httpOnly: true, sameSite: 'Strict', path: '/token' },
      'cookie attributes',
    );
    check(cookie.expires > Date.now() / 1000 + 3000, 'the cookie has no Max-Age near the token life');
    for (const where of [page, await context.newPage()]) {
      // Even a document of jwtd's own origin, under /token, cannot read it.
      if (where !== page) await where.goto(`${site.api}/token/refresh`);
      const visible = await where.evaluate(() => document.cookie);
      check(!visible.includes(cookie.value) && !visible.includes(`${REFRESH_COOKIE}=`), `document.cookie shows it: ${visible}`);
    }
  });

  runner.scenario('cookie: a reload keeps the session, without a new login', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await uiLogin(page, user);
    const before = await metrics(site.jwtd);
    await page.reload();
    await page.waitForSelector('body[data-ready="yes"]');
    await page.waitForSelector('body[data-state="in"]');
    const change = delta(before, await metrics(site.jwtd));
    equal([change.logins, change.rotated], [0, 1], 'logins and rotations on reload');
  });

  runner.scenario('cookie: a refresh without the CSRF token, or with a wrong one, is refused 403 and consumes nothing', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await uiLogin(page, user);
    const cookie = await refreshCookie(context, site.api);
    check(cookie, `no ${REFRESH_COOKIE} cookie`);
    const before = await metrics(site.jwtd);
    equal(await rawPost(page, `${site.api}/token/refresh`), 403, 'refresh without X-CSRF-Token');
    equal(await rawPost(page, `${site.api}/token/refresh`, { csrf: 'not-the-token' }), 403, 'refresh with a wrong X-CSRF-Token');
    equal(await rawPost(page, `${site.api}/token/logout`), 403, 'logout without X-CSRF-Token');
    const change = delta(before, await metrics(site.jwtd));
    equal([change.rotated, change.reuse, change.logouts], [0, 0, 0], 'rotations, reuse and logouts');
    equal((await refreshCookie(context, site.api))?.value, cookie.value, 'the refresh cookie');
    await outliveAccessToken();
    equal((await me(page)).status, 200, 'the session still refreshes');
  });

  runner.scenario('cookie: replaying an old refresh cookie revokes the family', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await uiLogin(page, user);
    const old = await refreshCookie(context, site.api);
    check(old, `no ${REFRESH_COOKIE} cookie`);
    await outliveAccessToken();
    equal((await me(page)).status, 200, 'GET /me after expiry');
    const current = await refreshCookie(context, site.api);
    check(current && current.value !== old.value, 'the refresh cookie did not rotate');
    const csrf = await pageCsrf(page, site.api);
    const before = await metrics(site.jwtd);
    await context.addCookies([old]);
    const answer = expectResponse(page, (response) => response.url() === `${site.api}/token/refresh` && response.request().method() === 'POST');
    equal(await rawPost(page, `${site.api}/token/refresh`, { csrf }), 401, 'refresh with the replayed cookie');
    equal((await (await answer).allHeaders())['x-jwtd-reason'], 'reuse_detected', 'X-Jwtd-Reason');
    equal(delta(before, await metrics(site.jwtd)).reuse, 1, 'reuse detections');
    await context.addCookies([current]);
    equal(await rawPost(page, `${site.api}/token/refresh`, { csrf }), 401, 'refresh with the newest cookie of the family');
  });

  runner.scenario('cookie: a page on a foreign origin can neither refresh nor log out', async (contexts) => {
    const user = site.newUser();
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, site);
    await uiLogin(page, user);
    check(await refreshCookie(context, site.api), `no ${REFRESH_COOKIE} cookie`);
    // The worst case: the foreign page even knows the CSRF token.
    const csrf = await pageCsrf(page, site.api);
    const foreign = await context.newPage();
    const foreignUrl = `${site.foreign}/elsewhere`;
    await foreign.goto(foreignUrl);
    const before = await metrics(site.jwtd);
    for (const path of ['/token/refresh', '/token/logout', '/token/logout/all']) {
      const url = `${site.api}${path}`;
      for (const attempt of [{}, { csrf }]) {
        const status = await rawPost(foreign, url, attempt);
        check(status === 'blocked' || status === 403, `${path} from the foreign page${attempt.csrf ? ' with the CSRF token' : ''}: ${status}`);
      }
      await rawPost(foreign, url, { mode: 'no-cors' });
      await rawPost(foreign, url, { mode: 'no-cors', csrf });
      equal(await formPost(foreign, url), 403, `a form POST to ${path} from the foreign page`);
      await foreign.goto(foreignUrl);
    }
    const change = delta(before, await metrics(site.jwtd));
    equal([change.rotated, change.logouts, change.reuse], [0, 0, 0], 'rotations, logouts and reuse caused by the foreign page');
    await outliveAccessToken();
    equal((await me(page)).status, 200, 'the session still refreshes');
    check(await accessToken(page), 'the page lost its session');
  });

  runner.scenario('cookie: CORS allows credentials and X-CSRF-Token for the page origin only', async () => {
    const preflight = (origin, path, method, headers) =>
      fetch(`${site.api}${path}`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': headers },
      });
    for (const [path, method, headers] of [
      ['/token/refresh', 'POST', 'content-type,x-csrf-token'],
      ['/token/logout', 'POST', 'content-type,x-csrf-token'],
      ['/sessions/1', 'DELETE', 'authorization'],
      ['/me', 'GET', 'authorization'],
    ]) {
      const allowed = await preflight(site.pageOrigin, path, method, headers);
      check(allowed.status < 300, `preflight ${path}: ${allowed.status}`);
      equal(allowed.headers.get('access-control-allow-origin'), site.pageOrigin, `${path} Access-Control-Allow-Origin`);
      equal(allowed.headers.get('access-control-allow-credentials'), 'true', `${path} Access-Control-Allow-Credentials`);
      const allowHeaders = (allowed.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const header of headers.split(',')) check(allowHeaders.includes(header), `${path} does not allow ${header}: ${allowHeaders}`);
      const allowMethods = (allowed.headers.get('access-control-allow-methods') ?? '').toUpperCase();
      check(allowMethods.includes(method), `${path} does not allow ${method}: ${allowMethods}`);
      const refused = await preflight(site.foreign, path, method, headers);
      equal(refused.headers.get('access-control-allow-origin'), null, `${path} Access-Control-Allow-Origin for a foreign origin`);
    }
    const login = await fetch(`${site.api}/token`, {
      method: 'POST',
      headers: { Origin: site.pageOrigin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'nobody', password: 'x' }),
    });
    const expose = (login.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    check(expose.includes('x-csrf-token'), `X-CSRF-Token is not exposed: ${expose}`);
  });
}
