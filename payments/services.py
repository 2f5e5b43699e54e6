"""Recording and voiding settlements: the only code that changes what a transaction has paid."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.utils import timezone

from transactions.choices import PaymentMode, Role
from transactions.exceptions import DomainConflict, TransactionHidden
from transactions.models import Transaction
from transactions.money import money_parse
from transactions.selectors import transaction_visible_to, user_roles
from transactions.services import transaction_lock, transaction_totals_refresh

from .models import PaymentSettlement


def settlement_record_check(user: AbstractBaseUser) -> None:
    """Who may record payments: cashiers and admins (``PermissionDenied`` for anyone else).
    The API asks before it reads a request's body, so a refusal never depends on it."""
    if not user_roles(user) & {Role.CASHIER, Role.ADMIN}:
        raise PermissionDenied("Only cashiers and admins record payments.")


def settlement_void_check(user: AbstractBaseUser) -> None:
    """Who may void payments: admins (``PermissionDenied`` for anyone else)."""
    if Role.ADMIN not in user_roles(user):
        raise PermissionDenied("Only admins void payments.")


def settlement_record(
    *,
    transaction: Transaction | int,
    amount: Decimal | str,
    payment_mode: str,
    recorded_by: AbstractBaseUser,
    notes: str = "",
    idempotency_key: str | None = None,
) -> PaymentSettlement:
    """Record money received on ``transaction`` (the instance or its id: it is read again
    under its row lock either way). Cashier and admin only; the recorder is always the
    settlement's cashier, and becomes the transaction's cashier when it had none. A
    transaction the recorder may not see, once locked, is ``TransactionHidden``; an id
    that matches none, ``Transaction.DoesNotExist``.

    With ``idempotency_key``, a retry by the same user returns the first settlement instead
    of paying twice; the same key with a different request is a DomainConflict.
    """
    settlement_record_check(recorded_by)
    amount = money_parse(amount)
    if payment_mode not in PaymentMode.values:
        raise ValidationError({"payment_mode": [f'"{payment_mode}" is not a valid choice.']})
    transaction_id = transaction if isinstance(transaction, int) else transaction.pk
    try:
        return _settlement_record_locked(
            transaction_id=transaction_id,
            amount=amount,
            payment_mode=payment_mode,
            recorded_by=recorded_by,
            notes=notes,
            idempotency_key=idempotency_key,
        )
    except IntegrityError:
        # This user already used the key: a retry, or the same key at the same moment on
        # another transaction (the unique constraint let exactly one of them in).
        if idempotency_key is None:
            raise
        existing = _existing(recorded_by, idempotency_key)
        if existing is None:
            raise
        return _idempotent_replay(existing, transaction_id, amount, payment_mode)


@db_transaction.atomic
def _settlement_record_locked(
    *,
    transaction_id: int,
    amount: Decimal,
    payment_mode: str,
    recorded_by: AbstractBaseUser,
    notes: str,
    idempotency_key: str | None,
) -> PaymentSettlement:
    # Lock the transaction row first: concurrent settlements on it queue here, and each one
    # checks the balance only after the previous one committed. Nothing overpays. Whether
    # the recorder may see it is decided here too, on the row as it stands once locked (the
    # API looks nothing up before: one query less on every payment).
    txn = transaction_lock(transaction_id=transaction_id)
    if not transaction_visible_to(recorded_by, txn):
        raise TransactionHidden("This transaction is handled by another cashier.")
    refusal = settlement_balance_refusal(txn, amount)
    if refusal is not None:
        # A retry of a payment that used up the balance must still get its first result.
        existing = _existing(recorded_by, idempotency_key)
        if existing is not None:
            return _idempotent_replay(existing, transaction_id, amount, payment_mode)
        raise ValidationError({"amount": [refusal]})
    if txn.cashier_id is None:
        txn.cashier = recorded_by
    settlement = PaymentSettlement(
        transaction=txn,
        amount=amount,
        payment_mode=payment_mode,
        cashier=recorded_by,
        notes=notes,
        idempotency_key=idempotency_key,
        paid_at=timezone.now(),
    )
    settlement.recording = True
    # A retry with a used key is not looked for first: the unique constraint on (cashier,
    # key) refuses its INSERT (IntegrityError), the block rolls back and settlement_record
    # answers with the first settlement. A new payment, the common case, skips that query.
    settlement.save()
    # Under the row lock the stored total is exact: add this payment to it.
    transaction_totals_refresh(txn=txn, paid=txn.paid_amount + amount)
    _save_transaction(txn, recorded_by)
    return settlement


def settlement_balance_refusal(txn: Transaction, amount: Decimal) -> str | None:
    """Why ``amount`` cannot be paid on ``txn`` as read (None when it can)."""
    if txn.balance_amount <= 0:
        return "This transaction is fully paid; the remaining balance is 0.00."
    if amount > txn.balance_amount:
        return f"Amount exceeds the remaining balance of {txn.balance_amount}."
    return None


def _existing(recorded_by: AbstractBaseUser, idempotency_key: str | None):
    if idempotency_key is None:
        return None
    return PaymentSettlement.objects.filter(
        cashier=recorded_by, idempotency_key=idempotency_key
    ).first()


#: What recording or voiding a payment changes on its transaction; only these are written
#: (the row is locked and re-read by the service, so the others are as stored).
PAYMENT_FIELDS = ("paid_amount", "balance_amount", "payment_status", "cashier", "updated_at")


def _save_transaction(txn: Transaction, actor) -> None:
    """Save the transaction after its settlement: the settlement's post_save receiver
    attached it to ``txn`` (``change_settlement``), and the transaction's post_save writes
    the events describing both, in this one commit."""
    txn.change_actor = actor
    txn.save(update_fields=PAYMENT_FIELDS)


def _idempotent_replay(
    existing: PaymentSettlement, transaction_id: int, amount: Decimal, payment_mode: str
) -> PaymentSettlement:
    if (existing.transaction_id, existing.amount, existing.payment_mode) != (
        transaction_id,
        amount,
        payment_mode,
    ):
        raise DomainConflict("This Idempotency-Key was already used for a different payment.")
    return existing


@db_transaction.atomic
def settlement_void(
    *, settlement: PaymentSettlement, voided_by: AbstractBaseUser, reason: str
) -> PaymentSettlement:
    """Void a settlement (admin only): it stays on record and stops counting toward paid."""
    settlement_void_check(voided_by)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required to void a payment."]})
    # Same lock order as settlement_record (transaction row, then its settlements).
    txn = transaction_lock(transaction_id=settlement.transaction_id)
    settlement = PaymentSettlement.objects.select_for_update().get(pk=settlement.pk)
    if settlement.voided_at is not None:
        raise ValidationError({"non_field_errors": ["This payment is already voided."]})
    settlement.transaction = txn
    settlement.voided_at = timezone.now()
    settlement.voided_by = voided_by
    settlement.void_reason = reason
    settlement.save()
    transaction_totals_refresh(txn=txn)  # re-derived from the rows that still count
    _save_transaction(txn, voided_by)
    return settlement
