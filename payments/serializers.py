"""REST representation of payment settlements (also embedded in websocket frames)."""

from __future__ import annotations

from rest_framework import serializers

from .models import PaymentSettlement


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
