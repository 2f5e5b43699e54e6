"""The reusable websocket client (realtime/static/realtime/payments-socket.js), run in
Chromium against a scripted fake server: the frames it sends, resume with ``since``,
dedupe, resync, token refresh after 4401, backoff. Needs Chromium only (no daphne)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MODULE, MODULE_URL = (
    ROOT / "realtime/static/realtime/payments-socket.js",
    "/static/realtime/payments-socket.js",
)
MONEY_MODULE, MONEY_URL = ROOT / "escashop/static/shop/money.js", "/static/shop/money.js"
TABLE_MODULE, TABLE_URL = ROOT / "escashop/static/shop/table.js", "/static/shop/table.js"
ORIGIN = "http://shop.test"

# A fake WebSocket the scenarios drive by hand: it records what the client sends.
FAKE_WS = """
  const m = await import('/static/realtime/payments-socket.js');
  const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
  class FakeWS {
    static all = [];
    constructor(url) {
      this.url = url; this.sent = []; this.readyState = 0; FakeWS.all.push(this);
      setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 0);
    }
    send(text) { this.sent.push(JSON.parse(text)); }
    close(code = 1000) { this.drop(code); }
    push(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
    drop(code) {
      if (this.readyState === 3) return;
      this.readyState = 3; setTimeout(() => this.onclose?.({ code }), 0);
    }
  }
