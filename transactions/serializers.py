"""REST representations of customers and transactions (also embedded in websocket frames)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .choices import PaymentMode
from .models import Customer, Transaction
from .selectors import customers_visible_to


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^\d{1,10}(\.\d{1,2})?$",
        "example": "1500.00",
        "description": "A decimal string, more than 0, at most 9999999999.99, two places.",
    }
)
class MoneyField(serializers.Field):
    """A money amount exactly as sent. The rules (positive, two places, in range, never a
    float) live once, in ``transactions.money.money_parse``, which every service applies; the
    service's ValidationError names the field. Checking nothing here also means a caller
    without the role gets 403 before any complaint about the amount."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value) -> str:
        return str(value)


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


@extend_schema_field(OpenApiTypes.INT)
class VisibleCustomerField(serializers.PrimaryKeyRelatedField):
    """A customer id the caller may see (transactions.selectors.customers_visible_to)."""

    def get_queryset(self):
        return customers_visible_to(self.context["request"].user)


class TransactionCreateSerializer(serializers.Serializer):
    """A new sale; the caller becomes its sales agent (only sales and admins may)."""

    customer = VisibleCustomerField()
    amount = MoneyField(help_text="Total due.")
    payment_mode = serializers.ChoiceField(
        choices=PaymentMode.choices,
        default=PaymentMode.CASH,
        help_text="How the customer means to pay.",
    )
    or_number = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="Official-receipt number; omit it to get the next OR-<year>-NNNNNN.",
    )
    transaction_date = serializers.DateTimeField(required=False, help_text="Defaults to now.")


class TransactionUpdateSerializer(serializers.Serializer):
    """Admin corrections; other fields are read-only (settlements change what is paid)."""

    amount = MoneyField(required=False, help_text="Never below what has been paid.")
    cashier = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
        help_text="Id of a user with the cashier or admin role; null returns it to the queue.",
    )
