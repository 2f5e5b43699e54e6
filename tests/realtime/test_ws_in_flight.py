"""A write still in flight when a client subscribes (its event id is taken, its commit comes
later) is new to that client: it is delivered when it commits, not written off as history.
PostgreSQL only: SQLite serializes writers, so nothing is ever in flight there."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection
from django.db import transaction as db_transaction

from payments.services import settlement_record
from tests.support.services import require_postgres

from .conftest import db

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _record_and_hold(txn, cashier, written: threading.Event, release: threading.Event):
    try:
        with db_transaction.atomic():
            settlement_record(
                transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier
            )
            written.set()
            assert release.wait(10)
    finally:
        connection.close()


@pytest.mark.parametrize("since", [None, "before"])
async def test_an_event_committing_after_subscribe_is_delivered(
    clients, admin_user, cashier, make_transaction, since
):
    require_postgres()
    slow = await db(make_transaction)("100.00")
    fast = await db(make_transaction)("100.00")
    from realtime.models import PaymentEvent

    start = await db(lambda: PaymentEvent.objects.order_by("-id").first().pk)()
    written, release = threading.Event(), threading.Event()
    holder = asyncio.create_task(
        asyncio.to_thread(_record_and_hold, slow, cashier, written, release)
    )
    assert await asyncio.to_thread(written.wait, 10)
    await db(settlement_record)(  # commits, with higher ids than the held write's
        transaction=fast, amount="10.00", payment_mode="cash", recorded_by=cashier
    )
    client = await clients.open(user=admin_user)
    sub = await client.subscribe("payment_status", since=None if since is None else start)
    if since is not None:
        (replayed,) = await client.receive_events(1)
        assert replayed["data"]["transactionId"] == fast.pk
    release.set()
    await holder
    (frame,) = await client.receive_events(1, timeout=5)
    assert frame["data"]["transactionId"] == slow.pk
    assert frame["event_id"] < sub["last_event_id"]
    await client.nothing(0.8)
