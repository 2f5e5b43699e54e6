"""The reusable websocket client (realtime/static/realtime/payments-socket.js), run in
Chromium against a scripted fake server: the frames it sends, resume with ``since``,
dedupe, resync, token refresh after 4401, backoff. Needs Chromium only (no daphne)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

MODULE = Path(__file__).resolve().parents[2] / "realtime/static/realtime/payments-socket.js"
ORIGIN = "http://shop.test"

# A fake WebSocket the scenario drives by hand: it records what the client sends.
SCENARIO = """async () => {
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


def test_client_authenticates_by_frame_resumes_dedupes_resyncs_and_refreshes(browser):
    page = browser.new_page()
    page.route(
        f"{ORIGIN}/static/realtime/payments-socket.js",
        lambda route: route.fulfill(
            body=MODULE.read_text(), content_type="text/javascript; charset=utf-8"
        ),
    )
    page.route(f"{ORIGIN}/", lambda route: route.fulfill(body="<!doctype html><title>t</title>"))
    page.goto(f"{ORIGIN}/")
    out = page.evaluate(SCENARIO)

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
    # resync_required: the page refetches, the topic is subscribed afresh without since.
    assert out["resyncs"] == ["transactions"]
    assert out["sent2AfterResync"] == [{"type": "subscribe", "topic": "transactions"}]
    # After 4401 the next connection asks for a refreshed token and uses it.
    assert out["tokenCalls"][-1] == {"forceRefresh": True}
    assert out["sent3"][0] == {"type": "authenticate", "token": "A2"}
    # Exponential, capped, jittered between half and all of the step.
    assert out["delays"] == [500, 1000, 2000, 4000, 8000, 30000]
    assert out["minDelays"] == [250, 500, 1000, 2000]
    assert out["states"][:2] == ["connecting", "connected"]
    assert out["finalState"] == "idle"
