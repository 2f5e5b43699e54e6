"""Concurrent retries with one Idempotency-Key pay once (real PostgreSQL row locks).

Each request runs in its own thread with its own database connection, released together by
a barrier, through the whole API stack (authentication, view, service).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from payments.models import PaymentSettlement
from tests.api.conftest import bearer
from tests.support.services import require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def race(requests: list[tuple[int, str, str]], user) -> list:
    """POST each (transaction id, amount, key) at the same instant; the responses."""
    token = str(AccessToken.for_user(user))
    start = threading.Barrier(len(requests), timeout=30)

    def post(request):
        transaction_id, amount, key = request
        try:
            client = bearer(token)
            start.wait()
            return client.post(
                f"/api/transactions/{transaction_id}/settlements/",
                {"amount": amount, "payment_mode": "cash"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=key,
            )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(post, requests))


def test_same_key_at_the_same_moment_creates_one_settlement(make_transaction, cashier):
    require_postgres()
    txn = make_transaction("1000.00")
    responses = race([(txn.pk, "250.00", "retry-me")] * 8, cashier)
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["id"] for r in responses}) == 1
    assert PaymentSettlement.objects.filter(transaction=txn).count() == 1
    txn.refresh_from_db()
    assert (txn.paid_amount, txn.balance_amount) == (Decimal("250.00"), Decimal("750.00"))


def test_same_key_on_two_transactions_at_once_pays_one_of_them(make_transaction, cashier):
    """The per-transaction lock does not cover this case; the unique key constraint does."""
    require_postgres()
    first, second = make_transaction("100.00"), make_transaction("100.00")
    responses = race([(first.pk, "10.00", "k"), (second.pk, "10.00", "k")], cashier)
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert PaymentSettlement.objects.count() == 1
