"""The process's live relay: one channel-layer channel for all local connections, each event
received and decoded once, in id order, and one slow connection never holding up the
others."""

from __future__ import annotations

import copy

import pytest
from channels.layers import get_channel_layer
from prometheus_client import REGISTRY

from realtime.groups import EVENTS_GROUP
from realtime.relay import current_relay

from .conftest import db, pay

pytestmark = pytest.mark.django_db(transaction=True)


def _members_of(group: str) -> set[str]:
    return set(get_channel_layer().groups.get(group, {}))


async def test_one_channel_per_process_in_the_events_group_while_it_has_connections(
    clients, admin_user, sales, cashier, make_transaction
):
    txn = await db(make_transaction)("1000.00")
    watchers = {}
    for name, user in (("admin", admin_user), ("sales", sales), ("cashier", cashier)):
        watchers[name] = await clients.open(user=user)
        await watchers[name].subscribe("payment_status")
    relay = current_relay()
    assert relay is not None and len(relay.members) == 3
    # One channel for the three connections, whatever their roles.
    assert set(get_channel_layer().groups) == {EVENTS_GROUP}
    assert _members_of(EVENTS_GROUP) == {relay.channel}

    # The change travels as one message; each connection that may see it gets it once.
    settlement = await pay(txn, cashier)
    for client in watchers.values():
        (frame,) = await client.receive_events(1)
        assert frame["data"]["settlement"]["id"] == settlement.pk
    for client in watchers.values():
        await client.nothing(0.5)

    # The relay stays in the group while a connection is left, and ends with the last one.
    await watchers["sales"].close()
    await watchers["admin"].close()
    assert _members_of(EVENTS_GROUP) == {relay.channel}
    await watchers["cashier"].close()
    assert current_relay() is None
    assert not get_channel_layer().groups


