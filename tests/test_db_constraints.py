"""The database itself refuses rows that break the money invariants (a backstop to services)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from payments.models import PaymentSettlement
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "changes",
    [
        {"paid_amount": Decimal("5.00")},  # balance no longer amount - paid
        {"payment_status": "paid"},  # status disagrees with the amounts
        {"paid_amount": Decimal("20.00"), "balance_amount": Decimal("-10.00")},  # overpaid
        {"amount": Decimal("0.00"), "balance_amount": Decimal("0.00")},
        {"payment_mode": "bitcoin"},
    ],
)
def test_inconsistent_transaction_rows_are_refused(make_transaction, changes):
    txn = make_transaction("10.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.filter(pk=txn.pk).update(**changes)


def test_settlement_rows_need_positive_amounts_and_whole_void_fields(make_transaction, cashier):
    txn = make_transaction("10.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentSettlement.objects.create(
            transaction=txn, amount=Decimal("-1.00"), payment_mode="cash", cashier=cashier
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentSettlement.objects.create(
            transaction=txn,
            amount=Decimal("1.00"),
            payment_mode="cash",
            cashier=cashier,
            void_reason="half a void",
        )
