"""Exactly once and in id order, whatever the channel layer does: messages dropped,
duplicated (redelivery) or reordered."""

from __future__ import annotations

import pytest

import realtime.events
from realtime.metrics import FRAMES_SENT
from realtime.models import PaymentEvent

from .conftest import db, pay

pytestmark = pytest.mark.django_db(transaction=True)


class Layer:
    """Controls which committed changes the channel layer relays (the rest are "dropped");
    a change's events travel together (``realtime.events._group_send``)."""

    def __init__(self, monkeypatch) -> None:
        self.real = realtime.events._group_send
        self.held: list[list[PaymentEvent]] = []
        self.drop_next = 0
        self.hold_next = 0
        monkeypatch.setattr(realtime.events, "_group_send", self._send)

    def _send(self, events: list[PaymentEvent], access=None) -> None:
        if self.drop_next:
            self.drop_next -= 1
        elif self.hold_next:
            self.hold_next -= 1
            self.held.append(events)  # released later: the relay then checks access itself
        else:
            self.real(events, access)

    def release(self, events: list[PaymentEvent]) -> None:
        self.real(events)


def _sent(path: str) -> float:
    return FRAMES_SENT.labels(path=path)._value.get()


async def test_a_dropped_message_arrives_from_the_log_once(
    clients, monkeypatch, admin_user, cashier, make_transaction
):
    layer = Layer(monkeypatch)
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    before = _sent("catchup")
    layer.drop_next = 1  # this settlement's events never reach the layer
    await pay(txn, cashier)
    (frame,) = await client.receive_events(1, timeout=3)
    assert frame["data"]["paid_amount"] == 10.0
    assert _sent("catchup") == before + 1
    await client.nothing(0.8)


async def test_a_gap_is_filled_from_the_log_before_the_live_event(
    clients, monkeypatch, settings, admin_user, cashier, make_transaction
):
    settings.ESCASHOP_CATCHUP_SECONDS = 60  # only the gap check can deliver the lost one
    layer = Layer(monkeypatch)
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    layer.drop_next = 1
    await pay(txn, cashier)  # lost
    await client.nothing(0.3)
    await pay(txn, cashier)  # its payment_status_updated names the lost one as previous
    frames = await client.receive_events(2)
    assert [f["data"]["paid_amount"] for f in frames] == [10.0, 20.0]
    assert frames[0]["event_id"] < frames[1]["event_id"]
    await client.nothing(0.3)


async def test_reordered_messages_are_sent_in_commit_order_once(
    clients, monkeypatch, settings, admin_user, cashier, make_transaction
):
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    layer = Layer(monkeypatch)
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    layer.hold_next = 1
    await pay(txn, cashier)  # held back: arrives after the next one
    await pay(txn, cashier)
    frames = await client.receive_events(2)
    assert [f["data"]["paid_amount"] for f in frames] == [10.0, 20.0]
    for events in layer.held:  # the late arrival, and a duplicate for good measure
        await db(layer.release)(events)
        await db(layer.release)(events)
    await client.nothing(0.5)


async def test_events_of_different_transactions_go_out_in_id_order(
    clients, monkeypatch, settings, admin_user, cashier, make_transaction
):
    # The first change's message is late (another process's, still on its way, or lost):
    # the second change's event waits for it (read from the log after a few ms), so a
    # client that drops right after the second and resumes from its id misses nothing.
    settings.ESCASHOP_CATCHUP_SECONDS = 60  # only the relay's gap read can bring the first
    layer = Layer(monkeypatch)
    first = await db(make_transaction)("1000.00")
    second = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    layer.hold_next = 1
    await pay(first, cashier)
    await pay(second, cashier)
    frames = await client.receive_events(2, timeout=2)
    assert [f["data"]["transactionId"] for f in frames] == [first.pk, second.pk]
    assert frames[0]["event_id"] < frames[1]["event_id"]
    await client.close()
    resumed = await clients.open(user=admin_user)
    await resumed.subscribe("payment_status", since=frames[1]["event_id"])
    for events in layer.held:  # the late message arrives after all: dropped as a copy
        await db(layer.release)(events)
    await resumed.nothing(0.5)


