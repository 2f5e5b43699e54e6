/**
 * payments-socket.js: a small websocket client for EscaShop's /ws/ (SPEC section 5).
 *
 * It authenticates with a first frame (never the query string), subscribes to its topics,
 * resumes with `since` after a drop so nothing in between is lost, reconnects with
 * exponential backoff and jitter, re-authenticates before the access token expires, hands
 * `resync_required` to the page (which refetches over REST), and delivers every event frame
 * once (deduplicated by event_id). No dependencies; works in any browser with WebSocket.
 * The API is documented in docs/shop-ui.md.
 */

/** Connection states reported to `onStateChange`. */
export const State = Object.freeze({
  IDLE: "idle", // not started, or stopped
  CONNECTING: "connecting", // first connection in progress
  CONNECTED: "connected", // authenticated and subscribed to every topic
  RECONNECTING: "reconnecting", // dropped; retrying with backoff
  OFFLINE: "offline", // the browser is offline, retries keep failing, or auth was refused
});

/** Close codes the server uses (realtime/choices.py CloseCode). */
export const CloseCode = Object.freeze({
  PROTOCOL_ERROR: 4400,
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  AUTH_TIMEOUT: 4408,
  RATE_LIMITED: 4429,
});

/** Which topic each event frame type belongs to. */
const FRAME_TOPIC = Object.freeze({
  payment_status_updated: "payment_status",
  transaction_updated: "transactions",
});

export const DEFAULT_BACKOFF = Object.freeze({
  initialMs: 500,
  maxMs: 30000,
  factor: 2,
  jitter: 0.5,
});

/**
 * Delay before retry number `attempt` (0-based): exponential, capped, with "equal jitter"
 * (a fixed part plus a random part), so a shop's screens do not all reconnect at once.
 */
