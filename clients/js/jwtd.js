// jwtd's browser client: login, silent refresh, logout and sessions for a single-page app.
// A dependency-free ES module. Tokens live in this module's memory only: the access token
// always, the refresh token in body mode; in cookie mode the refresh token is an HttpOnly
// cookie this code never sees. Refreshes are single-flight within a page and across tabs.

/** jwtd's paths in body mode. */
export const JWTD_PATHS = Object.freeze({
  token: '/token',
  refresh: '/token/refresh',
  logout: '/logout',
  logoutAll: '/logout/all',
  sessions: '/sessions',
});

/** jwtd's paths in cookie mode: the refresh cookie's Path is /token, so logout lives under it. */
export const JWTD_COOKIE_PATHS = Object.freeze({
  ...JWTD_PATHS,
  logout: '/token/logout',
  logoutAll: '/token/logout/all',
});

/** djangorestframework-simplejwt's four views, as its documentation mounts them. */
export const SIMPLEJWT_PATHS = Object.freeze({
  token: '/token/',
  refresh: '/token/refresh/',
  logout: '/token/blacklist/',
  logoutAll: null,
  sessions: null,
});

/** The response header that hands the CSRF token to the page in cookie mode. */
export const CSRF_HEADER = 'X-CSRF-Token';

/** An answer of jwtd (or simplejwt) that was not a success. */
export class JwtdError extends Error {
  constructor(message, status, body, reason) {
    super(message);
    this.name = 'JwtdError';
    this.status = status;
    this.body = body;
    this.reason = reason;
  }
}

const DEFAULT_REFRESH_AHEAD_MS = 30_000;
// How long a tab that waited on another tab's refresh waits for its broadcast before
// refreshing itself: the broadcast is posted before the lock is released, so it normally
// arrives before the lock is granted.
const WAIT_FOR_PEER_MS = 2_000;
// How long a new tab listens for a peer's tokens before refreshing on its own.
const HELLO_MS = 300;
// The election window of the BroadcastChannel fallback, where Web Locks are missing.
const ELECTION_MS = 60;

/**
 * Creates a client of one jwtd (or simplejwt) server.
 * @param {import('./jwtd').ClientOptions} options
 * @returns {import('./jwtd').JwtdClient}
 */
