"""Money parsing and the one place where a transaction's totals are derived."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from .choices import MAX_AMOUNT, PaymentStatus

CENT = Decimal("0.01")
#: Plain decimal notation only: no exponents, signs other than "-", or non-ASCII digits.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def money_parse(value: object, *, field: str = "amount") -> Decimal:
    """A positive two-place Decimal, or ValidationError naming ``field``. Floats are refused."""
    if isinstance(value, float | bool):
        raise ValidationError({field: ['Send amounts as decimal strings, e.g. "1500.00".']})
    if isinstance(value, str):
        value = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise ValidationError({field: ["A valid number is required."]})
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: ["A valid number is required."]}) from None
    if not amount.is_finite():
        raise ValidationError({field: ["A valid number is required."]})
    if amount <= 0:
        raise ValidationError({field: ["Ensure this value is greater than 0."]})
    if amount > MAX_AMOUNT:
        raise ValidationError(
            {field: [f"Ensure this value is less than or equal to {MAX_AMOUNT}."]}
        )
    # Only now, with the amount in range, is quantize safe: on a number with more than 28
    # digits it raises InvalidOperation (decimal's default precision) instead of answering.
    # "10.000" is refused too: more than two places is an error, never a rounding (SPEC 2).
    if amount.as_tuple().exponent < -2:
        raise ValidationError({field: ["Ensure that there are no more than 2 decimal places."]})
    return amount.quantize(CENT)


def payment_status_for(*, amount: Decimal, paid: Decimal) -> PaymentStatus:
    """unpaid when nothing is paid, paid when nothing remains, partial in between."""
    if paid <= 0:
        return PaymentStatus.UNPAID
    if paid >= amount:
        return PaymentStatus.PAID
    return PaymentStatus.PARTIAL
