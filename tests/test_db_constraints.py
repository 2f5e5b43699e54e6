"""The database itself refuses rows that break the money invariants (a backstop to services)."""

from __future__ import annotations

import random
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
    # bulk_create: past the model's own refusal (settlement_record only), to the database's
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentSettlement.objects.bulk_create(
            [
                PaymentSettlement(
                    transaction=txn, amount=Decimal("-1.00"), payment_mode="cash", cashier=cashier
                )
            ]
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentSettlement.objects.bulk_create(
            [
                PaymentSettlement(
                    transaction=txn,
                    amount=Decimal("1.00"),
                    payment_mode="cash",
                    cashier=cashier,
                    void_reason="half a void",
                )
            ]
        )


def test_consistent_amounts_are_accepted_whatever_the_database_stores_them_as(make_transaction):
    """SQLite keeps decimal columns as binary floats, in which 1000.30 - 0.10 is not 1000.20:
    the balance check must compare at two places, or an ordinary payment fails there."""
    txn = make_transaction("1000.30")
    rng = random.Random(20261127)
    pairs = [("1000.30", "0.10"), ("0.30", "0.10"), ("0.30", "0.20"), ("9999999999.99", "0.01")]
    pairs += [
        (f"{rng.randint(2, 10**8)}.{rng.randint(0, 99):02d}", f"0.{rng.randint(1, 99):02d}")
        for _ in range(300)
    ]
    for amount, paid in pairs:
        amount, paid = Decimal(amount), Decimal(paid)
        with transaction.atomic():
            updated = Transaction.objects.filter(pk=txn.pk).update(
                amount=amount,
                paid_amount=paid,
                balance_amount=amount - paid,
                payment_status="partial",
            )
        assert updated == 1, (amount, paid)
    txn.refresh_from_db()
    txn.full_clean()  # Django's own check of the constraints, as the admin's forms run it


def test_or_numbers_are_unique_whatever_their_case(make_transaction):
    txn = make_transaction("10.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.filter(pk=make_transaction("20.00").pk).update(
            or_number=txn.or_number.lower()
        )
