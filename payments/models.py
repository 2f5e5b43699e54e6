"""Payment settlements: money received against a transaction; voided, never edited or deleted."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from escashop.compiled_query import CompiledSaveMixin
from transactions.choices import MAX_AMOUNT, PaymentMode
from transactions.models import Transaction, money_field

#: The longest note or void reason taken, by the API and the admin alike.
NOTE_MAX_LENGTH = 2000

#: What a settlement is: set when it is recorded, never changed (a mistake is voided).
RECORDED_FIELDS = ("transaction_id", "amount", "payment_mode", "cashier_id", "idempotency_key")


class SettlementsAreKept(Exception):
    """A settlement deleted, edited, or recorded other than by ``settlement_record``."""


class SettlementQuerySet(models.QuerySet):
    """Settlements are never deleted, nor their recorded fields updated in bulk. (``bulk_create``
    and raw SQL get past the model, to the database's own checks: tests use that.)"""

    def delete(self):
        raise SettlementsAreKept("Settlements are never deleted: void a mistaken one.")

    delete.queryset_only = True

    def update(self, **kwargs):
        fields = {field.name: field.attname for field in self.model._meta.concrete_fields}
        touched = {fields.get(name, name) for name in kwargs}
        if touched & set(RECORDED_FIELDS):
            raise SettlementsAreKept(
                "A settlement's transaction, amount, payment mode, cashier and key are never "
                "changed: void a mistaken one."
            )
        return super().update(**kwargs)


class PaymentSettlement(CompiledSaveMixin, models.Model):
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="settlements"
    )
    amount = money_field(
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_AMOUNT)]
    )
    payment_mode = models.CharField(max_length=20, choices=PaymentMode.choices)
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="recorded_settlements",
        help_text="The user who recorded it.",
    )
    paid_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="voided_settlements",
        null=True,
        blank=True,
    )
    void_reason = models.TextField(blank=True)
    #: Client-chosen key (Idempotency-Key header) that makes a retried create pay once.
    # NULL (not "") means "no key", so the partial unique constraint ignores those rows.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SettlementQuerySet.as_manager()

    #: Set by ``payments.services.settlement_record`` on the instance it records: it locks
    #: the transaction, checks the balance and saves the transaction after, which writes
    #: the events. A settlement saved new without it would leave paid and the log behind.
    recording = False

    class Meta:
        ordering = ["paid_at", "id"]
        indexes = [models.Index(fields=["transaction", "voided_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(amount__lte=MAX_AMOUNT),
                name="settlement_amount_in_range",
            ),
            models.CheckConstraint(
                condition=Q(payment_mode__in=PaymentMode.values),
                name="settlement_payment_mode_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(voided_at__isnull=True, voided_by__isnull=True, void_reason="")
                    | (Q(voided_at__isnull=False, voided_by__isnull=False) & ~Q(void_reason=""))
                ),
                name="settlement_void_fields_together",
            ),
            models.UniqueConstraint(
                fields=["cashier", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="settlement_idempotency_key_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.payment_mode} on {self.transaction_id}"

    def save(self, *args, **kwargs):
        if self._state.adding or self.pk is None:  # a copy with its pk cleared is new too
            if not self.recording:
                raise SettlementsAreKept(
                    "Record a settlement with payments.services.settlement_record: it locks "
                    "the transaction, checks the balance and writes the events."
                )
        elif self._recorded_fields_changed():
            raise SettlementsAreKept(
                "A settlement's transaction, amount, payment mode, cashier and key are "
                "never changed: void a mistaken one."
            )
        super().save(*args, **kwargs)
        # From now on this instance is a stored settlement like any loaded one.
        self.recording = False
        self.recorded_state = {}
        self._remember(RECORDED_FIELDS)

    def delete(self, *args, **kwargs):
        raise SettlementsAreKept("Settlements are never deleted: void a mistaken one.")

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None

    def _recorded_fields_changed(self) -> bool:
        recorded = getattr(self, "recorded_state", None)
        if recorded is None:  # made in memory with a pk (never loaded nor saved here)
            return True
        return any(
            # A field deferred at load and assigned since: a change it cannot compare.
            (name not in recorded and name in self.__dict__)
            or (name in recorded and getattr(self, name) != recorded[name])
            for name in RECORDED_FIELDS
        )

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # Also how a deferred field is read: what comes from the database is what it holds.
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if getattr(self, "recorded_state", None) is not None:
            self._remember(
                name
                for name in RECORDED_FIELDS
                if fields is None or name in fields or name.removesuffix("_id") in fields
            )

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance.recorded_state = {}
        instance._remember(name for name in RECORDED_FIELDS if name in instance.__dict__)
        return instance

    def _remember(self, names) -> None:
        """Note these recorded fields' values as the database holds them now."""
        for name in names:
            self.recorded_state[name] = getattr(self, name)
