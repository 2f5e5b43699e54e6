"""Through a running daphne on real Redis and PostgreSQL: 100 settlements recorded at once
across 10 transactions reach an admin exactly once each, in id order; a client that
resumes with ``since`` gets exactly what it missed, even when it drops while the writes
are going on."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal

import pytest

from realtime.models import PaymentEvent

from .live import LiveClient, pay_concurrently

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _ten_payments_on_each_of_ten(make_transaction, cashier, amount: str) -> tuple[list, list]:
    """Ten transactions, and ten settlements of ``amount`` on each, interleaved."""
    txns = [make_transaction("1000.00") for _ in range(10)]
    return txns, [(txn, Decimal(amount), cashier) for _ in range(10) for txn in txns]


def test_100_concurrent_settlements_arrive_once_each_in_order(
    daphne_server, admin_user, cashier, make_transaction
):
    txns, jobs = _ten_payments_on_each_of_ten(make_transaction, cashier, "10.00")

    async def scenario() -> list[dict]:
        client = await LiveClient.open(daphne_server.ws_url, admin_user)
        await client.subscribe("payment_status")
        await asyncio.to_thread(pay_concurrently, jobs)
        frames = await client.collect(100, within=30)
        await client.quiet(2.5)  # past two catch-up rounds: no duplicate shows up
        await client.close()
        return frames

    frames = asyncio.run(scenario())

    logged = set(PaymentEvent.objects.filter(topic="payment_status").values_list("id", flat=True))
    assert len(logged) == 100
    ids = [f["event_id"] for f in frames]
    assert ids == sorted(logged)  # every one, once, in id order across transactions
    per_txn = defaultdict(list)
    for frame in frames:
        per_txn[frame["data"]["transactionId"]].append(frame)
    assert set(per_txn) == {t.pk for t in txns}
    for received in per_txn.values():
        ids = [f["event_id"] for f in received]
        assert ids == sorted(ids)
        assert [f["data"]["paid_amount"] for f in received] == [10.0 * i for i in range(1, 11)]


def test_a_client_dropping_during_concurrent_writes_and_resuming_misses_nothing(
    daphne_server, admin_user, cashier, make_transaction
):
    # Ten threads write 100 settlements across 10 transactions while a client keeps
    # dropping after a few frames (those already on their way are lost with the socket)
    # and resuming from the highest event_id it handled.
    _txns, jobs = _ten_payments_on_each_of_ten(make_transaction, cashier, "1.00")

    async def scenario() -> list[int]:
        client = await LiveClient.open(daphne_server.ws_url, admin_user)
        await client.subscribe("payment_status")
        writing = asyncio.ensure_future(asyncio.to_thread(pay_concurrently, jobs))
        seen: list[int] = []
        for _round in range(60):  # bounded: 100 events, at least 3 a round until the end
            want = min(3, 100 - len(seen))
            if want == 0:
                break
            seen += [f["event_id"] for f in await client.collect(want, within=30)]
            await client.close()
            client = await LiveClient.open(daphne_server.ws_url, admin_user)
            await client.subscribe("payment_status", since=seen[-1])
        await writing
        await client.quiet(2.5)
        await client.close()
        return seen

    seen = asyncio.run(scenario())
    logged = list(
        PaymentEvent.objects.filter(topic="payment_status")
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert seen == logged  # every one, once, in id order


def test_resume_with_since_gets_exactly_what_was_missed(
    daphne_server, admin_user, cashier, make_transaction
):
    txn = make_transaction("1000.00")
    asyncio.run(_resume(daphne_server, admin_user, cashier, txn))


async def _resume(daphne_server, admin_user, cashier, txn) -> None:
    client = await LiveClient.open(daphne_server.ws_url, admin_user)
    await client.subscribe("payment_status")
    await asyncio.to_thread(pay_concurrently, [(txn, "10.00", cashier)])
    (seen,) = await client.collect(1, within=10)
    await client.close()

    await asyncio.to_thread(pay_concurrently, [(txn, "10.00", cashier)] * 5, threads=3)
    again = await LiveClient.open(daphne_server.ws_url, admin_user)
    await again.subscribe("payment_status", since=seen["event_id"])
    missed = await again.collect(5, within=10)
    assert [f["data"]["paid_amount"] for f in missed] == [20.0, 30.0, 40.0, 50.0, 60.0]
    await asyncio.to_thread(pay_concurrently, [(txn, "10.00", cashier)])
    (live,) = await again.collect(1, within=10)
    assert live["data"]["paid_amount"] == 70.0
    await again.quiet(2.5)
    await again.close()
