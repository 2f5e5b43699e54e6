"""Nothing financial disappears by cascade: customers, users and transactions are PROTECTed."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError

from payments.models import PaymentSettlement
from payments.services import settlement_record
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(make_transaction, cashier):
    txn = make_transaction("100.00")
    settlement_record(transaction=txn, amount="50.00", payment_mode="cash", recorded_by=cashier)
    return txn


def test_customer_with_transactions_cannot_be_deleted(settled, customer):
    with pytest.raises(ProtectedError):
        customer.delete()
    assert Transaction.objects.filter(pk=settled.pk).exists()


@pytest.mark.parametrize("who", ["sales", "cashier"])
def test_users_behind_financial_records_cannot_be_deleted(settled, request, who):
    with pytest.raises(ProtectedError):
        request.getfixturevalue(who).delete()
    assert PaymentSettlement.objects.filter(transaction=settled).count() == 1


def test_transaction_with_settlements_cannot_be_deleted_even_by_orm(settled):
    with pytest.raises(ProtectedError):
        settled.delete()
    assert PaymentSettlement.objects.count() == 1
