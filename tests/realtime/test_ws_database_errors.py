"""A database error while checking a handshake's token or serving a client's frame: the
socket closes with 1011 and its connection leaves the process's relay and access re-check
(it used to stay registered: the consumer ended without its disconnect handler; a handshake
was refused with no close code), so the client reconnects and resumes."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError

import realtime.consumers
import realtime.delivery
import realtime.middleware
from realtime.delivery import catchup_hub
from realtime.relay import current_relay
from realtime.routing import websocket_application

from .conftest import access_token, db, pay

pytestmark = pytest.mark.django_db(transaction=True)


def _failing_once(real):
    calls = []

    def wrapper(*args, **kwargs):
        if not calls:
            calls.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    return wrapper


def _registered() -> int:
    relay = current_relay()
    members = 0 if relay is None else len(relay.members)
    return members + len(catchup_hub().connections)


async def test_a_failed_read_before_subscribing_closes_1011_and_unregisters(
    clients, monkeypatch, admin_user
):
    monkeypatch.setattr(
        realtime.consumers, "_subscribe_facts", _failing_once(realtime.consumers._subscribe_facts)
    )
    client = await clients.open(user=admin_user)
    await client.send({"type": "subscribe", "topic": "payment_status"})
    assert await client.receive_close(3) == 1011
    assert _registered() == 0
    again = await clients.open(user=admin_user)
    assert (await again.subscribe("payment_status"))["type"] == "subscribed"


async def test_a_failed_replay_closes_1011_and_the_resume_gets_what_was_missed(
    clients, monkeypatch, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("1000.00")
    await pay(txn, cashier)
    client = await clients.open(user=admin_user)
    since = (await client.subscribe("payment_status"))["last_event_id"]
    await client.close()
    await pay(txn, cashier)
    monkeypatch.setattr(
        realtime.delivery, "_replay_page", _failing_once(realtime.delivery._replay_page)
    )
    failing = await clients.open(user=admin_user)
    await failing.send({"type": "subscribe", "topic": "payment_status", "since": since})
    assert (await failing.receive())["type"] == "subscribed"
    assert await failing.receive_close(3) == 1011
    assert _registered() == 0

    resumed = await clients.open(user=admin_user)
    await resumed.subscribe("payment_status", since=since)
    (missed,) = await resumed.receive_events(1)
    assert missed["data"]["paid_amount"] == 20.0
    # Live events still reach the resumed client: the failed connection held nothing up.
    await pay(txn, cashier)
    (live,) = await resumed.receive_events(1)
    assert live["event_id"] > missed["event_id"]
    assert live["data"]["paid_amount"] == 30.0


async def test_a_handshake_whose_token_cannot_be_checked_is_accepted_then_closed_1011(
    monkeypatch, admin_user
):
    # The SPEC's rule for close codes: accept, then close, so a browser can read why. A
    # database error is the server's fault (1011: retry and resume), not the token's (4401).
    def failing(raw):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(realtime.middleware, "token_authenticate", failing)
    token = await database_sync_to_async(access_token)(admin_user)
    communicator = WebsocketCommunicator(
        websocket_application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    closed = await communicator.receive_output(3)
    assert closed == {"type": "websocket.close", "code": 1011}
    await communicator.wait(timeout=3)


async def test_a_handshake_whose_token_check_hangs_is_closed_1011_before_daphne_drops_it(
    monkeypatch, admin_user
):
    """A database that is down holds a read for the pool's timeout (10 s); daphne drops a
    handshake not accepted within 5 s with no answer a browser can read. The check is given
    up first: accepted, then closed 1011 (retry)."""
    import time

    def hanging(raw):
        time.sleep(1.0)
        raise AssertionError("the handshake should not have waited for this")

    monkeypatch.setattr(realtime.middleware, "token_authenticate", hanging)
    monkeypatch.setattr(realtime.middleware, "HANDSHAKE_CHECK_SECONDS", 0.2)
    token = await database_sync_to_async(access_token)(admin_user)
    communicator = WebsocketCommunicator(
        websocket_application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    started = time.monotonic()
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 1011}
    assert time.monotonic() - started < 0.9
    await communicator.wait(timeout=3)
