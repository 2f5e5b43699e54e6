"""settlement_record: invariants, validation, cashier assignment, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from payments.models import PaymentSettlement
from payments.services import settlement_record, settlement_void
from transactions.choices import PaymentStatus
from transactions.exceptions import DomainConflict

pytestmark = pytest.mark.django_db


def _assert_invariants(txn):
    txn.refresh_from_db()
    live = sum((s.amount for s in txn.settlements.filter(voided_at__isnull=True)), Decimal("0.00"))
    assert txn.paid_amount == live
    assert txn.balance_amount == txn.amount - live
    expected = (
        PaymentStatus.UNPAID
        if live == 0
        else PaymentStatus.PAID
        if txn.balance_amount == 0
        else PaymentStatus.PARTIAL
    )
    assert txn.payment_status == expected
    return txn


def test_instalments_move_status_unpaid_partial_paid(make_transaction, cashier):
    txn = make_transaction("1500.00")
    assert txn.payment_status == PaymentStatus.UNPAID
    settlement_record(transaction=txn, amount="1000.00", payment_mode="cash", recorded_by=cashier)
    txn = _assert_invariants(txn)
    assert (txn.paid_amount, txn.balance_amount, txn.payment_status) == (
        Decimal("1000.00"),
        Decimal("500.00"),
        PaymentStatus.PARTIAL,
    )
    settlement_record(transaction=txn, amount="500", payment_mode="gcash", recorded_by=cashier)
    txn = _assert_invariants(txn)
    assert txn.payment_status == PaymentStatus.PAID
    assert txn.balance_amount == Decimal("0.00")


def test_first_settlement_makes_recorder_the_cashier(make_transaction, cashier, cashier2):
    txn = make_transaction("100.00")
    assert txn.cashier_id is None
    settlement_record(transaction=txn, amount="10.00", payment_mode="maya", recorded_by=cashier)
    txn.refresh_from_db()
    assert txn.cashier_id == cashier.pk
    # Now it is carla's: another cashier can no longer settle it.
    with pytest.raises(PermissionDenied):
        settlement_record(
            transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier2
        )


def test_settlement_cashier_is_always_the_recorder(make_transaction, admin_user, cashier):
    txn = make_transaction("100.00")
    s = settlement_record(
        transaction=txn, amount="10.00", payment_mode="cash", recorded_by=admin_user
    )
    assert s.cashier_id == admin_user.pk


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "greater than 0"),
        ("0.00", "greater than 0"),
        ("-5.00", "greater than 0"),
        ("10.005", "2 decimal places"),
        ("10.000", "2 decimal places"),
        ("1E+2", "valid number"),
        ("\uff11\uff10.00", "valid number"),
        ("10000000000.00", "less than or equal to 9999999999.99"),
        ("abc", "valid number"),
        ("NaN", "valid number"),
        (10.5, "decimal strings"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(make_transaction, cashier, amount, message):
    txn = make_transaction("1000.00")
    with pytest.raises(ValidationError) as exc:
        settlement_record(transaction=txn, amount=amount, payment_mode="cash", recorded_by=cashier)
    assert message in str(exc.value.message_dict["amount"])
    assert PaymentSettlement.objects.count() == 0
    txn = _assert_invariants(txn)
    assert txn.cashier_id is None


def test_overpayment_names_the_remaining_balance(make_transaction, cashier):
    txn = make_transaction("1500.00")
    settlement_record(transaction=txn, amount="1000.00", payment_mode="cash", recorded_by=cashier)
    with pytest.raises(ValidationError) as exc:
        settlement_record(
            transaction=txn, amount="500.01", payment_mode="cash", recorded_by=cashier
        )
    assert "remaining balance of 500.00" in exc.value.message_dict["amount"][0]
    assert _assert_invariants(txn).paid_amount == Decimal("1000.00")


def test_settling_a_fully_paid_transaction_is_refused(make_transaction, cashier):
    txn = make_transaction("100.00")
    settlement_record(transaction=txn, amount="100.00", payment_mode="cash", recorded_by=cashier)
    with pytest.raises(ValidationError) as exc:
        settlement_record(transaction=txn, amount="0.01", payment_mode="cash", recorded_by=cashier)
    assert "fully paid" in exc.value.message_dict["amount"][0]
    assert PaymentSettlement.objects.count() == 1


def test_unknown_payment_mode_is_refused(make_transaction, cashier):
    txn = make_transaction("100.00")
    with pytest.raises(ValidationError) as exc:
        settlement_record(
            transaction=txn, amount="1.00", payment_mode="bitcoin", recorded_by=cashier
        )
    assert "payment_mode" in exc.value.message_dict
    assert PaymentSettlement.objects.count() == 0


@pytest.mark.parametrize("who", ["sales", "nobody", "inactive"])
def test_only_cashiers_and_admins_record(make_transaction, request, who):
    txn = make_transaction("100.00")
    with pytest.raises(PermissionDenied):
        settlement_record(
            transaction=txn,
            amount="1.00",
            payment_mode="cash",
            recorded_by=request.getfixturevalue(who),
        )
    assert PaymentSettlement.objects.count() == 0


def test_idempotency_key_pays_once(make_transaction, cashier):
    txn = make_transaction("100.00")
    first = settlement_record(
        transaction=txn,
        amount="40.00",
        payment_mode="cash",
        recorded_by=cashier,
        idempotency_key="k1",
    )
    again = settlement_record(
        transaction=txn,
        amount="40.00",
        payment_mode="cash",
        recorded_by=cashier,
        idempotency_key="k1",
    )
    assert again.pk == first.pk
    assert _assert_invariants(txn).paid_amount == Decimal("40.00")
    with pytest.raises(DomainConflict):
        settlement_record(
            transaction=txn,
            amount="41.00",
            payment_mode="cash",
            recorded_by=cashier,
            idempotency_key="k1",
        )


@pytest.mark.parametrize("paid_first", ["100.00", "60.00"], ids=["in-full", "most-of-it"])
def test_a_retry_replays_even_when_the_balance_no_longer_allows_the_payment(
    make_transaction, cashier, paid_first
):
    # The key is not looked for before the INSERT; when the balance checks refuse the
    # payment, a retry must still get its first settlement, not a 400.
    txn = make_transaction("100.00")

    def pay(amount: str, key: str):
        return settlement_record(
            transaction=txn,
            amount=amount,
            payment_mode="gcash",
            recorded_by=cashier,
            idempotency_key=key,
        )

    first = pay(paid_first, "pay-it")
    again = pay(paid_first, "pay-it")
    assert again.pk == first.pk
    assert PaymentSettlement.objects.count() == 1
    assert _assert_invariants(txn).paid_amount == Decimal(paid_first)
    with pytest.raises(ValidationError):  # a new payment of the same size is refused
        pay(paid_first, "another")
    with pytest.raises(DomainConflict):  # and a reused key for another payment is a conflict
        pay("99.00", "pay-it")


def test_a_payment_writes_the_transactions_money_cashier_and_update_time(
    make_transaction, cashier, admin_user
):
    # The service saves only what a payment changes (payments.services.PAYMENT_FIELDS):
    # the totals, the status, the cashier it may assign, and the update time.
    txn = make_transaction("100.00")
    before = type(txn).objects.get(pk=txn.pk)
    settlement = settlement_record(
        transaction=txn, amount="40.00", payment_mode="cash", recorded_by=cashier
    )
    after = type(txn).objects.get(pk=txn.pk)
    assert (after.paid_amount, after.balance_amount, after.payment_status) == (
        Decimal("40.00"),
        Decimal("60.00"),
        PaymentStatus.PARTIAL,
    )
    assert after.cashier_id == cashier.pk
    assert after.updated_at > before.updated_at
    settlement_void(settlement=settlement, voided_by=admin_user, reason="typo")
    voided = type(txn).objects.get(pk=txn.pk)
    assert (voided.paid_amount, voided.payment_status) == (Decimal("0.00"), PaymentStatus.UNPAID)
    assert voided.updated_at > after.updated_at


def test_a_settlement_is_never_deleted_or_edited_nor_recorded_behind_the_service(
    make_transaction, cashier, admin_user
):
    """SPEC: settlements are never deleted or edited, a mistake is voided; paid is the sum
    of the settlements that count. Code that reaches for the model (a shell, a script) is
    refused before it writes, rather than leaving paid, the status and the log behind."""
    from payments.models import SettlementsAreKept

    txn = make_transaction("100.00")
    settlement = settlement_record(
        transaction=txn, amount=Decimal("40.00"), payment_mode="cash", recorded_by=cashier
    )
    stored = PaymentSettlement.objects.get(pk=settlement.pk)
    with pytest.raises(SettlementsAreKept, match="never deleted"):
        stored.delete()
    with pytest.raises(SettlementsAreKept, match="never deleted"):
        PaymentSettlement.objects.filter(pk=settlement.pk).delete()
    stored.amount = Decimal("1.00")
    with pytest.raises(SettlementsAreKept, match="never changed"):
        stored.save()
    with pytest.raises(SettlementsAreKept, match="never changed"):
        PaymentSettlement.objects.filter(pk=settlement.pk).update(amount=Decimal("1.00"))
    with pytest.raises(SettlementsAreKept, match="settlement_record"):
        PaymentSettlement.objects.create(
            transaction=txn, amount=Decimal("5.00"), payment_mode="cash", cashier=cashier
        )
    # Nor the instance the service returned, a copy with its pk cleared, or a deferred load.
    settlement.amount = Decimal("1.00")
    with pytest.raises(SettlementsAreKept, match="never changed"):
        settlement.save()
    copy = PaymentSettlement.objects.get(pk=settlement.pk)
    copy.pk = None
    with pytest.raises(SettlementsAreKept, match="settlement_record"):
        copy.save()
    deferred = PaymentSettlement.objects.only("id", "notes").get(pk=settlement.pk)
    deferred.amount = Decimal("1.00")
    with pytest.raises(SettlementsAreKept, match="never changed"):
        deferred.save()
    deferred = PaymentSettlement.objects.only("id", "notes").get(pk=settlement.pk)
    assert deferred.amount == Decimal("40.00")  # a deferred field read is no change
    deferred.notes = "till 1"
    deferred.save()  # what was loaded may change; the deferred fields are left alone
    # Notes and the void fields may change (voiding is an edit of those alone).
    PaymentSettlement.objects.filter(pk=settlement.pk).update(notes="till 2")
    again = PaymentSettlement.objects.get(pk=settlement.pk)
    again.notes = "till 3"
    again.save()
    txn.refresh_from_db()
    assert PaymentSettlement.objects.filter(transaction=txn).count() == 1
    assert (txn.paid_amount, txn.balance_amount) == (Decimal("40.00"), Decimal("60.00"))
    settlement_void(settlement=again, voided_by=admin_user, reason="entered twice")
    txn.refresh_from_db()
    assert txn.paid_amount == Decimal("0.00")