async def test_a_client_resuming_from_the_highest_id_it_handled_misses_nothing(
    clients, admin_user, cashier, make_transaction
):
    # A client drops in the middle of a stream of payments across transactions (frames
    # already on their way to it are lost with the socket) and resumes from the highest
    # event_id it handled, three times: together it sees every event once, in id order.
    txns = [await db(make_transaction)("1000.00") for _ in range(4)]
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    seen: list[int] = []
    for round_ in range(3):
        for txn in txns:
            await pay(txn, cashier, "1.00")
        frames = await client.receive_events(2 + round_, timeout=3)  # then it drops
        seen += [f["event_id"] for f in frames]
        await client.close()
        client = await clients.open(user=admin_user)
        await client.subscribe("payment_status", since=max(seen))
    rest = await client.receive_events(12 - len(seen), timeout=3)
    seen += [f["event_id"] for f in rest]
    await client.nothing(0.5)
    logged = await db(
        lambda: list(
            PaymentEvent.objects.filter(topic="payment_status")
            .order_by("id")
            .values_list("id", flat=True)
        )
    )()
    assert seen == logged[-12:]  # every one, once, in id order


async def test_an_event_a_user_may_see_in_two_ways_is_sent_once(
    clients, cashier, sales, make_transaction
):
    # A settlement of a pool transaction concerns the cashiers' queue (where it was) and
    # its new cashier (who took it): this cashier on both counts.
    client = await clients.open(user=cashier)
    await client.subscribe("payment_status")
    txn = await db(make_transaction)("100.00", created_by=sales)
    await pay(txn, cashier)
    (frame,) = await client.receive_events(1)
    assert frame["data"]["cashier_id"] == cashier.pk
    await client.nothing(0.6)


async def test_the_frame_is_the_logged_text_byte_for_byte(
    clients, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("1500.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    await pay(txn, cashier, "1000.50")
    raw = await client.receive_raw()
    event = await db(lambda: PaymentEvent.objects.filter(topic="payment_status").last())()
    assert raw == event.frame_text()
    assert '"paid_amount":1000.50' in raw and '"balance_amount":499.50' in raw


async def test_live_events_skip_the_per_message_connection_cleanup(
    clients, monkeypatch, admin_user, cashier, make_transaction
):
    import channels.consumer

    calls = []
    real = channels.consumer.aclose_old_connections

    async def counting():
        calls.append(1)
        await real()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counting)
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    await client.roundtrip()
    baseline = len(calls)
    for _ in range(3):
        await pay(txn, cashier)
    await client.receive_events(3)
    await client.roundtrip()
    assert len(calls) == baseline


async def test_an_event_that_cannot_be_sent_closes_the_socket_and_comes_in_the_resume(
    clients, monkeypatch, admin_user, cashier, make_transaction
):
    # Sending nothing after a failed frame keeps "nothing below the highest id handled is
    # still to come": the client reconnects (1011) and resumes from that id.
    from realtime.delivery import ConnectionDelivery

    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    await pay(txn, cashier)
    (first,) = await client.receive_events(1)
    real_send, failures = ConnectionDelivery._send, []

    async def send_once_failing(self, env, counter):
        if not failures:
            failures.append(env.event_id)
            raise OSError("socket write failed")
        await real_send(self, env, counter)

    monkeypatch.setattr(ConnectionDelivery, "_send", send_once_failing)
    await pay(txn, cashier)
    closed = await client.communicator.receive_output(3)
    assert closed == {"type": "websocket.close", "code": 1011}
    resumed = await clients.open(user=admin_user)
    await resumed.subscribe("payment_status", since=first["event_id"])
    (again,) = await resumed.receive_events(1)
    assert again["event_id"] == failures[0]
    assert again["data"]["paid_amount"] == 20.0
    await resumed.nothing(0.5)


async def test_subscribing_again_without_since_repeats_nothing(
    clients, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    await pay(txn, cashier)
    await client.receive_events(1)
    await client.subscribe("payment_status")
    await client.nothing(0.6)