export function backoffDelay(attempt, options = DEFAULT_BACKOFF, random = Math.random) {
  const { initialMs, maxMs, factor, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const base = Math.min(maxMs, initialMs * factor ** Math.min(attempt, 30));
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

/** The /ws/ URL of the page's own host (ws: or wss: to match the page). */
export function defaultSocketUrl(location = globalThis.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/`;
}

const noop = () => {};

export class PaymentsSocket {
  /**
   * @param {object} options
   * @param {(opts: {forceRefresh?: boolean, minValidityMs?: number}) => Promise<string|null>}
   *   options.getToken  returns an access token; called before every (re)connection, with
   *   forceRefresh after the server refused the token, and before it expires. Null means
   *   there is no session any more (the client gives up, 4401); throwing means no token can
   *   be had right now (network, server down): the client retries with backoff.
   * @param {string[]} [options.topics]  default ["payment_status", "transactions"]
   * @param {(frame: object) => void} [options.onEvent]  each event frame, once, in order
   * @param {(topic: string) => void} [options.onResync]  refetch state over REST
   * @param {(state: string, info: object) => void} [options.onStateChange]
   * @param {(user: object, expiresAt: string) => void} [options.onAuthenticated]
   * @param {(code: number) => void} [options.onAuthFailed]  4401 after a refresh, or 4403
   * @param {(frame: object) => void} [options.onError]  {"type":"error",...} frames
   */
  constructor({
    url = defaultSocketUrl(),
    getToken,
    topics = ["payment_status", "transactions"],
    onEvent = noop,
    onResync = noop,
    onStateChange = noop,
    onAuthenticated = noop,
    onAuthFailed = noop,
    onError = noop,
    backoff = DEFAULT_BACKOFF,
    offlineAfterAttempts = 5,
    refreshMarginMs = 60000,
    pingIntervalMs = 25000,
    pongTimeoutMs = 10000,
    stableAfterMs = 10000,
    dedupeWindow = 5000,
    resumeLookbackMs = 0,
    WebSocketImpl = globalThis.WebSocket,
  }) {
    if (typeof getToken !== "function") throw new TypeError("getToken is required");
    Object.assign(this, {
      url, getToken, topics, onEvent, onResync, onStateChange, onAuthenticated,
      onAuthFailed, onError, offlineAfterAttempts, refreshMarginMs, pingIntervalMs,
      pongTimeoutMs, stableAfterMs, dedupeWindow, resumeLookbackMs, WebSocketImpl,
    });
    this.backoff = { ...DEFAULT_BACKOFF, ...backoff };
    this.state = State.IDLE;
    /** Highest event_id received per topic. */
    this.lastEventIds = {};
    /** Per topic, [time, lastEventIds value] pairs going back `resumeLookbackMs`. */
    this._positions = {};
    this._seen = new Set();
    /** Topics told resync_required whose fresh subscription is not confirmed yet. */
    this._resyncing = new Set();
    /** Per such topic, the ids received before it was told (see `_subscribed`). */
    this._seenBeforeResync = {};
    this._ws = null;
    this._attempt = 0;
    this._stopped = true;
    this._authFailures = 0;
    this._timers = {};
    this._onOnline = () => this._retryNow();
    this._onOffline = () => this._abandon("browser offline");
  }

  /** Connect (and keep reconnecting until `stop()`). */
  start() {
    if (!this._stopped) return;
    this._stopped = false;
    globalThis.addEventListener?.("online", this._onOnline);
    globalThis.addEventListener?.("offline", this._onOffline);
    this._open();
  }

  /** Close for good (e.g. on logout); no more callbacks except the state change to idle. */
  stop() {
    this._stopped = true;
    globalThis.removeEventListener?.("online", this._onOnline);
    globalThis.removeEventListener?.("offline", this._onOffline);
    this._clearTimers();
    const ws = this._ws;
    this._ws = null;
    this._authedHere = false;
    if (ws) ws.close(1000, "client stopped");
    this._setState(State.IDLE, {});
  }

  /** Extend the live connection with a fresh access token (same user). */
  reauthenticate(token) {
    if (token && this._ws && this._ws.readyState === 1) {
      this._token = token;
      this._send({ type: "authenticate", token });
    }
  }

  async _open() {
    this._clearTimers();
    if (this._stopped) return;
    if (this.state !== State.OFFLINE && this.state !== State.RECONNECTING) {
      this._setState(State.CONNECTING, {});
    }
    let token;
    try {
      token = await this.getToken({ forceRefresh: this._authFailures > 0 });
    } catch (err) {
      // No token right now (the refresh request failed): not a refusal, try again later.
      if (!this._stopped) this._scheduleReconnect();
      return;
    }
    if (this._stopped) return;
    if (!token) {
      this._giveUp(CloseCode.UNAUTHENTICATED);
      return;
    }
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    this._token = token;
    this._authedHere = false;
    this._pending = new Set(this.topics);
    this._subscribedSince = {};
    ws.onopen = () => this._send({ type: "authenticate", token });
    ws.onmessage = (message) => this._receive(ws, message.data);
    ws.onclose = (event) => this._closed(ws, event);
    ws.onerror = noop; // a close event always follows
  }

  _receive(ws, text) {
    if (ws !== this._ws) return;
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    this._armPing();
    switch (frame.type) {
      case "authenticated":
        return this._authenticated(frame);
      case "subscribed":
        return this._subscribed(frame);
      case "resync_required":
        return this._resync(frame.topic);
      case "pong":
        return;
      case "error":
        return this.onError(frame);
      default:
        if (frame.type in FRAME_TOPIC && Number.isInteger(frame.event_id)) this._event(frame);
    }
  }

  _authenticated(frame) {
    const firstOnThisConnection = !this._authedHere;
    this._authFailures = 0;
    this._authedHere = true;
    this._scheduleReauth(frame.expires_at);
    this.onAuthenticated(frame.user, frame.expires_at);
    if (!firstOnThisConnection) return; // a re-authentication: already subscribed
    for (const topic of this.topics) this._subscribe(topic);
  }

  /**
   * Where a new subscription resumes: the highest id this client had received
   * `resumeLookbackMs` ago (by default 0: the highest now). The server sends every
   * connection its events in id order, so nothing below the highest id received is still
   * to come (docs/realtime.md); a lookback only costs events replayed again, which are
   * dropped as duplicates. It is there for a server older than 2026-11-27, which did not
   * keep that order across transactions.
   */
  resumeFrom(topic) {
    const positions = this._positions[topic];
    if (!positions?.length) return this.lastEventIds[topic];
    const cutoff = Date.now() - this.resumeLookbackMs;
    let since = positions[0][1]; // everything is recent: the oldest position known
    for (const [at, id] of positions) {
      if (at > cutoff) break;
      since = id;
    }
    return since;
  }

  _advance(topic, id) {
    if (id <= (this.lastEventIds[topic] ?? -1)) return;
    this.lastEventIds[topic] = id;
    const now = Date.now();
    const positions = (this._positions[topic] ??= []);
    positions.push([now, id]);
    // Keep the newest position older than the lookback, and everything after it.
    const cutoff = now - this.resumeLookbackMs;
    let oldest = 0;
    while (oldest + 1 < positions.length && positions[oldest + 1][0] <= cutoff) oldest++;
    if (oldest > 0) positions.splice(0, oldest);
  }

  _subscribe(topic) {
    const since = this.resumeFrom(topic);
    const frame = { type: "subscribe", topic };
    if (Number.isInteger(since)) frame.since = since;
    this._subscribedSince[topic] = frame.since ?? null;
    this._pending.add(topic);
    this._send(frame);
  }

  _subscribed(frame) {
    const { topic } = frame;
    // Without `since`, the server's newest id is where this client's history starts; with
    // it, missed events follow and move lastEventIds forward one by one, so a drop during
    // the replay resumes from what was actually received.
    if (this._subscribedSince[topic] == null && Number.isInteger(frame.last_event_id)) {
      this._advance(topic, frame.last_event_id);
    }
    this._pending.delete(topic);
    if (this._resyncing.delete(topic)) {
      // The log may have started over (a restored database reuses ids): ids received
      // before the resync that are above its newest now are not duplicates any more. (Not
      // every id above it: the other topic's live events since are real.)
      const before = this._seenBeforeResync[topic] ?? [];
      delete this._seenBeforeResync[topic];
      if (Number.isInteger(frame.last_event_id)) {
        for (const id of before) if (id > frame.last_event_id) this._seen.delete(id);
      }
      this.onResync(topic);
    }
    if (this._pending.size === 0 && this.state !== State.CONNECTED) {
      // The backoff starts over only once the connection has stayed up a while: a server
      // that accepts and then drops at once is not hammered every few hundred ms.
      clearTimeout(this._timers.stable);
      this._timers.stable = setTimeout(() => {
        this._attempt = 0;
      }, this.stableAfterMs);
      this._setState(State.CONNECTED, {});
    }
  }

  _resync(topic) {
    delete this.lastEventIds[topic];
    delete this._positions[topic];
    if (!this.topics.includes(topic)) return this.onResync(topic);
    // onResync once the fresh subscription is live (its `subscribed` frame, on this
    // connection or the next): what commits after the refetch's read then arrives as events.
    this._resyncing.add(topic);
    this._seenBeforeResync[topic] = [...this._seen];
    this._subscribe(topic);
  }

  _event(frame) {
    if (this._seen.has(frame.event_id)) return;
    this._seen.add(frame.event_id);
    if (this._seen.size > this.dedupeWindow) {
      // Sets iterate in insertion order: forget the oldest ids.
      const excess = this._seen.size - this.dedupeWindow;
      let i = 0;
      for (const id of this._seen) {
        if (i++ >= excess) break;
        this._seen.delete(id);
      }
    }
    this._advance(FRAME_TOPIC[frame.type], frame.event_id);
    try {
      this.onEvent(frame);
    } catch (err) {
      console.error("payments-socket: onEvent failed", err);
    }
  }

  _closed(ws, event) {
    if (ws !== this._ws) return;
    this._ws = null;
    this._authedHere = false;
    this._clearTimers();
    if (this._stopped) return;
    if (event.code === CloseCode.FORBIDDEN) return this._giveUp(event.code);
    if (event.code === CloseCode.UNAUTHENTICATED) {
      // Expired or revoked token: retry with a refreshed one; give up at the third refusal.
      this._authFailures += 1;
      if (this._authFailures > 2) return this._giveUp(event.code);
    }
    this._scheduleReconnect();
  }

  _giveUp(code) {
    this._stopped = true;
    this._clearTimers();
    this._setState(State.OFFLINE, { code, final: true });
    this.onAuthFailed(code);
  }

  _scheduleReconnect() {
    const delay = backoffDelay(this._attempt, this.backoff);
    this._attempt += 1;
    const browserOffline = globalThis.navigator?.onLine === false;
    const state =
      browserOffline || this._attempt > this.offlineAfterAttempts
        ? State.OFFLINE
        : State.RECONNECTING;
    this._setState(state, { attempt: this._attempt, retryInMs: delay });
    this._timers.reconnect = setTimeout(() => this._open(), delay);
  }

  _retryNow() {
    if (!this._stopped && this._timers.reconnect) {
      clearTimeout(this._timers.reconnect);
      this._open();
    }
  }

  _scheduleReauth(expiresAt) {
    clearTimeout(this._timers.reauth);
    const expires = Date.parse(expiresAt);
    if (!Number.isFinite(expires)) return;
    // The margin shrinks with a short-lived token (a quarter of what is left of it, as the
    // REST client does), or a token of a minute would be refreshed every 5 s; never below a
    // second (a token this clock already sees expired still asks for a fresh one).
    const remaining = expires - Date.now();
    const margin = Math.min(this.refreshMarginMs, Math.max(1000, remaining / 4));
    const delay = Math.max(5000, remaining - margin);
    this._timers.reauth = setTimeout(async () => {
      try {
        const token = await this.getToken({ minValidityMs: margin });
        // The same token again: getToken, which knows its lifetime, sees no need to refresh
        // yet (this clock may run ahead of the server's); ask again later.
        if (token === this._token) this._scheduleReauth(expiresAt);
        else this.reauthenticate(token);
      } catch (err) {
        // The server will close with 4401 at expiry; the reconnect refreshes then.
      }
    }, delay);
  }

  _armPing() {
    clearTimeout(this._timers.ping);
    clearTimeout(this._timers.pong);
    if (!this.pingIntervalMs) return;
    this._timers.ping = setTimeout(() => {
      this._send({ type: "ping" });
      // No answer at all (not even a pong): the connection is dead without a close.
      this._timers.pong = setTimeout(() => this._abandon("no pong"), this.pongTimeoutMs);
    }, this.pingIntervalMs);
  }

  /**
   * Give up on the current socket now and reconnect: a dead connection's close event comes
   * only when the browser's closing handshake times out, a minute or more later.
   */
  _abandon(reason) {
    const ws = this._ws;
    if (!ws) return;
    ws.close(4000, reason);
    this._closed(ws, { code: 4000 });
  }

  _send(frame) {
    if (this._ws && this._ws.readyState === 1) this._ws.send(JSON.stringify(frame));
  }

  _setState(state, info) {
    const changed = state !== this.state;
    this.state = state;
    if (changed || info.retryInMs !== undefined) this.onStateChange(state, info);
  }

  _clearTimers() {
    for (const timer of Object.values(this._timers)) clearTimeout(timer);
    this._timers = {};
  }
}
