"""Writes to customers and transactions. Every rule about them lives here (HackSoft services).

Each function is atomic; events are emitted by the post_save receivers in realtime/signals.py
from inside the same database transaction, and reach websockets only after it commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.db.models import Sum
from django.utils import timezone

from escashop.compiled_query import CompiledQuery

from .choices import PaymentMode, Role
from .exceptions import DomainConflict
from .models import OR_NUMBER_TAKEN, ZERO, Customer, OrNumberSequence, Transaction
from .money import CENT, money_parse, payment_status_for
from .selectors import MAX_ID, transaction_visible_to, user_roles

_UNCHANGED = object()


def _require_role(user: AbstractBaseUser, *roles: Role, action: str) -> None:
    if not user_roles(user) & set(roles):
        raise PermissionDenied(f"You do not have permission to {action}.")


def customer_create(*, name: str, contact_number: str, email: str = "") -> Customer:
    customer = Customer(
        name=name.strip(), contact_number=contact_number.strip(), email=email.strip()
    )
    customer.full_clean()
    customer.save()
    return customer


def customer_update(*, customer: Customer, **fields: str) -> Customer:
    """Change the fields given, and only those: ``customer`` may have been read before a
    concurrent update of another field, which saving every column would undo."""
    given = [name for name in ("name", "contact_number", "email") if name in fields]
    for name in given:
        setattr(customer, name, fields[name].strip())
    customer.full_clean()
    customer.save(update_fields=[*given, "updated_at"])
    customer.refresh_from_db()  # the other fields as they are now, for the response
    return customer


#: Tries at a generated OR number that a concurrent, hand-typed one turned out to hold.
OR_NUMBER_ATTEMPTS = 3


#: The earliest sale date accepted (in the shop's time zone), and how far ahead of the
#: server's clock one may be (a till whose clock runs a little fast).
EARLIEST_TRANSACTION_DATE = dt.date(2000, 1, 1)
TRANSACTION_DATE_LEEWAY = dt.timedelta(days=1)


def transaction_date_check(when: dt.datetime) -> None:
    """A sale happened: not in the future (beyond the leeway), not before 2000 in the shop's
    time zone. A year-9999 date would sort first in every list, every cashier's queue
    included. (A naive datetime is read in the shop's time zone, as Django would store it.)"""
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > timezone.now() + TRANSACTION_DATE_LEEWAY:
        raise ValidationError({"transaction_date": ["A sale cannot be dated in the future."]})
    if timezone.localdate(when) < EARLIEST_TRANSACTION_DATE:
        raise ValidationError({"transaction_date": ["A sale cannot be dated before 2000."]})


def or_number_check(or_number: str) -> None:
    """A typed-in OR number: visible characters only, and unique whatever its case ("or-1"
    is "OR-1"; the list's filter finds them alike). The unique constraints back this up."""
    if not or_number.isprintable():
        raise ValidationError(
            {"or_number": ["Use visible characters only (no control or invisible characters)."]}
        )
    if Transaction.objects.filter(or_number__iexact=or_number).exists():
        raise ValidationError({"or_number": [OR_NUMBER_TAKEN]})


def or_number_next(*, year: int) -> str:
    """The next free ``OR-<year>-NNNNNN``. Must run inside the caller's atomic block."""
    OrNumberSequence.objects.get_or_create(year=year)
    # Lock this year's counter row until the caller commits: two concurrent creates cannot
    # take the same number. Numbers a user typed in by hand are skipped, not reused.
    sequence = OrNumberSequence.objects.select_for_update().get(year=year)
    while True:
        sequence.last_value += 1
        candidate = f"OR-{year}-{sequence.last_value:06d}"
        if not Transaction.objects.filter(or_number__iexact=candidate).exists():
            break
    sequence.save(update_fields=["last_value"])
    return candidate


def transaction_create(
    *,
    customer: Customer,
    amount: Decimal | str,
    created_by: AbstractBaseUser,
    payment_mode: str = PaymentMode.CASH,
    or_number: str | None = None,
    transaction_date: dt.datetime | None = None,
) -> Transaction:
    """Record a sale; its creator is its sales agent. Sales and admin only."""
    transaction_create_check(created_by)
    amount = money_parse(amount)
    if payment_mode not in PaymentMode.values:
        raise ValidationError({"payment_mode": [f'"{payment_mode}" is not a valid choice.']})
    or_number = (or_number or "").strip() or None
    if or_number is not None:
        or_number_check(or_number)
    if transaction_date is not None:
        transaction_date_check(transaction_date)
    for attempt in range(1, OR_NUMBER_ATTEMPTS + 1):
        try:
            with db_transaction.atomic():
                txn = Transaction(
                    customer=customer,
                    or_number=or_number or or_number_next(year=timezone.localdate().year),
                    amount=amount,
                    payment_mode=payment_mode,
                    sales_agent=created_by,
                    paid_amount=ZERO,
                    balance_amount=amount,
                    transaction_date=transaction_date or timezone.now(),
                )
                txn.change_actor = created_by
                txn.save()
        except IntegrityError:
            # Only the unique OR number can collide here. Typed in: someone took it since our
            # check. Generated: the same number was being typed in by hand, uncommitted when
            # the generator looked (its INSERT waited for that one); it has committed now, so
            # the next attempt skips it.
            if or_number or attempt == OR_NUMBER_ATTEMPTS:
                raise ValidationError({"or_number": [OR_NUMBER_TAKEN]}) from None
            continue
        return txn
    raise AssertionError("unreachable")  # the loop returns or raises


def transaction_lock(*, transaction_id: int) -> Transaction:
    """Re-read a transaction with its row locked until the surrounding atomic block ends.

    Every write to a transaction's money (settle, void, correct) takes this lock first, so
    they serialize per transaction; a concurrent writer waits here and then sees the totals
    the previous one committed. On SQLite the IMMEDIATE transaction mode does the same.

    The customer, sales agent and cashier come in the same query (the event payloads and
    responses show their names); only the transaction's row is locked (``of``: PostgreSQL
    refuses FOR UPDATE on the nullable side of the cashier's outer join). An id no 64-bit
    key can take (from a URL) is ``Transaction.DoesNotExist``, as a missing one.
    """
    if not 0 < transaction_id <= MAX_ID:
        raise Transaction.DoesNotExist(f"No transaction with id {transaction_id}.")
    txn = _LOCKED.get(transaction_id=transaction_id)
    # After waiting for the lock, PostgreSQL re-reads the locked row but not the rows joined
    # to it: a cashier assigned meanwhile came back as no cashier (a blank name in the
    # event and the response). A relation whose id moved is read again when used.
    for field in _JOINED:
        cached = field.get_cached_value(txn, default=None)
        if (cached.pk if cached is not None else None) != getattr(txn, field.attname):
            field.delete_cached_value(txn)
    return txn


_JOINED = [Transaction._meta.get_field(name) for name in ("customer", "sales_agent", "cashier")]


# Compiled once (escashop.compiled_query): building this query took Django longer than
# running it, on every payment.
_LOCKED = CompiledQuery(
    Transaction,
    lambda _key, *, transaction_id: (
        Transaction.objects.select_related("customer", "sales_agent", "cashier")
        .select_for_update(of=("self",))
        .filter(pk=transaction_id)
    ),
    names=("transaction_id",),
)


def transaction_totals_refresh(*, txn: Transaction, paid: Decimal | None = None) -> None:
    """Set paid, balance and status (caller holds the lock): ``paid`` derived from the
    non-voided settlements, or as the caller computed it under that lock."""
    if paid is None:
        paid = txn.settlements.filter(voided_at__isnull=True).aggregate(total=Sum("amount"))[
            "total"
        ]
    paid = (paid or ZERO).quantize(CENT)  # SQLite's SUM drops trailing zeros
    txn.paid_amount = paid
    txn.balance_amount = txn.amount - paid
    txn.payment_status = payment_status_for(amount=txn.amount, paid=paid)


@db_transaction.atomic
def transaction_update(
    *,
    transaction: Transaction,
    updated_by: AbstractBaseUser,
    amount: Decimal | str | None = None,
    cashier: AbstractBaseUser | object | None = _UNCHANGED,
    shown: Mapping[str, Any] | None = None,
) -> Transaction:
    """Admin corrections: the amount (never below what is paid) and the handling cashier.

    ``shown``: what the caller's page showed of the fields it corrects (``amount``, the
    ``cashier`` user or None). A correction made on a page that another correction of the
    same field has since made stale is refused, instead of silently undoing it.
    """
    transaction_change_check(updated_by)
    txn = transaction_lock(transaction_id=transaction.pk)
    _stale_check(txn, shown or {})
    if amount is not None:
        amount = money_parse(amount)
        if amount < txn.paid_amount:
            raise ValidationError(
                {"amount": [f"Amount cannot be less than what has been paid ({txn.paid_amount})."]}
            )
        txn.amount = amount
        transaction_totals_refresh(txn=txn)
    if cashier is not _UNCHANGED:
        if cashier is not None and not user_roles(cashier) & {Role.CASHIER, Role.ADMIN}:
            raise ValidationError({"cashier": ["This user is not an active cashier."]})
        txn.cashier = cashier
    txn.change_actor = updated_by
    txn.save()
    return txn


def _stale_check(txn: Transaction, shown: Mapping[str, Any]) -> None:
    """Refuse a correction of a field whose stored value is no longer what the page showed."""
    if "amount" in shown and shown["amount"] != txn.amount:
        raise ValidationError(
            {"amount": [f"{STALE} The amount is now {txn.amount}, not {shown['amount']}."]}
        )
    if "cashier" in shown:
        was = shown["cashier"].pk if shown["cashier"] is not None else None
        if was != txn.cashier_id:
            now = txn.cashier.get_username() if txn.cashier is not None else "nobody"
            raise ValidationError({"cashier": [f"{STALE} The cashier is now {now}."]})


STALE = "Someone else changed this since the page was opened: reload it and check."


def transaction_create_check(user: AbstractBaseUser) -> None:
    """Who may record a sale: sales and admins (PermissionDenied otherwise). The API asks
    before it reads the body, as ``transaction_change_check``."""
    _require_role(user, Role.SALES, Role.ADMIN, action="create transactions")


def transaction_change_check(user: AbstractBaseUser) -> None:
    """Who may correct a transaction: admins (PermissionDenied otherwise). The API asks
    before it reads the body, so a refused caller learns nothing from its validation (which
    user ids exist, say)."""
    _require_role(user, Role.ADMIN, action="change transactions")


@db_transaction.atomic
def transaction_delete(*, transaction: Transaction, deleted_by: AbstractBaseUser) -> None:
    """Admin only, and never a transaction with settlements (financial records stay)."""
    _require_role(deleted_by, Role.ADMIN, action="delete transactions")
    txn = transaction_lock(transaction_id=transaction.pk)
    if txn.settlements.exists():
        raise DomainConflict("This transaction has payment settlements and cannot be deleted.")
    txn.change_actor = deleted_by
    txn.delete()


def transaction_check_visible(*, user: AbstractBaseUser, txn: Transaction) -> None:
    if not transaction_visible_to(user, txn):
        raise PermissionDenied("You cannot see this transaction.")
