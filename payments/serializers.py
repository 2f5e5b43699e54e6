"""REST representation of payment settlements (also embedded in websocket frames)."""

from __future__ import annotations

from rest_framework import serializers

from transactions.choices import PaymentMode
from transactions.serializers import (
    MoneyField,
    TextField,
    datetime_representation,
    money_representation,
)

from .models import NOTE_MAX_LENGTH, PaymentSettlement


class SettlementSerializer(serializers.ModelSerializer):
    """Read shape of a settlement; the cashier is always the user who recorded it."""

    voided = serializers.BooleanField(source="is_voided", read_only=True)

    class Meta:
        model = PaymentSettlement
        fields = [
            "id",
            "transaction",
            "amount",
            "payment_mode",
            "cashier",
            "paid_at",
            "notes",
            "voided",
            "voided_at",
            "voided_by",
            "void_reason",
            "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: PaymentSettlement) -> dict:
        return settlement_representation(instance)


def settlement_representation(settlement: PaymentSettlement) -> dict:
    """``SettlementSerializer``'s read shape, key for key and value for value (plain
    function: see ``transactions.serializers``)."""
    return {
        "id": settlement.pk,
        "transaction": settlement.transaction_id,
        "amount": money_representation(settlement.amount),
        "payment_mode": str(settlement.payment_mode),
        "cashier": settlement.cashier_id,
        "paid_at": datetime_representation(settlement.paid_at),
        "notes": settlement.notes,
        "voided": settlement.is_voided,
        "voided_at": datetime_representation(settlement.voided_at),
        "voided_by": settlement.voided_by_id,
        "void_reason": settlement.void_reason,
        "created_at": datetime_representation(settlement.created_at),
    }


class SettlementCreateSerializer(serializers.Serializer):
    """Money received. No cashier field: the settlement's cashier is always the caller."""

    amount = MoneyField(help_text="At most the transaction's remaining balance.")
    payment_mode = serializers.ChoiceField(choices=PaymentMode.choices)
    notes = TextField(required=False, allow_blank=True, max_length=NOTE_MAX_LENGTH, default="")


class SettlementVoidSerializer(serializers.Serializer):
    reason = TextField(
        max_length=NOTE_MAX_LENGTH,
        help_text="Why the payment is voided (required, not blank).",
        error_messages={"blank": "A reason is required to void a payment."},
    )
