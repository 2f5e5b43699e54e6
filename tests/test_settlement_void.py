"""settlement_void: admin only, once, with a reason; the totals follow."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from payments.services import settlement_record, settlement_void
from transactions.choices import PaymentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_twice(make_transaction, cashier):
    txn = make_transaction("1000.00")
    first = settlement_record(
        transaction=txn, amount="600.00", payment_mode="cash", recorded_by=cashier
    )
    second = settlement_record(
        transaction=txn, amount="400.00", payment_mode="gcash", recorded_by=cashier
    )
    return txn, first, second


def test_void_reopens_the_balance(paid_twice, admin_user):
    txn, first, _ = paid_twice
    txn.refresh_from_db()
    assert txn.payment_status == PaymentStatus.PAID
    voided = settlement_void(settlement=first, voided_by=admin_user, reason="Wrong customer")
    assert voided.voided_by == admin_user and voided.void_reason == "Wrong customer"
    txn.refresh_from_db()
    assert (txn.paid_amount, txn.balance_amount, txn.payment_status) == (
        Decimal("400.00"),
        Decimal("600.00"),
        PaymentStatus.PARTIAL,
    )


def test_voiding_everything_makes_it_unpaid_and_payable_again(paid_twice, admin_user, cashier):
    txn, first, second = paid_twice
    settlement_void(settlement=first, voided_by=admin_user, reason="duplicate")
    settlement_void(settlement=second, voided_by=admin_user, reason="duplicate")
    txn.refresh_from_db()
    assert (txn.paid_amount, txn.payment_status) == (Decimal("0.00"), PaymentStatus.UNPAID)
    settlement_record(transaction=txn, amount="1000.00", payment_mode="cash", recorded_by=cashier)
    txn.refresh_from_db()
    assert txn.payment_status == PaymentStatus.PAID


def test_voiding_twice_is_refused_and_changes_nothing(paid_twice, admin_user):
    txn, first, _ = paid_twice
    settlement_void(settlement=first, voided_by=admin_user, reason="duplicate")
    with pytest.raises(ValidationError) as exc:
        settlement_void(settlement=first, voided_by=admin_user, reason="again")
    assert "already voided" in str(exc.value)
    first.refresh_from_db()
    assert first.void_reason == "duplicate"
    txn.refresh_from_db()
    assert txn.paid_amount == Decimal("400.00")


def test_a_reason_is_required(paid_twice, admin_user):
    _, first, _ = paid_twice
    with pytest.raises(ValidationError) as exc:
        settlement_void(settlement=first, voided_by=admin_user, reason="   ")
    assert "reason" in exc.value.message_dict
    first.refresh_from_db()
    assert first.voided_at is None


@pytest.mark.parametrize("who", ["cashier", "sales", "nobody", "inactive"])
def test_only_admins_void(paid_twice, request, who):
    _, first, _ = paid_twice
    with pytest.raises(PermissionDenied):
        settlement_void(settlement=first, voided_by=request.getfixturevalue(who), reason="x")
    first.refresh_from_db()
    assert first.voided_at is None