"""

SCENARIO = (
    "async () => {"
    + FAKE_WS
    + """
  const out = { states: [], events: [], resyncs: [], tokenCalls: [] };
  let token = 'A1';
  const socket = new m.PaymentsSocket({
    url: 'ws://shop.test/ws/',
    WebSocketImpl: FakeWS,
    resumeLookbackMs: 300,
    backoff: { initialMs: 20, maxMs: 80, factor: 2, jitter: 0.5 },
    pingIntervalMs: 0,
    getToken: async (opts) => {
      out.tokenCalls.push(opts);
      if (opts.forceRefresh) token = 'A2';
      return token;
    },
    onEvent: (f) => out.events.push(f.event_id),
    onResync: (topic) => out.resyncs.push(topic),
    onStateChange: (s) => out.states.push(s),
  });
  const handshake = async (ws, lastIds) => {
    await tick(5);
    const expires_at = new Date(Date.now() + 9e5).toISOString();
    ws.push({ type: 'authenticated', user: { id: 1 }, expires_at });
    for (const [topic, id] of Object.entries(lastIds)) {
      ws.push({ type: 'subscribed', topic, last_event_id: id });
    }
  };
  const ev = (id, type = 'payment_status_updated') =>
    ({ type, event_id: id, data: { transactionId: 1 } });

  socket.start();
  await tick(5);  // getToken is awaited before the socket is made
  const ws1 = FakeWS.all[0];
  await handshake(ws1, { payment_status: 40, transactions: 41 });
  out.url1 = ws1.url;
  out.sent1 = ws1.sent.slice();
  out.stateAfterHandshake = socket.state;
  ws1.push(ev(42)); ws1.push(ev(42)); ws1.push(ev(43, 'transaction_updated'));
  await tick(400);                        // 42 and 43 are now older than the lookback
  ws1.push(ev(46));                       // 46 arrives before 45 (another transaction's)

  ws1.drop(1006);                         // the server went away
  await tick(2);
  out.stateAfterDrop = socket.state;
  out.resumeFromNow = socket.resumeFrom('payment_status');
  for (let i = 0; i < 50 && FakeWS.all.length < 2; i++) await tick(10);
  const ws2 = FakeWS.all[1];
  await handshake(ws2, { payment_status: 50, transactions: 50 });
  out.sent2 = ws2.sent.slice();
  // The server replays what follows since: 45, which the drop had cut off, and 46 again.
  ws2.push(ev(45)); ws2.push(ev(46));
  ws2.push(ev(43, 'transaction_updated'));  // a repeat: must not be delivered twice
  ws2.push(ev(44, 'transaction_updated'));
  out.stateAfterResume = socket.state;

  ws2.push({ type: 'resync_required', topic: 'transactions' });
  out.sent2AfterResync = ws2.sent.slice(3);
  out.resyncsBeforeSubscribed = out.resyncs.slice();
  ws2.push({ type: 'subscribed', topic: 'transactions', last_event_id: 60 });

  ws2.drop(4401);                         // token expired: reconnect with a refreshed one
  for (let i = 0; i < 50 && FakeWS.all.length < 3; i++) await tick(10);
  const ws3 = FakeWS.all[2];
  await tick(5);
  out.sent3 = ws3.sent;

  const steps = { initialMs: 500, maxMs: 30000, factor: 2, jitter: 0.5 };
  out.delays = [0, 1, 2, 3, 4, 10].map((a) => m.backoffDelay(a, steps, () => 1));
  out.minDelays = [0, 1, 2, 3].map((a) => m.backoffDelay(a, steps, () => 0));
  socket.stop();
  out.finalState = socket.state;
  return out;
}"""
)

# A token refresh that fails for want of the network, and a server that drops each
# connection as soon as it is subscribed.
FLAKY = (
    "async () => {"
    + FAKE_WS
    + """
  const out = { states: [], delays: [] };
  let calls = 0;
  const socket = new m.PaymentsSocket({
    url: 'ws://shop.test/ws/',
    WebSocketImpl: FakeWS,
    backoff: { initialMs: 20, maxMs: 1000, factor: 2, jitter: 0 },
    stableAfterMs: 150,
    pingIntervalMs: 0,
    getToken: async () => {
      calls += 1;
      if (calls === 2) throw new TypeError('Failed to fetch');  // the refresh request failed
      return 'A1';
    },
    onStateChange: (s, info) => {
      out.states.push(s);
      if (info.retryInMs !== undefined) out.delays.push(info.retryInMs);
    },
  });
  const connect = async (ws) => {
    await tick(5);
    const expires_at = new Date(Date.now() + 9e5).toISOString();
    ws.push({ type: 'authenticated', user: { id: 1 }, expires_at });
    ws.push({ type: 'subscribed', topic: 'payment_status', last_event_id: 1 });
    ws.push({ type: 'subscribed', topic: 'transactions', last_event_id: 1 });
  };
  const next = async (n) => {
    for (let i = 0; i < 100 && FakeWS.all.length < n; i++) await tick(10);
    return FakeWS.all[n - 1];
  };
  socket.start();
  const ws1 = await next(1);
  await connect(ws1);
  ws1.drop(1006);                // dropped; the next getToken throws: retried, not given up
  const ws2 = await next(2);
  out.afterTokenFailure = { sockets: FakeWS.all.length, state: socket.state };
  await connect(ws2);
  ws2.drop(1006);                // dropped at once after subscribing: the backoff goes on
  const ws3 = await next(3);
  await connect(ws3);
  ws3.drop(1006);
  const ws4 = await next(4);
  await connect(ws4);
  await tick(300);               // stayed up longer than stableAfterMs: the backoff starts over
  ws4.drop(1006);
  await next(5);
  out.finalStates = out.states.slice(-2);
  socket.stop();
  return out;
}"""
)

# A resync after the log started over, a connection that dies without a close event, and
# stop() then start() on one client.
EDGES = (
    "async () => {"
    + FAKE_WS
    + """
  const out = {};
  const expires_at = () => new Date(Date.now() + 9e5).toISOString();
  const next = async (n) => {
    for (let i = 0; i < 100 && FakeWS.all.length < n; i++) await tick(10);
    return FakeWS.all[n - 1];
  };
  const ev = (id) => ({ type: 'payment_status_updated', event_id: id, data: {} });
  const events = [];
  const states = [];
  const socket = new m.PaymentsSocket({
    url: 'ws://shop.test/ws/', WebSocketImpl: FakeWS, topics: ['payment_status'],
    backoff: { initialMs: 20, maxMs: 20, factor: 1, jitter: 0 },
    pingIntervalMs: 100, pongTimeoutMs: 50,
    getToken: async () => 'A1',
    onEvent: (f) => events.push(f.event_id),
    onStateChange: (s) => states.push(s),
  });
  socket.start();
  const ws1 = await next(1);
  await tick(5);
  ws1.push({ type: 'authenticated', user: { id: 1 }, expires_at: expires_at() });
  ws1.push({ type: 'subscribed', topic: 'payment_status', last_event_id: 100 });
  ws1.push(ev(101)); ws1.push(ev(102)); ws1.push(ev(103));
  // The database was restored from before 101: the log's newest is 100 again, and the next
  // events are numbered 101, 102 once more.
  ws1.push({ type: 'resync_required', topic: 'payment_status' });
  // Meanwhile the other topic's next event (id 104 of the new log) arrives live.
  const other = { type: 'transaction_updated', event_id: 104, data: {} };
  ws1.push(other);
  ws1.push({ type: 'subscribed', topic: 'payment_status', last_event_id: 100 });
  ws1.push(ev(101)); ws1.push(ev(102)); ws1.push(ev(102)); ws1.push(other);
  out.events = events.slice();

  // The network dies: no pong, and close() never brings a close event.
  ws1.close = () => {};
  const ws2 = await next(2);
  out.afterDeadSocket = { sockets: FakeWS.all.length, states: states.slice() };
  await tick(5);
  ws2.push({ type: 'authenticated', user: { id: 1 }, expires_at: expires_at() });
  out.sent2 = ws2.sent.slice();

  // stop() and start() again: the next connection subscribes again.
  socket.stop();
  socket.start();
  const ws3 = await next(3);
  await tick(5);
  ws3.push({ type: 'authenticated', user: { id: 1 }, expires_at: expires_at() });
  out.sent3 = ws3.sent.slice();
  socket.stop();
  return out;
}"""
)

# Re-authentication before expiry when this clock runs ahead of the server's: the server's
# expires_at looks close, so the timer fires at its 5 s floor; getToken (which measures the
# token's lifetime on this clock) returns the same token, which is not sent again.
REAUTH = (
    "async () => {"
    + FAKE_WS
    + """
  const run = async (tokens) => {
    const calls = [];
    const mine = [];
    const socket = new m.PaymentsSocket({
      url: 'ws://shop.test/ws/', pingIntervalMs: 0,
      WebSocketImpl: class extends FakeWS {
        constructor(url) { super(url); mine.push(this); }
      },
      topics: ['payment_status'], refreshMarginMs: 60000,
      getToken: async (opts) => {
        calls.push(opts);
        return tokens[Math.min(calls.length, tokens.length) - 1];
      },
    });
    socket.start();
    for (let i = 0; i < 100 && !mine.length; i++) await tick(10);
    const ws = mine[0];
    await tick(5);
    // 6 s left (a clock running ahead, or a short-lived token): the margin is a quarter of
    // that, not the 60 s asked for, or every timer would fire at the 5 s floor.
    const expires_at = new Date(Date.now() + 6000).toISOString();
    ws.push({ type: 'authenticated', user: { id: 1 }, expires_at });
    await tick(5400);
    socket.stop();
    return { sent: ws.sent.filter((f) => f.type === 'authenticate'), calls };
  };
  const [same, fresh] = await Promise.all([run(['A1']), run(['B1', 'B2'])]);
  return { same, fresh };
}"""
)


# The shop's table: a REST snapshot older than the row shown does not overwrite it.
TABLE = """async () => {
  const { TransactionsTable } = await import('/static/shop/table.js');
  const tbody = document.createElement('tbody');
  const table = new TransactionsTable({
    tbody, emptyMessage: document.createElement('p'), actionsFor: () => [],
  });
  const txn = (paid, status, at) => ({
    id: 7, or_number: 'OR-7', customer_name: 'Ana', amount: '100.00', paid_amount: paid,
    balance_amount: (100 - Number(paid)).toFixed(2), payment_status: status,
    sales_agent: 1, cashier: 2, updated_at: at,
  });
  table.upsert(txn('0.00', 'unpaid', '2026-11-27T10:00:00.100000Z'), { insert: true });
  table.upsert(txn('40.00', 'partial', '2026-11-27T10:00:01.250000Z'));  // the event
  table.upsert(txn('0.00', 'unpaid', '2026-11-27T10:00:00.900000Z'));    // a late GET
  const after = table.get(7).payment_status;
  table.upsert(txn('40.00', 'partial', '2026-11-27T10:00:01.250000Z'));  // same: applied
  table.upsert(txn('100.00', 'paid', '2026-11-27T10:00:02Z'));           // newer: applied
  return [after, table.get(7).payment_status];
}"""

MONEY = """async () => {
  const m = await import('/static/shop/money.js');
  const cases = [['29.00', '100.00'], ['57.00', '100.00'], ['580.00', '1000.00'],
                 ['0.00', '10.00'], ['1.00', '3.00'], ['100.00', '100.00'],
                 [29, 100], ['9999999999.98', '9999999999.99']];
  return cases.map(([paid, amount]) => m.percentPaid(paid, amount));
}"""

BAR_WIDTHS = """async () => {
  const m = await import('/static/shop/money.js');
  const cases = [['9999999999.98', '9999999999.99'], ['0.01', '9999999999.99'],
                 ['0.00', '10.00'], ['10.00', '10.00'], ['50.00', '100.00']];
  return cases.map(([paid, amount]) => m.progressPercent(paid, amount));
}"""


def _serve(source: Path):
    # A handler of one parameter: Playwright passes (route, request) to one that takes two.
    def handler(route):
        route.fulfill(body=source.read_text(), content_type="text/javascript; charset=utf-8")

    return handler


def _page(browser):
    page = browser.new_page()
    for path, source in (
        (MODULE_URL, MODULE),
        (MONEY_URL, MONEY_MODULE),
        (TABLE_URL, TABLE_MODULE),
    ):
        page.route(f"{ORIGIN}{path}", _serve(source))
    page.route(f"{ORIGIN}/", lambda route: route.fulfill(body="<!doctype html><title>t</title>"))
    page.goto(f"{ORIGIN}/")
    return page


def test_client_authenticates_by_frame_resumes_dedupes_resyncs_and_refreshes(browser):
    out = _page(browser).evaluate(SCENARIO)

    # The token travels in the first frame, never in the URL; subscriptions without since.
    assert out["url1"] == "ws://shop.test/ws/"
    assert out["sent1"] == [
        {"type": "authenticate", "token": "A1"},
        {"type": "subscribe", "topic": "payment_status"},
        {"type": "subscribe", "topic": "transactions"},
    ]
    assert out["stateAfterHandshake"] == "connected"
    assert out["stateAfterDrop"] == "reconnecting"
    # Resume from the highest id received resumeLookbackMs (here 300 ms) before the drop: 42
    # on payment_status, though 46 had arrived since (45, of another transaction, had not);
    # 43 on transactions, whose last event is older than that.
    assert out["resumeFromNow"] == 42
    assert out["sent2"] == [
        {"type": "authenticate", "token": "A1"},
        {"type": "subscribe", "topic": "payment_status", "since": 42},
        {"type": "subscribe", "topic": "transactions", "since": 43},
    ]
    assert out["stateAfterResume"] == "connected"
    # Each event once across the reconnect: 45 is not lost, 46 and 43 are not repeated.
    assert out["events"] == [42, 43, 46, 45, 44]
    # resync_required: the topic is subscribed afresh without since, and the page told to
    # refetch once that subscription is live (not before: what commits in between would
    # be in neither the refetch nor the events).
    assert out["sent2AfterResync"] == [{"type": "subscribe", "topic": "transactions"}]
    assert out["resyncsBeforeSubscribed"] == []
    assert out["resyncs"] == ["transactions"]
    # After 4401 the next connection asks for a refreshed token and uses it.
    assert out["tokenCalls"][-1] == {"forceRefresh": True}
    assert out["sent3"][0] == {"type": "authenticate", "token": "A2"}
    # Exponential, capped, jittered between half and all of the step.
    assert out["delays"] == [500, 1000, 2000, 4000, 8000, 30000]
    assert out["minDelays"] == [250, 500, 1000, 2000]
    assert out["states"][:2] == ["connecting", "connected"]
    assert out["finalState"] == "idle"


def test_client_retries_a_failed_token_refresh_and_backs_off_from_a_flapping_server(browser):
    out = _page(browser).evaluate(FLAKY)
    # A refresh that failed (network) is retried with backoff, not taken for a refusal.
    assert out["afterTokenFailure"]["sockets"] == 2
    assert "offline" not in out["states"][: out["states"].index("connected", 2)]
    # Dropped right after subscribing, again and again: the waits keep growing (no jitter
    # here); after a connection that lasted, they start over.
    assert out["delays"] == [20, 40, 80, 160, 20]
    assert out["finalStates"] == ["connected", "reconnecting"]


def test_percent_paid_is_computed_from_the_digits(browser):
    # A float division shows 29.00 of 100.00 as 28 %, and 580.00 of 1000.00 as 57 %.
    assert _page(browser).evaluate(MONEY) == [29, 57, 58, 0, 33, 100, 29, 99]


def test_the_progress_bar_is_full_only_when_paid_and_empty_only_when_nothing_is(browser):
    # A cent short of the maximum was drawn 100.00 % wide; a cent of it 0.00 %.
    assert _page(browser).evaluate(BAR_WIDTHS) == [99.5, 0.5, 0, 100, 50]


def test_a_stale_snapshot_does_not_overwrite_a_newer_row(browser):
    assert _page(browser).evaluate(TABLE) == ["partial", "paid"]


def test_client_recovers_from_a_restored_log_a_dead_socket_and_a_restart(browser):
    out = _page(browser).evaluate(EDGES)
    # After the resync, 101 and 102 are new events (the restored log reuses the ids), not
    # duplicates of the ones before it; the repeats of 102 and of the new 104 are.
    assert out["events"] == [101, 102, 103, 104, 101, 102]
    # No pong within 50 ms and no close event ever: the client opened a new socket anyway.
    assert out["afterDeadSocket"]["sockets"] == 2
    assert "reconnecting" in out["afterDeadSocket"]["states"]
    assert out["sent2"] == [
        {"type": "authenticate", "token": "A1"},
        {"type": "subscribe", "topic": "payment_status", "since": 102},
    ]
    # After stop() and start(), the new connection's authenticated frame leads to a
    # subscription (it is not taken for a re-authentication of the old one).
    assert out["sent3"] == [
        {"type": "authenticate", "token": "A1"},
        {"type": "subscribe", "topic": "payment_status", "since": 102},
    ]


def test_client_does_not_resend_the_same_token_before_expiry(browser):
    out = _page(browser).evaluate(REAUTH)
    # Both timers fired at the 5 s floor and asked for a token valid for the margin: a
    # quarter of the 6 s that were left, not the 60 s margin of a long-lived token.
    for run in ("same", "fresh"):
        (call,) = out[run]["calls"][-1:]
        assert 1000 < call["minValidityMs"] <= 1500
    # The same token came back: nothing sent. A new one: sent on the live connection.
    assert out["same"]["sent"] == [{"type": "authenticate", "token": "A1"}]
    assert out["fresh"]["sent"] == [
        {"type": "authenticate", "token": "B1"},
        {"type": "authenticate", "token": "B2"},
    ]
