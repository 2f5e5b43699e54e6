"""Who receives what (SPEC section 3): admin all; sales their own; a cashier the pool and
their own, including the event that takes a pool transaction to another cashier, and
nothing after it. Live, from the catch-up and in replays alike."""

from __future__ import annotations

import pytest

from payments.services import settlement_record
from transactions.services import transaction_update

from .conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


def _ids(frames: list[dict]) -> list[tuple[str, int]]:
    return [(f["type"], f["data"]["transactionId"]) for f in frames]


async def _watch(clients, user):
    client = await clients.open(user=user)
    await client.subscribe("payment_status")
    await client.subscribe("transactions")
    return client


async def test_admin_receives_everything(clients, admin_user, sales, sales2, make_transaction):
    admin = await _watch(clients, admin_user)
    mine = await db(make_transaction)("100.00", created_by=sales)
    theirs = await db(make_transaction)("100.00", created_by=sales2)
    assert _ids(await admin.receive_events(2)) == [
        ("transaction_updated", mine.pk),
        ("transaction_updated", theirs.pk),
    ]
    await admin.nothing(0.6)


async def test_sales_receive_only_their_own(clients, sales, sales2, cashier, make_transaction):
    agent = await _watch(clients, sales)
    other = await db(make_transaction)("100.00", created_by=sales2)
    mine = await db(make_transaction)("100.00", created_by=sales)
    await db(settlement_record)(
        transaction=other, amount="10.00", payment_mode="cash", recorded_by=cashier
    )
    await db(settlement_record)(
        transaction=mine, amount="10.00", payment_mode="cash", recorded_by=cashier
    )
    assert _ids(await agent.receive_events(3)) == [
        ("transaction_updated", mine.pk),
        ("payment_status_updated", mine.pk),
        ("transaction_updated", mine.pk),
    ]
    await agent.nothing(0.6)  # the catch-up adds nothing either
    # A replay from the start shows the same: nothing of the other agent's.
    replay = await clients.open(user=sales)
    await replay.subscribe("transactions", since=0)
    assert _ids(await replay.receive_events(2)) == [
        ("transaction_updated", mine.pk),
        ("transaction_updated", mine.pk),
    ]
    await replay.nothing(0.6)


async def test_cashier_sees_the_pool_its_own_and_the_move_away_but_nothing_after(
    clients, cashier, cashier2, sales, make_transaction
):
    watcher = await _watch(clients, cashier)
    taker = await _watch(clients, cashier2)
    txn = await db(make_transaction)("300.00", created_by=sales)  # unassigned: the pool
    assert _ids(await watcher.receive_events(1)) == [("transaction_updated", txn.pk)]
    assert _ids(await taker.receive_events(1)) == [("transaction_updated", txn.pk)]

    # cashier2 takes it from the pool by recording the first payment: both see that move.
    await db(settlement_record)(
        transaction=txn, amount="100.00", payment_mode="cash", recorded_by=cashier2
    )
    move = await watcher.receive_events(2)
    assert _ids(move) == [("payment_status_updated", txn.pk), ("transaction_updated", txn.pk)]
    assert move[0]["data"]["cashier_id"] == cashier2.pk
    assert len(await taker.receive_events(2)) == 2

    # From now on it is cashier2's: the other cashier gets nothing, live or by catch-up.
    await db(settlement_record)(
        transaction=txn, amount="100.00", payment_mode="cash", recorded_by=cashier2
    )
    assert _ids(await taker.receive_events(2)) == [
        ("payment_status_updated", txn.pk),
        ("transaction_updated", txn.pk),
    ]
    await watcher.nothing(0.8)
    await taker.nothing(0.3)


async def test_reassignment_reaches_old_and_new_cashier_then_only_the_new(
    clients, admin_user, cashier, cashier2, sales, make_transaction
):
    txn = await db(make_transaction)("300.00", created_by=sales)
    await db(transaction_update)(transaction=txn, updated_by=admin_user, cashier=cashier)
    old = await _watch(clients, cashier)
    new = await _watch(clients, cashier2)
    await db(transaction_update)(transaction=txn, updated_by=admin_user, cashier=cashier2)
    for client in (old, new):
        (frame,) = await client.receive_events(1)
        assert frame["data"]["type"] == "transaction_updated"
        assert frame["data"]["transaction"]["cashier"] == cashier2.pk
    await db(settlement_record)(
        transaction=txn, amount="100.00", payment_mode="cash", recorded_by=cashier2
    )
    assert len(await new.receive_events(2)) == 2
    await old.nothing(0.8)


async def test_a_user_with_two_roles_sees_the_union(clients, sales, sales2, make_transaction):
    from django.contrib.auth.models import Group

    def make_sales_cashier():
        sales.groups.add(Group.objects.get(name="cashier"))

    await db(make_sales_cashier)()
    both = await _watch(clients, sales)
    queued = await db(make_transaction)("100.00", created_by=sales2)
    # As a cashier: sales2's new transaction is in the cashiers' queue.
    assert _ids(await both.receive_events(1)) == [("transaction_updated", queued.pk)]
    # As a sales agent: their own.
    mine = await db(make_transaction)("100.00", created_by=sales)
    assert _ids(await both.receive_events(1)) == [("transaction_updated", mine.pk)]
    await both.nothing(0.6)  # each event once, though it reached two of its groups
