// Type declarations of clients/js/jwtd.js.

/** The server paths the client calls, relative to `baseUrl`; `null` where a server has none. */
export interface Paths {
  /** Login: `{username, password}` → `{access, refresh}` (body mode) or `{access}` (cookie mode). */
  token: string;
  /** Refresh: `{refresh}` in body mode, the cookie in cookie mode. */
  refresh: string;
  /** Logout of this session. */
  logout: string;
  /** Logout of every session of the user; `null` on simplejwt. */
  logoutAll: string | null;
  /** `GET` lists the sessions, `DELETE {sessions}/{id}` ends one; `null` on simplejwt. */
  sessions: string | null;
}

/** jwtd's paths in body mode. */
export const JWTD_PATHS: Readonly<Paths>;
/** jwtd's paths in cookie mode (`/token/logout`, `/token/logout/all`, under the cookie's Path). */
export const JWTD_COOKIE_PATHS: Readonly<Paths>;
/** djangorestframework-simplejwt's views: `/token/`, `/token/refresh/`, `/token/blacklist/`. */
export const SIMPLEJWT_PATHS: Readonly<Paths>;
/** `X-CSRF-Token`: the header that carries the CSRF token both ways in cookie mode. */
export const CSRF_HEADER: string;

export interface ClientOptions {
  /** The server's URL, with any path prefix: `https://auth.example.com` or `/api`. */
  baseUrl: string;
  /** The refresh token is an HttpOnly cookie (jwtd's `JWTD_REFRESH_COOKIE=true`). Default false. */
  cookieMode?: boolean;
  /** Overrides of single paths, or `SIMPLEJWT_PATHS`. */
  paths?: Partial<Paths>;
  /** Other origins whose requests `fetch` may send the access token to. `baseUrl`'s always. */
  tokenOrigins?: string[];
  /** Refresh when the access token has less than this left (default 30 000; at most a quarter of its life). */
  refreshAheadMs?: number;
  /**
   * Names the tabs' shared channel, lock and stored CSRF token (default `jwtd:<baseUrl>`):
   * clients with one name share one session across tabs.
   */
  name?: string;
  /** The clock, in milliseconds (default `Date.now`). */
  now?: () => number;
  /** The fetch to call (default the global one). */
  fetch?: typeof globalThis.fetch;
  /** Web Locks (default `navigator.locks`); `null` to use the BroadcastChannel election. */
  locks?: LockManager | null;
}

export interface Session {
  id: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
  /** The session of this client's access token. */
  current: boolean;
}

export interface JwtdClient {
  /** Logs in; throws `JwtdError` (status 401 for wrong credentials). Other tabs share the session. */
  login(username: string, password: string): Promise<void>;
  /** Ends this session on the server and in every tab; resolves whether the server confirmed it. */
  logout(): Promise<boolean>;
  /** Ends every session of the user; throws where the server has no such path. */
  logoutAll(): Promise<boolean>;
  /**
   * `fetch` with `Authorization: Bearer <access>` (only to `baseUrl`'s origin and
   * `tokenOrigins`); a path starting with `/` is taken relative to `baseUrl`. Refreshes first
   * when the token is due, or once after a 401, and then retries once.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The user's live sessions (`GET /sessions`). */
  sessions(): Promise<Session[]>;
  /** Ends one session (`DELETE /sessions/{id}`); throws `JwtdError` 404 for an unknown one. */
  endSession(id: string): Promise<void>;
  /** A valid access token, refreshed if due; `null` when logged out. */
  accessToken(): Promise<string | null>;
  /** Called when this tab or another logs in, refreshes or logs out. Returns the unsubscriber. */
  onChange(listener: (state: { loggedIn: boolean }) => void): () => void;
  /** Stops listening to other tabs. */
  close(): void;
}

/** An answer that was not a success. */
export class JwtdError extends Error {
  /** The HTTP status (0 when no request was made). */
  status: number;
  /** The parsed JSON body, if any. */
  body: unknown;
  /** jwtd's `X-Jwtd-Reason` (when the server exposes it), such as `reuse_detected`. */
  reason: string | null;
}

export function createClient(options: ClientOptions): JwtdClient;
