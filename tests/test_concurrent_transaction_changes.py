"""Races on transactions themselves: a generated OR number and one typed in by hand at the
same moment; a change to a transaction another request is deleting (404, not a 500).
Runs on real PostgreSQL (the waits on locks and unique indexes are the point)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.db import transaction as db_transaction
from django.utils import timezone
from rest_framework.test import APIClient

from tests.support.locks import lock_waiter_seen
from tests.support.services import require_postgres
from transactions.services import transaction_create, transaction_delete

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("method", "body"), [("patch", {"amount": "20.00"}), ("delete", None)])
def test_changing_a_transaction_deleted_meanwhile_is_404(
    admin_user, make_transaction, method, body
):
    require_postgres()
    txn = make_transaction("10.00")
    deleting = threading.Event()

    def delete_slowly() -> None:
        try:
            with db_transaction.atomic():
                transaction_delete(transaction=txn, deleted_by=admin_user)
                deleting.set()
                assert lock_waiter_seen()  # the other side queues behind this one
        finally:
            connections.close_all()

    def change():
        try:
            assert deleting.wait(10)
            client = APIClient()
            client.force_authenticate(admin_user)
            return getattr(client, method)(f"/api/transactions/{txn.pk}/", body, format="json")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        deleted, changed = pool.submit(delete_slowly), pool.submit(change)
        deleted.result(timeout=30)
        resp = changed.result(timeout=30)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not found."}


def test_a_generated_or_number_steps_over_one_being_typed_in_by_hand(customer, sales):
    """SPEC 2: generated race-free, even when someone types the next number by hand and has
    not committed yet when the generator looks."""
    require_postgres()
    typed = f"OR-{timezone.localdate().year}-000001"  # what the generator would pick next
    inserted = threading.Event()

    def type_it_in() -> None:
        try:
            with db_transaction.atomic():
                transaction_create(
                    customer=customer, amount="10.00", created_by=sales, or_number=typed
                )
                inserted.set()
                assert lock_waiter_seen()  # the other side queues behind this one
        finally:
            connections.close_all()

    def generate() -> str:
        try:
            assert inserted.wait(10)
            return transaction_create(customer=customer, amount="20.00", created_by=sales).or_number
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        by_hand, generated = pool.submit(type_it_in), pool.submit(generate)
        by_hand.result(timeout=30)
        assert generated.result(timeout=30) == typed.replace("000001", "000002")