async def test_a_busy_connection_does_not_hold_up_the_others(
    clients, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("1000.00")
    busy = await clients.open(user=admin_user)
    await busy.subscribe("payment_status")
    idle = await clients.open(user=admin_user)
    await idle.subscribe("payment_status")
    busy_delivery, _ = current_relay().members  # in join order
    await busy_delivery.lock.acquire()  # as if a replay or catch-up batch were being sent
    try:
        first = await pay(txn, cashier)
        second = await pay(txn, cashier)
        frames = await idle.receive_events(2)
        assert [f["data"]["settlement"]["id"] for f in frames] == [first.pk, second.pk]
        await busy.nothing(0.3)
    finally:
        busy_delivery.lock.release()
    frames = await busy.receive_events(2)
    assert [f["data"]["settlement"]["id"] for f in frames] == [first.pk, second.pk]
    await busy.nothing(0.5)  # and not again from catch-up


async def test_an_event_committed_here_reaches_local_screens_without_the_layer(
    clients, admin_user, cashier, make_transaction, settings, monkeypatch
):
    # The process's own writes are offered to its connections from memory as they commit
    # (LiveRelay.dispatch_soon): here the layer delivers nothing and catch-up is far off,
    # so only that path can bring the frames.
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    txn = await db(make_transaction)("1000.00")
    watcher = await clients.open(user=admin_user)
    await watcher.subscribe("payment_status")
    published: list[tuple[str, dict]] = []

    async def publish_nowhere(group: str, message: dict) -> None:
        published.append((group, message))

    monkeypatch.setattr(get_channel_layer(), "group_send", publish_nowhere)
    first = await pay(txn, cashier)
    second = await pay(txn, cashier)
    frames = await watcher.receive_events(2)
    assert [f["data"]["settlement"]["id"] for f in frames] == [first.pk, second.pk]
    # Still sent to the other processes: one message per change, both of its events in order.
    assert [group for group, _ in published] == [EVENTS_GROUP, EVENTS_GROUP]
    for _group, message in published:
        assert [e["topic"] for e in message["events"]] == ["payment_status", "transactions"]
    # A copy arriving through the layer later is dropped by event id, not sent twice.
    relay = current_relay()
    for _group, message in published:
        await relay.dispatch(message)
    await watcher.nothing(0.5)


async def test_a_message_from_another_deployments_log_is_dropped(
    clients, admin_user, cashier, make_transaction, settings, monkeypatch, caplog
):
    # Two deployments on one Redis server with one channel prefix hear each other (Pub/Sub
    # ignores REDIS_URL's database number): their event ids are not ours. Taken in, their
    # next event would reach our screens, and ours with the same id would be dropped as
    # its copy (realtime.events.log_origin).
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    txn = await db(make_transaction)("1000.00")
    watcher = await clients.open(user=admin_user)
    await watcher.subscribe("payment_status")
    published: list[dict] = []

    async def publish_nowhere(group: str, message: dict) -> None:
        published.append(message)

    monkeypatch.setattr(get_channel_layer(), "group_send", publish_nowhere)
    await pay(txn, cashier)
    await watcher.receive_events(1)
    theirs = copy.deepcopy(published[0])
    theirs["origin"] = "another-log"
    for item in theirs["events"]:  # the ids our next change will take
        item["event_id"] += len(theirs["events"])
    dropped = REGISTRY.get_sample_value("escashop_channel_layer_foreign_messages_total")
    await current_relay().dispatch(theirs)
    await current_relay().dispatch(theirs)
    await watcher.nothing(0.3)
    ours = await pay(txn, cashier)
    (frame,) = await watcher.receive_events(1)
    assert frame["data"]["settlement"]["id"] == ours.pk
    assert frame["event_id"] == theirs["events"][0]["event_id"]  # the id both logs used
    assert REGISTRY.get_sample_value("escashop_channel_layer_foreign_messages_total") == (
        dropped + 2
    )
    warnings = [r for r in caplog.records if "another deployment" in r.getMessage()]
    assert len(warnings) == 1  # at most one a minute
    assert "ESCASHOP_CHANNEL_PREFIX" in warnings[0].getMessage()


async def test_a_write_returns_once_the_screens_of_its_process_have_their_frames(
    clients, admin_user, cashier, make_transaction, settings, monkeypatch
):
    # realtime.events._group_send: the writer waits until this process's relay has sent
    # the local connections their frames, so that they go out before the writer's thread
    # builds its response (and holds the GIL). On SQLite the access check the relay waits
    # for runs on the writer's own thread, so there the writer cannot wait for it.
    from realtime import events
    from tests.support.services import require_postgres

    require_postgres()
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    monkeypatch.setattr(events, "LOCAL_SERVE_WAIT_SECONDS", 10.0)  # the order, not the speed

    async def publish_nowhere(group: str, message: dict) -> None:
        pass  # only the local relay can bring the frames

    monkeypatch.setattr(get_channel_layer(), "group_send", publish_nowhere)
    txn = await db(make_transaction)("1000.00")
    watchers = [await clients.open(user=admin_user) for _ in range(2)]
    for watcher in watchers:
        await watcher.subscribe("payment_status")
    for _ in range(3):
        settlement = await pay(txn, cashier)
        for watcher in watchers:
            assert watcher.communicator.output_queue.qsize() == 1  # already out
            frames = await watcher.receive_events(1)
            assert frames[0]["data"]["settlement"]["id"] == settlement.pk


async def test_local_screens_are_served_while_the_layer_breaker_is_open(
    clients, admin_user, cashier, make_transaction, settings, monkeypatch
):
    # After a channel-layer failure the breaker skips layer sends for a moment (other
    # processes then get the events from the log); the process's own screens, served
    # from memory, still get them at once, not a catch-up round later.
    from realtime.layer import LAYER_BREAKER

    settings.ESCASHOP_CATCHUP_SECONDS = 60
    published: list[str] = []

    async def publish(group: str, message: dict) -> None:
        published.append(group)

    monkeypatch.setattr(get_channel_layer(), "group_send", publish)
    txn = await db(make_transaction)("1000.00")
    watcher = await clients.open(user=admin_user)
    await watcher.subscribe("payment_status")
    published.clear()  # the transaction's creation went through the layer
    monkeypatch.setattr(LAYER_BREAKER, "allow", lambda: False)  # open, whatever succeeds
    settlement = await pay(txn, cashier)
    (frame,) = await watcher.receive_events(1)
    assert frame["data"]["settlement"]["id"] == settlement.pk
    assert published == []  # the layer was not asked
