"""Redis stops and restarts under a running daphne (both channels-redis layers): writes
still succeed quickly, the open sockets stay open, and every event arrives exactly once,
well within 15 s of Redis answering again, without the client reconnecting.

This restarts the machine's Redis (other suites sharing it notice for a few seconds), so
it does as little as possible while Redis is down and always restarts it.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import pytest
from django.db import connection

from realtime.models import PaymentEvent
from tests.support.daphne import DaphneServer

from .live import (
    LiveClient,
    pay_concurrently,
    redis_start,
    redis_stop,
    relay_with_core_layer,
    require_restartable_redis,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def core_daphne(daphne_server):
    """A second daphne on the other layer, RedisChannelLayer (memberships kept in Redis)."""
    server = DaphneServer(extra_env={"ESCASHOP_CHANNEL_LAYER": "core"}).start()
    yield server
    server.stop()


def test_events_written_while_redis_is_down_arrive_once(
    daphne_server, core_daphne, admin_user, cashier, make_transaction
):
    require_restartable_redis()
    txn = make_transaction("1000.00")
    asyncio.run(_scenario([daphne_server, core_daphne], admin_user, cashier, txn))


def _newest_status_event() -> PaymentEvent:
    try:
        return PaymentEvent.objects.filter(topic="payment_status").order_by("-id").first()
    finally:
        connection.close()


def _live_frames(server: DaphneServer) -> float:
    """The server's count of frames sent from the live path (its /metrics)."""
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(r'^escashop_ws_event_frames_sent_total\{path="live"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


async def _scenario(servers, admin_user, cashier, txn) -> None:
    clients = [await LiveClient.open(s.ws_url, admin_user) for s in servers]
    for client in clients:
        await client.subscribe("payment_status")
    durations = []
    try:
        redis_stop()
        for _ in range(3):
            started = time.monotonic()
            await asyncio.to_thread(pay_concurrently, [(txn, "10.00", cashier)], threads=1)
            durations.append(time.monotonic() - started)
    finally:
        redis_start()
    restarted = time.monotonic()
    assert max(durations) < 3, durations  # the write never waits long on a dead Redis
    for client in clients:
        frames = await client.collect(3, within=15 - (time.monotonic() - restarted))
        assert [f["data"]["paid_amount"] for f in frames] == [10.0, 20.0, 30.0]

    # Same sockets, Redis back: new events still arrive once each, and soon live again.
    # (The RedisChannelLayer daphne must join its groups again: Redis forgot them.)
    paid, recovered = 30.0, [False] * len(servers)
    for _round in range(8):
        live_before = [_live_frames(s) for s in servers]
        await asyncio.to_thread(pay_concurrently, [(txn, "10.00", cashier)], threads=1)
        await relay_with_core_layer(await asyncio.to_thread(_newest_status_event))
        paid += 10
        for client in clients:
            (frame,) = await client.collect(1, within=10)
            assert frame["data"]["paid_amount"] == paid
        live_after = [_live_frames(s) for s in servers]
        recovered = [a > b for a, b in zip(live_after, live_before, strict=True)]
        if all(recovered):
            break
        await asyncio.sleep(1)
    assert all(recovered), "the live path did not recover after Redis restarted"
    assert time.monotonic() - restarted < 15
    for client in clients:
        await client.quiet(2.5)
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
        await client.close()
