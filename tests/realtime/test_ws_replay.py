"""``subscribed`` with ``last_event_id``, replay of what was missed (``since``), then live;
``resync_required`` when the log no longer holds everything after ``since``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from realtime.models import PaymentEvent

from .conftest import db, pay

pytestmark = pytest.mark.django_db(transaction=True)


async def test_resume_gets_exactly_what_was_missed_then_live(
    clients, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("1000.00")
    first = await clients.open(user=admin_user)
    sub = await first.subscribe("payment_status")
    await pay(txn, cashier)
    seen = await first.receive()
    assert seen["event_id"] > sub["last_event_id"]
    await first.close()

    await pay(txn, cashier)  # missed while away
    await pay(txn, cashier)
    again = await clients.open(user=admin_user)
    await again.send({"type": "subscribe", "topic": "payment_status", "since": seen["event_id"]})
    subscribed = await again.receive()
    assert subscribed["type"] == "subscribed"
    missed = await again.receive_events(2)
    assert [f["data"]["paid_amount"] for f in missed] == [20.0, 30.0]
    assert subscribed["last_event_id"] == max(f["event_id"] for f in missed) + 1  # + its twin
    await pay(txn, cashier)
    (live,) = await again.receive_events(1)
    assert live["data"]["paid_amount"] == 40.0
    await again.nothing(0.6)


async def test_subscribed_reports_the_newest_event_id(clients, admin_user, make_transaction):
    await db(make_transaction)("10.00")
    await db(make_transaction)("10.00")
    client = await clients.open(user=admin_user)
    last = await db(lambda: PaymentEvent.objects.order_by("-id").first().pk)()
    assert await client.subscribe("transactions") == {
        "type": "subscribed",
        "topic": "transactions",
        "last_event_id": last,
    }
    await client.nothing(0.5)  # no since: no replay


async def test_since_after_the_newest_event_needs_a_resync(clients, admin_user):
    client = await clients.open(user=admin_user)
    await client.send({"type": "subscribe", "topic": "transactions", "since": 999})
    assert await client.receive() == {"type": "resync_required", "topic": "transactions"}
    await client.subscribe("transactions")


async def test_since_older_than_the_retained_log_needs_a_resync(
    clients, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("1000.00")
    await pay(txn, cashier)
    old = await db(lambda: list(PaymentEvent.objects.values_list("id", flat=True)))()

    def age_and_prune():
        PaymentEvent.objects.update(created_at=timezone.now() - dt.timedelta(days=8))
        call_command("prune_payment_events")

    await db(age_and_prune)()
    await pay(txn, cashier)
    client = await clients.open(user=admin_user)
    await client.send({"type": "subscribe", "topic": "payment_status", "since": old[0]})
    assert await client.receive() == {"type": "resync_required", "topic": "payment_status"}
    # From the pruned point on, the log is complete again: resuming there works.
    await client.send({"type": "subscribe", "topic": "payment_status", "since": max(old)})
    assert (await client.receive())["type"] == "subscribed"
    (frame,) = await client.receive_events(1)
    assert frame["data"]["paid_amount"] == 20.0


async def test_a_prune_committed_while_the_replay_runs_asks_for_a_resync(
    clients, monkeypatch, admin_user, cashier, make_transaction
):
    """The subscribe found ``since`` inside the log; a prune then committed before the
    replay read it. The replay must not skip the pruned events in silence (SPEC 6)."""
    import realtime.delivery

    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    since = (await client.subscribe("payment_status"))["last_event_id"]
    await client.close()
    await pay(txn, cashier)  # missed, then pruned
    await pay(txn, cashier)  # missed, kept
    missed = await db(lambda: list(PaymentEvent.objects.filter(id__gt=since).order_by("id")))()
    real_replay = realtime.delivery.payment_events_replay
    pruned = []

    def prune_first(user, **kwargs):
        if not pruned:
            PaymentEvent.objects.filter(id__lte=missed[1].pk).update(
                created_at=timezone.now() - dt.timedelta(days=8)
            )
            call_command("prune_payment_events")
            pruned.append(True)
        return real_replay(user, **kwargs)

    monkeypatch.setattr(realtime.delivery, "payment_events_replay", prune_first)
    again = await clients.open(user=admin_user)
    await again.send({"type": "subscribe", "topic": "payment_status", "since": since})
    assert (await again.receive())["type"] == "subscribed"
    assert await again.receive() == {"type": "resync_required", "topic": "payment_status"}
    await pay(txn, cashier)  # the topic is left unsubscribed: nothing more arrives
    await again.nothing(0.5)
    assert pruned


async def test_a_replay_is_not_counted_as_delivery_lag(
    clients, admin_user, cashier, make_transaction
):
    """The lag histogram is for operators to alert on: a screen resuming after lunch asks for
    old events, and their age is not the server's lag."""
    from realtime.metrics import DELIVERY_LAG

    def observed() -> float:
        return next(s.value for s in DELIVERY_LAG.collect()[0].samples if s.name.endswith("_count"))

    txn = await db(make_transaction)("1000.00")
    await pay(txn, cashier)
    before = observed()
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status", since=0)
    (replayed,) = await client.receive_events(1)
    assert observed() == before
    await pay(txn, cashier)
    (live,) = await client.receive_events(1)
    assert live["event_id"] > replayed["event_id"]
    assert observed() == before + 1


