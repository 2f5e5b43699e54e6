"""The shop's vocabulary, defined once: payment statuses, payment modes and roles."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

#: Largest amount a transaction or settlement may carry (12 digits, 2 decimals).
MAX_AMOUNT = Decimal("9999999999.99")
MONEY_MAX_DIGITS = 12
MONEY_DECIMAL_PLACES = 2


class PaymentStatus(models.TextChoices):
    """Where a transaction stands; always derived from its non-voided settlements.

    - ``unpaid``: nothing has been paid.
    - ``partial``: something has been paid and a balance remains.
    - ``paid``: the balance is zero.
    """

    UNPAID = "unpaid", "Unpaid"
    PARTIAL = "partial", "Partial"
    PAID = "paid", "Paid"


class PaymentMode(models.TextChoices):
    """How money reached the shop (or, on a transaction, how the customer means to pay)."""

    CASH = "cash", "Cash"
    GCASH = "gcash", "GCash"
    MAYA = "maya", "Maya"
    CREDIT_CARD = "credit_card", "Credit card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"


class Role(models.TextChoices):
    """Staff roles, held as Django auth groups of the same name (a user may hold several).

    - ``admin``: sees and may do everything; a superuser counts as admin.
    - ``cashier``: records settlements; sees the transactions they handle and the
      unassigned queue awaiting payment.
    - ``sales``: creates transactions; sees the ones they created.
    """

    ADMIN = "admin", "Admin"
    CASHIER = "cashier", "Cashier"
    SALES = "sales", "Sales"
