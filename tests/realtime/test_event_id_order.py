"""Event ids commit in id order: a write whose events are logged but not yet committed
holds back the next write's events until it commits or rolls back, so a subscriber never
sees a higher id before a lower one can still appear. PostgreSQL only: SQLite lets one
writer in at a time anyway."""

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


class Rollback(Exception):
    pass


def _record_and_hold(txn, cashier, written, release, *, commit: bool):
    try:
        with db_transaction.atomic():
            settlement_record(
                transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier
            )
            written.set()
            assert release.wait(10)
            if not commit:
                raise Rollback
    except Rollback:
        pass
    finally:
        connection.close()


def _record(txn, cashier):
    try:
        return settlement_record(
            transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier
        )
    finally:
        connection.close()


@pytest.mark.parametrize("commit", [True, False], ids=["commits", "rolls-back"])
async def test_a_write_in_flight_holds_back_the_next_writes_events(
    clients, admin_user, cashier, make_transaction, commit
):
    require_postgres()
    slow = await db(make_transaction)("100.00")
    fast = await db(make_transaction)("100.00")
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    written, release = threading.Event(), threading.Event()
    holder = asyncio.create_task(
        asyncio.to_thread(_record_and_hold, slow, cashier, written, release, commit=commit)
    )
    assert await asyncio.to_thread(written.wait, 10)
    follower = asyncio.create_task(asyncio.to_thread(_record, fast, cashier))
    await asyncio.sleep(0.5)
    assert not follower.done()  # waiting for the events lock, not committed around it
    await client.nothing(0.3)
    release.set()
    await holder
    await asyncio.wait_for(follower, 10)
    frames = await client.receive_events(2 if commit else 1, timeout=5)
    expected = [slow.pk, fast.pk] if commit else [fast.pk]
    assert [f["data"]["transactionId"] for f in frames] == expected
    ids = [f["event_id"] for f in frames]
    assert ids == sorted(ids)
    await client.nothing(0.8)