async def test_a_since_too_far_behind_asks_for_a_resync_instead_of_a_replay(
    clients, monkeypatch, admin_user, cashier, make_transaction
):
    """A subscribe with ``since`` is one frame; its replay was the whole log after it, again
    on every such frame. Further back than MAX_REPLAY_SPAN ids, a refetch is the way back."""
    import realtime.consumers

    monkeypatch.setattr(realtime.consumers, "MAX_REPLAY_SPAN", 4)
    txn = await db(make_transaction)("1000.00")
    first = await clients.open(user=admin_user)
    since = (await first.subscribe("payment_status"))["last_event_id"]
    await first.close()
    await pay(txn, cashier)  # two events each
    await pay(txn, cashier)
    near = await clients.open(user=admin_user)
    await near.send({"type": "subscribe", "topic": "payment_status", "since": since})
    assert (await near.receive())["type"] == "subscribed"
    assert len(await near.receive_events(2)) == 2  # 4 ids behind: replayed
    await near.close()
    await pay(txn, cashier)  # now 6 ids behind: further than the span
    far = await clients.open(user=admin_user)
    await far.send({"type": "subscribe", "topic": "payment_status", "since": since})
    assert await far.receive() == {"type": "resync_required", "topic": "payment_status"}


async def test_replay_is_per_topic(clients, admin_user, cashier, make_transaction):
    txn = await db(make_transaction)("1000.00")
    await pay(txn, cashier)
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status", since=0)
    (frame,) = await client.receive_events(1)
    assert frame["type"] == "payment_status_updated"
    await client.subscribe("transactions", since=0)
    frames = await client.receive_events(2)
    assert [f["data"]["type"] for f in frames] == [
        "transaction_created",
        "payment_settlement_created",
    ]
    await client.nothing(0.6)


async def test_unsubscribe_then_subscribe_since_replays_what_was_sent_before(
    clients, admin_user, cashier, make_transaction
):
    """The connection remembered the ids it had sent across the unsubscribe, and skipped
    them in the replay: a page that subscribes again from an older point (a remounted view
    with an older snapshot) silently missed them."""
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    since = (await client.subscribe("payment_status"))["last_event_id"]
    await pay(txn, cashier)
    await pay(txn, cashier)
    sent_before = [f["event_id"] for f in await client.receive_events(2)]
    await client.send({"type": "unsubscribe", "topic": "payment_status"})
    await client.roundtrip()
    await pay(txn, cashier)
    await client.subscribe("payment_status", since=since)
    replayed = await client.receive_events(3)
    assert [f["data"]["paid_amount"] for f in replayed] == [10.0, 20.0, 30.0]
    assert [f["event_id"] for f in replayed][:2] == sent_before
    await client.nothing(0.5)


async def test_a_replay_gives_a_new_cashier_only_the_queue_written_since(
    clients, sales, sales2, cashier, make_transaction
):
    """The websocket twin of the REST test (tests/api/test_payment_events_api.py), with the
    role given from the group's side this time."""
    from django.contrib.auth.models import Group

    from payments.services import settlement_record

    taken = await db(make_transaction)("1000.00", created_by=sales)
    await db(settlement_record)(
        transaction=taken, amount="10.00", payment_mode="cash", recorded_by=cashier, notes="ref 1"
    )
    await db(lambda: Group.objects.get(name="cashier").user_set.add(sales2))()
    queued = await db(make_transaction)("500.00", created_by=sales)
    client = await clients.open(user=sales2)
    await client.subscribe("transactions", since=0)
    (frame,) = await client.receive_events(1)
    assert (frame["data"]["type"], frame["data"]["transactionId"]) == (
        "transaction_created",
        queued.pk,
    )
    await client.nothing(0.5)


async def test_subscribing_again_with_since_replays_from_there(
    clients, admin_user, cashier, make_transaction
):
    """Without an unsubscribe in between: the ids sent before were still remembered and
    skipped, however long ago they were sent."""
    txn = await db(make_transaction)("1000.00")
    client = await clients.open(user=admin_user)
    since = (await client.subscribe("payment_status"))["last_event_id"]
    await pay(txn, cashier)
    await pay(txn, cashier)
    await client.receive_events(2)
    await client.subscribe("payment_status", since=since)
    replayed = await client.receive_events(2)
    assert [f["data"]["paid_amount"] for f in replayed] == [10.0, 20.0]
    await pay(txn, cashier)
    (live,) = await client.receive_events(1)
    assert live["data"]["paid_amount"] == 30.0
    await client.nothing(0.5)