export function createClient(options) {
  const baseUrl = String(options.baseUrl ?? '').replace(/\/+$/, '');
  const cookieMode = Boolean(options.cookieMode);
  const paths = { ...(cookieMode ? JWTD_COOKIE_PATHS : JWTD_PATHS), ...options.paths };
  const send = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? (() => Date.now());
  const refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
  const origin = new URL(baseUrl || '/', globalThis.location?.href ?? 'http://localhost/').origin;
  const tokenOrigins = new Set([origin, ...(options.tokenOrigins ?? [])]);
  const scope = options.name ?? `jwtd:${baseUrl}`;
  const csrfKey = `${scope}:csrf`;
  const tabId = randomId();
  const locks = options.locks === undefined ? globalThis.navigator?.locks : options.locks;

  /** @type {{token: string, expiresAt: number, lifetimeMs: number} | null} */
  let access = null;
  /** @type {string | null} */
  let refreshToken = null;
  let csrf = cookieMode ? readCsrf() : null;
  // Bumped on every change of the tokens, from this tab or another: a waiter that sees it
  // move knows someone else has refreshed.
  let version = 0;
  let inflight = null;
  let refreshing = false;
  // This tab's claim while it runs an election (BroadcastChannel fallback), else null.
  let electing = null;
  const waiters = new Set();
  const listeners = new Set();
  // Claims of other tabs: id -> when it arrived; '' stands for "a tab answered busy".
  const claims = new Map();

  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(scope) : null;
  channel?.unref?.();
  if (channel) channel.onmessage = (event) => receive(event.data);

  let releasePresence = null;
  if (locks) {
    locks
      .request(`${scope}:tab:${tabId}`, () => new Promise((resolve) => (releasePresence = resolve)))
      .catch(() => {});
  }
  const startup = askPeers();

  function randomId() {
    const bytes = new Uint8Array(16);
    globalThis.crypto.getRandomValues(bytes);
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  function readCsrf() {
    try {
      return globalThis.localStorage?.getItem(csrfKey) ?? null;
    } catch {
      return null;
    }
  }

  // The CSRF token is kept across reloads: it is no credential on its own (a request needs
  // the HttpOnly cookie and an allowed Origin too), and script on this origin that could
  // read it could make the same requests itself.
  function writeCsrf(value) {
    csrf = value;
    try {
      if (value) globalThis.localStorage?.setItem(csrfKey, value);
      else globalThis.localStorage?.removeItem(csrfKey);
    } catch {
      // Storage may be disabled; the token then lasts as long as the page.
    }
  }

  function decodePayload(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = decodeURIComponent(
        Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
      );
      return JSON.parse(json);
    } catch {
      return {};
    }
  }

  // The expiry in this page's clock: the token's lifetime counted from its arrival, so a
  // client clock minutes off the server's neither refreshes on every call nor never.
  function accessFrom(token) {
    const { exp, iat } = decodePayload(token);
    const lifetimeMs =
      typeof exp === 'number' && typeof iat === 'number' ? (exp - iat) * 1000 : Infinity;
    const expiresAt =
      lifetimeMs === Infinity && typeof exp === 'number' ? exp * 1000 : now() + lifetimeMs;
    return { token, expiresAt, lifetimeMs };
  }

  function isFresh(held) {
    if (!held) return false;
    const ahead = Math.min(refreshAheadMs, held.lifetimeMs / 4);
    return held.expiresAt - now() > ahead;
  }

  function changed() {
    version += 1;
    for (const wake of waiters) wake();
    const loggedIn = access !== null || refreshToken !== null;
    for (const listener of listeners) listener({ loggedIn });
  }

  function adopt(accessToken, newRefresh, newCsrf) {
    access = accessFrom(accessToken);
    if (!cookieMode && newRefresh) refreshToken = newRefresh;
    if (cookieMode && newCsrf) writeCsrf(newCsrf);
    changed();
    share();
  }

  function share(to) {
    if (!channel || !access) return;
    channel.postMessage({
      type: 'tokens',
      from: tabId,
      to,
      access: access.token,
      expiresAt: access.expiresAt,
      lifetimeMs: access.lifetimeMs,
      refresh: cookieMode ? undefined : refreshToken,
      csrf: cookieMode ? csrf : undefined,
    });
  }

  function clear(broadcast) {
    access = null;
    refreshToken = null;
    if (broadcast) {
      writeCsrf(null);
      channel?.postMessage({ type: 'logout', from: tabId });
    }
    changed();
  }

  function receive(message) {
    if (!message || message.from === tabId) return;
    if (message.type === 'tokens' && (!message.to || message.to === tabId)) {
      if (access && access.expiresAt >= message.expiresAt) return;
      access = {
        token: message.access,
        expiresAt: message.expiresAt,
        lifetimeMs: message.lifetimeMs ?? Infinity,
      };
      if (!cookieMode && message.refresh) refreshToken = message.refresh;
      if (cookieMode && message.csrf) csrf = message.csrf;
      changed();
    } else if (message.type === 'logout') {
      if (cookieMode) csrf = null;
      clear(false);
    } else if (message.type === 'hello') {
      if (access && (cookieMode || refreshToken)) share(message.from);
    } else if (message.type === 'claim') {
      claims.set(message.id, Date.now());
      // Tell a later or larger claim that this tab is (or will be) the one refreshing.
      if (refreshing || (electing !== null && electing < message.id)) {
        channel?.postMessage({ type: 'busy', from: tabId });
      }
    } else if (message.type === 'busy') {
      claims.set('', Date.now());
    }
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // Resolves true as soon as the tokens change after `seen`, false after `ms`.
  function waitForChange(seen, ms) {
    if (version !== seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        waiters.delete(wake);
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        resolve(false);
      }, ms);
      waiters.add(wake);
    });
  }

  // A new page asks the other tabs for their tokens, so that it neither logs in again nor
  // spends a rotation. Tabs are counted by their presence locks where Web Locks exist.
  async function askPeers() {
    if (!channel) return;
    let others = 1;
    if (locks?.query) {
      try {
        const { held = [] } = await locks.query();
        const prefix = `${scope}:tab:`;
        others = held.filter((lock) => lock.name?.startsWith(prefix) && !lock.name.endsWith(tabId)).length;
      } catch {
        others = 1;
      }
    }
    if (others === 0 || access) return;
    const seen = version;
    channel.postMessage({ type: 'hello', from: tabId });
    await waitForChange(seen, HELLO_MS);
  }

  // A path such as `/me` is the server's; anything else (a full URL, `./x`) stays as fetch
  // would read it.
  function url(path) {
    return path.startsWith('/') && !path.startsWith('//') ? `${baseUrl}${path}` : path;
  }

  async function post(path, body, withCookie) {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (withCookie && csrf) headers[CSRF_HEADER] = csrf;
    const response = await send(url(path), {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      credentials: withCookie ? 'include' : 'same-origin',
    });
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    return { response, json };
  }

  function failure(what, response, json) {
    const detail = json?.detail ?? `${what} failed with HTTP ${response.status}`;
    return new JwtdError(detail, response.status, json, response.headers.get('X-Jwtd-Reason'));
  }

  function canRefresh() {
    return cookieMode ? csrf !== null : refreshToken !== null;
  }

  async function refreshOverNetwork() {
    if (!canRefresh()) return null;
    const { response, json } = cookieMode
      ? await post(paths.refresh, {}, true)
      : await post(paths.refresh, { refresh: refreshToken }, false);
    if (response.ok && typeof json?.access === 'string') {
      adopt(json.access, json.refresh, response.headers.get(CSRF_HEADER));
      return access.token;
    }
    // Refused: the session is over (or this page's CSRF proof is), in every tab alike.
    clear(true);
    return null;
  }

  // After waiting for the refresh lock: take the tokens another tab or call just got, or
  // wait for the broadcast of the tab that held the lock, before spending a rotation.
  async function refreshHoldingLock(stale, seen, waited) {
    if (version !== seen && isFresh(access) && access.token !== stale) return access.token;
    if (waited && (await waitForChange(seen, WAIT_FOR_PEER_MS)) && isFresh(access) && access.token !== stale) {
      return access.token;
    }
    refreshing = true;
    try {
      return await refreshOverNetwork();
    } finally {
      refreshing = false;
    }
  }

  // Without Web Locks: tabs that want to refresh announce a claim; the smallest claim
  // refreshes, the others wait for its broadcast. A claim that arrived just before this
  // election belongs to a tab still in its own; one that refreshes answers "busy".
  async function refreshByElection(stale, seen) {
    const id = randomId();
    const started = Date.now();
    for (const [other, at] of claims) if (started - at > ELECTION_MS) claims.delete(other);
    electing = id;
    channel.postMessage({ type: 'claim', from: tabId, id });
    await waitForChange(seen, ELECTION_MS);
    const lost = [...claims.keys()].some((other) => other < id);
    electing = null;
    return refreshHoldingLock(stale, seen, lost);
  }

  function refreshExclusively(stale) {
    const seen = version;
    const lockName = `${scope}:refresh`;
    if (locks) {
      return locks.request(lockName, { ifAvailable: true }, (lock) =>
        lock
          ? refreshHoldingLock(stale, seen, false)
          : locks.request(lockName, () => refreshHoldingLock(stale, seen, true)),
      );
    }
    if (channel) return refreshByElection(stale, seen);
    return refreshHoldingLock(stale, seen, false);
  }

  /** One refresh at a time in this page; callers during a refresh share its outcome. */
  function refresh(stale) {
    if (!inflight) {
      inflight = refreshExclusively(stale).finally(() => {
        inflight = null;
      });
    }
    return inflight;
  }

  async function accessToken() {
    await startup;
    if (isFresh(access)) return access.token;
    if (!access && !canRefresh()) return null;
    return refresh(access?.token ?? null);
  }

  async function login(username, password) {
    const { response, json } = await post(paths.token, { username, password }, cookieMode);
    if (!response.ok || typeof json?.access !== 'string') {
      throw failure('login', response, json);
    }
    if (!cookieMode && typeof json.refresh !== 'string') {
      throw new JwtdError('login answered without a refresh token', response.status, json, null);
    }
    adopt(json.access, cookieMode ? null : json.refresh, response.headers.get(CSRF_HEADER));
  }

  async function endAll(path, what) {
    if (path === null || path === undefined) {
      throw new JwtdError(`${what} is not available on this server`, 0, null, null);
    }
    let ok = true;
    if (cookieMode) {
      ok = (await post(path, {}, true)).response.ok;
    } else if (refreshToken) {
      ok = (await post(path, { refresh: refreshToken }, false)).response.ok;
    }
    clear(true);
    return ok;
  }

  function allowsToken(target) {
    try {
      return tokenOrigins.has(new URL(target, globalThis.location?.href ?? origin).origin);
    } catch {
      return false;
    }
  }

  async function authorizedFetch(input, init = {}) {
    const isRequest = typeof Request === 'function' && input instanceof Request;
    const target = isRequest ? input.url : url(String(input));
    if (!allowsToken(target)) return send(isRequest ? input : target, init);
    const spare = isRequest ? input.clone() : null;
    const attempt = (request, token) => {
      const headers = new Headers(init.headers ?? (isRequest ? request.headers : undefined));
      if (token) headers.set('Authorization', `Bearer ${token}`);
      return send(request, { ...init, headers });
    };
    const token = await accessToken();
    const response = await attempt(isRequest ? input : target, token);
    const replayable = typeof ReadableStream !== 'function' || !(init.body instanceof ReadableStream);
    if (response.status !== 401 || token === null || !replayable) return response;
    const fresh = access && access.token !== token && isFresh(access) ? access.token : await refresh(token);
    if (fresh === null) return response;
    return attempt(isRequest ? spare : target, fresh);
  }

  async function jsonOrThrow(response, what) {
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    if (!response.ok) throw failure(what, response, json);
    return json;
  }

  return {
    login,
    logout: () => endAll(paths.logout, 'logout'),
    logoutAll: () => endAll(paths.logoutAll, 'logout everywhere'),
    fetch: authorizedFetch,
    async sessions() {
      if (!paths.sessions) throw new JwtdError('sessions are not available on this server', 0, null, null);
      return jsonOrThrow(await authorizedFetch(paths.sessions), 'sessions');
    },
    async endSession(id) {
      if (!paths.sessions) throw new JwtdError('sessions are not available on this server', 0, null, null);
      const response = await authorizedFetch(`${paths.sessions}/${encodeURIComponent(id)}`, {
        method: 'DELETE',
      });
      if (!response.ok) await jsonOrThrow(response, 'ending the session');
    },
    accessToken,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      channel?.close();
      releasePresence?.();
      listeners.clear();
    },
  };
}
