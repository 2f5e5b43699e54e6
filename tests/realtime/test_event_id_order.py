"""Event ids commit in id order: a write whose events are logged but not yet committed
holds back the next write's events until it commits or rolls back, so a subscriber never
sees a higher id before a lower one can still appear. PostgreSQL only: SQLite lets one
writer in at a time anyway."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import connection
from django.db import transaction as db_transaction
from django.test import RequestFactory

from payments.services import settlement_record
from tests.support.services import require_postgres
from transactions.forms import AdminAbort
from transactions.models import Transaction

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


def _hold_row_then_pay(txn, cashier, locked, go, outcome):
    """A payment that holds the transaction's row lock, then (on ``go``) writes its events."""
    try:
        with db_transaction.atomic():
            Transaction.objects.select_for_update().get(pk=txn.pk)
            locked.set()
            assert go.wait(10)
            outcome["settlement"] = settlement_record(
                transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier
            )
    except Exception as exc:  # a deadlock would land here (or in the admin's thread)
        outcome["payment_error"] = exc
    finally:
        connection.close()


def _admin_bulk_delete(admin_user, ids, outcome):
    request = RequestFactory().post("/admin/transactions/transaction/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin = admin.site._registry[Transaction]
    try:
        with db_transaction.atomic():  # as the changelist's action runs
            model_admin.delete_queryset(request, Transaction.objects.filter(pk__in=ids))
    except Exception as exc:
        outcome["admin_error"] = exc
    finally:
        connection.close()


async def test_the_admins_bulk_delete_does_not_deadlock_with_a_payment(
    admin_user, cashier, make_transaction
):
    # The admin deletes [first, second] while a payment holds second's row and is about to
    # write its events. Deleting first before locking second would take the event-order
    # lock and then wait for second's row, while the payment waits for that lock.
    require_postgres()
    first = await db(make_transaction)("100.00")
    second = await db(make_transaction)("100.00")
    locked, go, outcome = threading.Event(), threading.Event(), {}
    payer = asyncio.create_task(
        asyncio.to_thread(_hold_row_then_pay, second, cashier, locked, go, outcome)
    )
    assert await asyncio.to_thread(locked.wait, 10)
    deleter = asyncio.create_task(
        asyncio.to_thread(_admin_bulk_delete, admin_user, [first.pk, second.pk], outcome)
    )
    await asyncio.sleep(0.5)  # the admin is now waiting for second's row
    go.set()
    await asyncio.wait_for(asyncio.gather(payer, deleter), 20)
    assert "payment_error" not in outcome, outcome
    assert outcome["settlement"].amount == 10
    # second has a payment now: the admin's action is refused as a whole (nothing deleted)
    assert type(outcome.get("admin_error")) is AdminAbort, outcome
    ids = await db(lambda: set(Transaction.objects.values_list("pk", flat=True)))()
    assert {first.pk, second.pk} <= ids
