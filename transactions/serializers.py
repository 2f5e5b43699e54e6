"""REST representations of customers and transactions (also embedded in websocket frames)."""

from __future__ import annotations

from rest_framework import serializers

from .models import Customer, Transaction


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "contact_number", "email", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class TransactionSerializer(serializers.ModelSerializer):
    """Read shape of a transaction; money is a decimal string ("1500.00")."""

    customer_name = serializers.CharField(source="customer.name", read_only=True)
    sales_agent_name = serializers.SerializerMethodField()
    cashier_name = serializers.SerializerMethodField()

    class Meta:
        model = Transaction
        fields = [
            "id",
            "or_number",
            "customer",
            "customer_name",
            "amount",
            "paid_amount",
            "balance_amount",
            "payment_status",
            "payment_mode",
            "sales_agent",
            "sales_agent_name",
            "cashier",
            "cashier_name",
            "transaction_date",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_sales_agent_name(self, obj: Transaction) -> str:
        return display_name(obj.sales_agent)

    def get_cashier_name(self, obj: Transaction) -> str | None:
        return display_name(obj.cashier) if obj.cashier_id else None


def display_name(user) -> str:
    """A user's full name, or their username when they have none."""
    return (user.get_full_name() or user.get_username()) if user is not None else ""
