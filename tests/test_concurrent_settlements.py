"""Concurrent settlements serialize on the transaction row: none lost, none overpays.

Runs on real PostgreSQL (row locks are the point); skips without it, fails in CI.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from payments.models import PaymentSettlement
from payments.services import settlement_record
from realtime.models import PaymentEvent
from tests.support.locks import behind_a_lock, lock_waiter_seen
from tests.support.services import require_postgres
from transactions.choices import PaymentStatus
from transactions.services import transaction_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_twenty_threads_on_one_transaction_exactly_ten_succeed(customer, sales, cashier):
    require_postgres()
    txn = transaction_create(customer=customer, amount=Decimal("1000.00"), created_by=sales)
    start = threading.Barrier(20, timeout=30)

    def pay(_: int) -> str:
        try:
            start.wait()
            settlement_record(
                transaction=txn, amount=Decimal("100.00"), payment_mode="cash", recorded_by=cashier
            )
            return "ok"
        except ValidationError as exc:
            return "refused: " + "; ".join(exc.messages)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(pay, range(20)))

    assert results.count("ok") == 10, results
    refusals = [r for r in results if r != "ok"]
    assert len(refusals) == 10
    assert all("fully paid" in r or "remaining balance" in r for r in refusals), refusals
    txn.refresh_from_db()
    assert (txn.paid_amount, txn.balance_amount, txn.payment_status) == (
        Decimal("1000.00"),
        Decimal("0.00"),
        PaymentStatus.PAID,
    )
    assert PaymentSettlement.objects.filter(transaction=txn).count() == 10
    # One payment_status_updated per successful settlement, in commit order.
    events = list(
        PaymentEvent.objects.filter(transaction_id=txn.pk, frame_type="payment_status_updated")
    )
    assert len(events) == 10
    assert events[0].previous_event_id is None
    assert [e.previous_event_id for e in events[1:]] == [e.id for e in events[:-1]]
    assert connection.vendor == "postgresql"


def test_concurrent_creates_get_distinct_or_numbers(customer, sales):
    require_postgres()
    start = threading.Barrier(10, timeout=30)

    def create(_: int) -> str:
        try:
            start.wait()
            return transaction_create(
                customer=customer, amount=Decimal("10.00"), created_by=sales
            ).or_number
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=10) as pool:
        numbers = list(pool.map(create, range(10)))
    assert len(set(numbers)) == 10


def test_a_payment_that_waited_for_the_lock_names_the_cashier_assigned_meanwhile(
    customer, sales, cashier, admin_user
):
    """PostgreSQL re-reads a row it waited to lock, not the rows joined to it: the cashier
    the first payment assigned must still have a name in the second payment's event."""
    require_postgres()
    txn = transaction_create(customer=customer, amount=Decimal("1000.00"), created_by=sales)
    behind_a_lock(
        # The queue's transaction becomes this cashier's, while the next payment waits.
        lambda: settlement_record(
            transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier
        ),
        lambda: settlement_record(
            transaction=txn, amount="20.00", payment_mode="cash", recorded_by=admin_user
        ),
    )

    last = PaymentEvent.objects.filter(
        transaction_id=txn.pk, frame_type="transaction_updated"
    ).latest("id")
    shown = json.loads(last.data)["transaction"]
    assert (shown["cashier"], shown["cashier_name"]) == (cashier.pk, "Carla Cruz")


def test_a_payment_held_at_a_foreign_key_check_holds_up_no_other_payment(
    customer, sales, cashier, cashier2
):
    """Django's foreign keys on PostgreSQL are checked at COMMIT unless told otherwise. A
    payment whose cashier's account row was locked (its deletion in progress) waited there,
    holding the event-order lock, and every other payment of the shop waited behind it; the
    checks now run before that lock (realtime.events.CONSTRAINTS_NOW)."""
    require_postgres()
    theirs = transaction_create(customer=customer, amount=Decimal("100.00"), created_by=sales)
    other = transaction_create(customer=customer, amount=Decimal("100.00"), created_by=sales)
    s = connection.settings_dict
    params = {"dbname": s["NAME"], "host": s["HOST"], "port": s["PORT"], "user": s["USER"]}
    params["password"] = s["PASSWORD"]
    holder = psycopg.connect(**{k: v for k, v in params.items() if v})
    holder.execute("SELECT id FROM auth_user WHERE id = %s FOR UPDATE", [cashier.pk])

    def pay(txn, who):
        try:
            return settlement_record(transaction=txn, amount="10.00", payment_mode="cash",
                                     recorded_by=who)  # fmt: skip
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        try:
            held = pool.submit(pay, theirs, cashier)
            assert lock_waiter_seen(), "the payment never waited for the account's row"
            started = time.monotonic()
            unrelated = pool.submit(pay, other, cashier2).result(timeout=20)
            waited = time.monotonic() - started
            assert not held.done()
        finally:
            holder.rollback()
            holder.close()
        assert held.result(timeout=20).amount == Decimal("10.00")
    assert unrelated.amount == Decimal("10.00")
    assert waited < 2.0, f"an unrelated payment waited {waited:.1f} s for the held one"
