"""Customers and their transactions (sales with an official-receipt number)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round, Upper
from django.utils import timezone

from escashop.compiled_query import CompiledSaveMixin

from .choices import (
    MAX_AMOUNT,
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    PaymentMode,
    PaymentStatus,
    Role,
)

ZERO = Decimal("0.00")


def money_field(**kwargs) -> models.DecimalField:
    """A two-place Decimal column wide enough for MAX_AMOUNT."""
    return models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs
    )


class Customer(models.Model):
    name = models.CharField(max_length=200)
    contact_number = models.CharField(max_length=40)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name


#: The answer to an OR number already in use (whatever its case).
OR_NUMBER_TAKEN = "A transaction with this OR number already exists."


class Transaction(CompiledSaveMixin, models.Model):
    """A sale. paid/balance/status are derived from settlements by payments.services only."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="transactions")
    or_number = models.CharField(
        "OR number",
        max_length=40,
        unique=True,
        blank=True,
        help_text="Official-receipt number; leave empty to generate the next one.",
    )
    amount = money_field(
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_AMOUNT)],
        help_text="Total due.",
    )
    payment_mode = models.CharField(
        max_length=20, choices=PaymentMode.choices, default=PaymentMode.CASH
    )
    sales_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sales_transactions"
    )
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cashier_transactions",
        null=True,
        blank=True,
        help_text="The cashier who handles it; empty until one does.",
    )
    paid_amount = money_field(default=ZERO, editable=False)
    balance_amount = money_field(editable=False)
    payment_status = models.CharField(
        max_length=10,
        choices=PaymentStatus.choices,
        default=PaymentStatus.UNPAID,
        editable=False,
    )
    transaction_date = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-transaction_date", "-id"]
        indexes = [
            models.Index(fields=["payment_status", "-transaction_date"]),
            models.Index(fields=["-transaction_date", "-id"]),
        ]
        constraints = [
            # OR numbers are unique whatever their case (or_number itself is unique too).
            models.UniqueConstraint(
                Upper("or_number"),
                name="txn_or_number_unique_any_case",
                violation_error_message=OR_NUMBER_TAKEN,
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(amount__lte=MAX_AMOUNT),
                name="txn_amount_in_range",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=F("amount")),
                name="txn_paid_within_amount",
            ),
            models.CheckConstraint(
                # Rounded to the cents: exact on PostgreSQL anyway, while SQLite keeps decimal
                # columns as binary floats, in which 1000.30 - 0.10 is not 1000.20.
                condition=Q(balance_amount=Round(F("amount") - F("paid_amount"), 2)),
                name="txn_balance_is_amount_minus_paid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(payment_status=PaymentStatus.UNPAID, paid_amount=0)
                    | Q(payment_status=PaymentStatus.PAID, balance_amount=0)
                    | Q(
                        payment_status=PaymentStatus.PARTIAL,
                        paid_amount__gt=0,
                        balance_amount__gt=0,
                    )
                ),
                name="txn_status_matches_amounts",
            ),
            models.CheckConstraint(
                condition=Q(payment_mode__in=PaymentMode.values), name="txn_payment_mode_valid"
            ),
        ]

    #: Fields whose loaded values the event signals compare against (see ``loaded_state``).
    TRACKED_FIELDS = (
        "amount",
        "paid_amount",
        "balance_amount",
        "payment_status",
        "sales_agent_id",
        "cashier_id",
        "customer_id",
        "or_number",
        "payment_mode",
        "transaction_date",
    )

    #: Set by the services before ``save()``: who made the change ("updatedBy" in events) and,
    #: when the change comes from a settlement, which one. Plain attributes, never stored.
    change_actor = None
    change_settlement = None

    def __str__(self) -> str:
        return self.or_number

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)  # post_save receivers see the state before this save
        self._remember_state()

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_state()
        return instance

    def _remember_state(self) -> None:
        self._loaded_state = {
            name: getattr(self, name) for name in self.TRACKED_FIELDS if name in self.__dict__
        }

    @property
    def loaded_state(self) -> dict | None:
        """Tracked field values as last loaded from or saved to the database; None if new."""
        return getattr(self, "_loaded_state", None)


class OrNumberSequence(models.Model):
    """Per-year counter behind generated OR numbers; its row is locked while a number is taken."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_value}"


class RoleGrant(models.Model):
    """When a user was last given a role (its group joined), kept by transactions.roles.

    An event's audience is fixed when it is written (SPEC section 6): the cashier queue's
    events reach only users who were cashiers by then, not everyone made one since
    (realtime.selectors.payment_events_q). No row (a grant made before this was kept, or
    outside Django) counts as a grant from the beginning.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, choices=Role.choices)
    granted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="one_grant_per_role")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.role} since {self.granted_at:%Y-%m-%d %H:%M}"
