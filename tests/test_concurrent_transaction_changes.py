"""Races on transactions themselves: a generated OR number and one typed in by hand at the
same moment; a change to a transaction another request is deleting (404, not a 500).
Runs on real PostgreSQL (the waits on locks and unique indexes are the point)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.support.locks import behind_a_lock
from tests.support.services import require_postgres
from transactions.services import transaction_create, transaction_delete

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("method", "body"), [("patch", {"amount": "20.00"}), ("delete", None)])
def test_changing_a_transaction_deleted_meanwhile_is_404(
    admin_user, make_transaction, method, body
):
    require_postgres()
    txn = make_transaction("10.00")

    def change():
        client = APIClient()
        client.force_authenticate(admin_user)
        return getattr(client, method)(f"/api/transactions/{txn.pk}/", body, format="json")

    resp = behind_a_lock(lambda: transaction_delete(transaction=txn, deleted_by=admin_user), change)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not found."}


def test_a_generated_or_number_steps_over_one_being_typed_in_by_hand(customer, sales):
    """SPEC 2: generated race-free, even when someone types the next number by hand and has
    not committed yet when the generator looks."""
    require_postgres()
    typed = f"OR-{timezone.localdate().year}-000001"  # what the generator would pick next
    generated = behind_a_lock(
        lambda: transaction_create(
            customer=customer, amount="10.00", created_by=sales, or_number=typed
        ),
        lambda: transaction_create(customer=customer, amount="20.00", created_by=sales),
    )
    assert generated.or_number == typed.replace("000001", "000002")
