/**
 * The REST client of the shop page: JWT login, tokens kept in sessionStorage (this tab only),
 * the access token refreshed before it expires and once more on a 401, and DRF's error
 * shapes turned into an ApiError the forms can show next to their fields.
 */

const STORAGE_KEY = "escashop.session";
/** Refresh this long before the access token expires (or at 3/4 of a shorter lifetime). */
const REFRESH_MARGIN_MS = 60000;
/** After a scheduled refresh failed for want of the network or the server: try again. */
const REFRESH_RETRY_MS = 10000;

export class ApiError extends Error {
  constructor(status, body, headers) {
    super(ApiError.describe(status, body));
    this.status = status;
    this.body = body;
    this.retryAfter = headers?.get?.("Retry-After") ?? null;
  }

  /** DRF 400 bodies are {"field": ["message", ...]}; the rest are {"detail": "..."}. */
  static describe(status, body) {
    // The server's own trouble (its database away, say) in the shop's words, not the API's
    // (which speak of connections and Idempotency-Keys).
    if (status >= 500) {
      return "The server cannot do this right now. Nothing was lost: try again in a moment.";
    }
    if (body && typeof body.detail === "string") return body.detail;
    if (status === 0) return "The server cannot be reached. Check the connection and retry.";
    return `Request failed (${status}).`;
  }

  /** Field name -> list of messages (only for 400 responses with DRF's field shape). */
  get fieldErrors() {
    if (this.status !== 400 || !this.body || typeof this.body !== "object") return {};
    const out = {};
    for (const [field, messages] of Object.entries(this.body)) {
      out[field] = Array.isArray(messages) ? messages.map(String) : [String(messages)];
    }
    return out;
  }
}

/** Seconds-since-epoch claims of a JWT (we never verify it here; the server does). */
function jwtClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch (err) {
    return {};
  }
}

/** When, on this machine's clock, a token received now expires (immune to clock skew). */
function localExpiry(token) {
  const { exp, iat } = jwtClaims(token);
  const lifetimeMs = Number.isFinite(exp) && Number.isFinite(iat) ? (exp - iat) * 1000 : 300000;
  return { expiresAt: Date.now() + lifetimeMs, lifetimeMs };
}

export class ApiClient {
  constructor({ base = "/api", storage = globalThis.sessionStorage, onTokenRefreshed, onSessionEnded } = {}) {
    this.base = base;
    this.storage = storage;
    this.onTokenRefreshed = onTokenRefreshed ?? (() => {});
    this.onSessionEnded = onSessionEnded ?? (() => {});
    this.session = null;
    this._refreshing = null;
    this._timer = null;
  }

  /** Pick up the tokens of an earlier login in this tab (a reload keeps you logged in). */
  restore() {
    try {
      this.session = JSON.parse(this.storage.getItem(STORAGE_KEY) || "null");
    } catch (err) {
      this.session = null;
    }
    if (this.session) this._scheduleRefresh();
    return Boolean(this.session);
  }

  async login(username, password) {
    const body = await this._fetchJson("POST", "/auth/token/", { username, password }, null);
    this._store({ access: body.access, refresh: body.refresh });
  }

  /**
   * Log out: forget the tokens here at once, and ask the server to refuse the refresh token
   * from now on (best effort: offline, it stays valid until it expires).
   */
  logout() {
    const refresh = this.session?.refresh;
    this.clear();
    if (!refresh) return Promise.resolve();
    return this._fetchJson("POST", "/auth/logout/", { refresh }, null).catch(() => {});
  }

  /** Forget the tokens (logout, or the refresh token was refused). */
  clear() {
    clearTimeout(this._timer);
    this.session = null;
    this.storage.removeItem(STORAGE_KEY);
  }

  /** An access token valid for at least `minValidityMs`, refreshing it when needed. */
  async accessToken({ forceRefresh = false, minValidityMs = 15000 } = {}) {
    if (!this.session) return null;
    if (forceRefresh || this.session.expiresAt - Date.now() < minValidityMs) {
      await this.refresh();
    }
    return this.session?.access ?? null;
  }

  /** Trade the refresh token for a new access token; concurrent callers share one request. */
  refresh() {
    if (!this._refreshing) {
      this._refreshing = this._refreshOnce().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  async _refreshOnce() {
    if (!this.session) throw new ApiError(401, { detail: "Not logged in." });
    try {
      const body = await this._fetchJson("POST", "/auth/token/refresh/", {
        refresh: this.session.refresh,
      }, null);
      this._store({ access: body.access, refresh: body.refresh ?? this.session.refresh });
      this.onTokenRefreshed(body.access);
    } catch (err) {
      if (err.status === 401 || err.status === 400) {
        this.clear();
        this.onSessionEnded("Your session has ended. Please log in again.");
      }
      throw err;
    }
  }

  /** JSON request with the bearer token; a 401 refreshes the token and retries once. */
  async request(method, path, { body, headers, query } = {}) {
    const url = this._url(path, query);
    const token = await this.accessToken();
    try {
      return await this._fetchJson(method, url, body, token, headers);
    } catch (err) {
      if (err.status !== 401 || !this.session) throw err;
      await this.refresh();
      return this._fetchJson(method, url, body, this.session?.access, headers);
    }
  }

  _url(path, query) {
    const url = new URL(path.startsWith("http") ? path : this.base + path, globalThis.location.href);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    return url.origin === globalThis.location.origin ? url.pathname + url.search : url.href;
  }

  async _fetchJson(method, path, body, token, headers = {}) {
    const url = path.startsWith("/api") || path.startsWith("http") ? path : this.base + path;
    const init = { method, headers: { Accept: "application/json", ...headers } };
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined && body !== null) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, null);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data, response.headers);
    return data;
  }

  _store({ access, refresh }) {
    const { expiresAt, lifetimeMs } = localExpiry(access);
    this.session = { access, refresh, expiresAt, lifetimeMs };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(this.session));
    this._scheduleRefresh();
  }

  _scheduleRefresh() {
    clearTimeout(this._timer);
    const { expiresAt, lifetimeMs } = this.session;
    const margin = Math.min(REFRESH_MARGIN_MS, lifetimeMs / 4);
    const delay = Math.max(1000, expiresAt - margin - Date.now());
    this._timer = setTimeout(() => this._refreshInBackground(), delay);
  }

  _refreshInBackground() {
    this.refresh().catch(() => {
      // Refused: clear() has ended the session. Otherwise (network, 5xx) retry soon.
      if (!this.session) return;
      clearTimeout(this._timer);
      this._timer = setTimeout(() => this._refreshInBackground(), REFRESH_RETRY_MS);
    });
  }
}
