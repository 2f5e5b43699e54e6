"""Query budgets of the hot REST paths, so a lazy load or an N+1 shows up as a failure.

A settlement POST is: 1 query of authentication (the user with their roles), then inside
one atomic block (a SAVEPOINT under the test's transaction) the row lock with customer,
sales agent and cashier joined (whether the caller may see the transaction is decided on
that row: no lookup before it), the insert (a reused Idempotency-Key
is refused by the unique constraint, not looked for first), the update (paid is the
locked total plus the amount), one INSERT for both events that also reads their previous
ids (realtime.events.send_events_on_commit; on PostgreSQL preceded, in the same round
trip, by SET CONSTRAINTS ALL IMMEDIATE: one statement more, no wait more), and the
RELEASE. The list
costs the same 4 queries for 1 or 25 rows (customer, sales agent and cashier are joined).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from transactions.services import customer_create, transaction_update

SETTLEMENT_POST_QUERIES = 7  # and CONSTRAINTS_NOW on PostgreSQL


def _settlement_post_queries() -> int:
    return SETTLEMENT_POST_QUERIES + (connection.vendor == "postgresql")


LIST_QUERIES = 4

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def _settle(client: APIClient, txn_id: int, key: str):
    return client.post(
        f"/api/transactions/{txn_id}/settlements/",
        {"amount": "10.00", "payment_mode": "cash"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_settlement_post_stays_within_its_query_budget(
    cashier, make_transaction, django_assert_max_num_queries
):
    txn = make_transaction(amount="1000.00")
    client = _client(cashier)
    assert _settle(client, txn.pk, "warm-up").status_code == 201  # the cashier is now set
    with django_assert_max_num_queries(_settlement_post_queries()):
        response = _settle(client, txn.pk, "second")
    assert response.status_code == 201
    assert response.json()["amount"] == "10.00"


def test_first_settlement_on_an_unassigned_transaction_stays_within_the_budget(
    cashier, make_transaction, django_assert_max_num_queries
):
    txn = make_transaction(amount="1000.00")
    with django_assert_max_num_queries(_settlement_post_queries()):
        response = _settle(_client(cashier), txn.pk, "first")
    assert response.status_code == 201


def test_transaction_list_costs_the_same_for_one_row_or_many(
    admin_user, cashier, make_transaction, django_assert_max_num_queries
):
    cashier_group = Group.objects.get(name="cashier")
    client = _client(admin_user)
    make_transaction(amount="100.00")
    with django_assert_max_num_queries(LIST_QUERIES):
        assert len(client.get("/api/transactions/").json()["results"]) == 1
    for n in range(24):  # distinct customers and cashiers: every related row differs
        other = get_user_model().objects.create_user(username=f"cashier-{n}", first_name="C")
        other.groups.add(cashier_group)
        txn = make_transaction(
            amount="100.00",
            customer=customer_create(name=f"Customer {n}", contact_number=f"0917 000 {n:04d}"),
        )
        transaction_update(transaction=txn, updated_by=admin_user, cashier=other)
    with django_assert_max_num_queries(LIST_QUERIES):
        body = client.get("/api/transactions/?page_size=100").json()
    names = {row["cashier_name"] for row in body["results"]}
    assert len(body["results"]) == 25
    assert "C" in names and None in names
