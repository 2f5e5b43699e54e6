"""A channel layer whose Redis is down (a real channels-redis layer pointed at a closed
port): writes still succeed quickly, sockets stay open, and events still arrive, from the log.
"""

from __future__ import annotations

import socket
import time

import pytest

from payments.services import settlement_record
from realtime.layer import LAYER_BREAKER
from realtime.metrics import CHANNEL_LAYER_SEND_FAILURES

from .conftest import db

pytestmark = pytest.mark.django_db(transaction=True)

BACKENDS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_redis(settings, request):
    flavour = getattr(request, "param", "pubsub")
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": BACKENDS[flavour],
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{_closed_port()}/0"], "prefix": "dead"},
        }
    }
    LAYER_BREAKER.success()
    yield flavour
    LAYER_BREAKER.success()


def _failures() -> float:
    return CHANNEL_LAYER_SEND_FAILURES._value.get()


@pytest.mark.parametrize("dead_redis", ["pubsub", "core"], indirect=True)
def test_writes_succeed_quickly_and_count_the_failed_relay(dead_redis, cashier, make_transaction):
    txn = make_transaction("1000.00")
    failures = _failures()
    started = time.monotonic()
    settlement_record(transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier)
    first = time.monotonic() - started
    started = time.monotonic()
    settlement_record(transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier)
    second = time.monotonic() - started
    txn.refresh_from_db()
    assert txn.paid_amount == 20
    assert first < 2.5  # bounded by the relay timeout, whatever redis-py's retries do
    assert second < 0.5  # the breaker is open: no waiting on a Redis known to be down
    assert _failures() > failures


@pytest.mark.parametrize("dead_redis", ["pubsub", "core"], indirect=True)
async def test_sockets_stay_open_and_get_events_from_the_log(
    dead_redis, clients, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.send({"type": "subscribe", "topic": "payment_status"})
    assert (await client.receive(timeout=8))["type"] == "subscribed"
    await db(settlement_record)(
        transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier
    )
    (frame,) = await client.receive_events(1, timeout=5)
    assert frame["data"]["paid_amount"] == 10.0
    await client.nothing(0.8)
    await client.send({"type": "ping"})
    assert await client.receive(timeout=5) == {"type": "pong"}
