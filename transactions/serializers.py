"""REST representations of customers and transactions (also embedded in websocket frames).

The read shapes of a transaction and a settlement are built by plain functions
(``transaction_representation``, ``payments.serializers.settlement_representation``) that
produce exactly what DRF's fields would from the declared serializer fields (which stay,
for the OpenAPI schema): a ``ModelSerializer`` builds its fields anew for every instance it
is created for, which cost more than the rest of a settlement POST's Python work.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Context, Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .choices import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, PaymentMode
from .models import Customer, Transaction
from .selectors import customers_visible_to

MONEY_DESCRIPTION = (
    "A decimal string, more than 0, at most 9999999999.99, two places. Requests may also "
    "send a JSON number, which is read exactly as written, never as a float."
)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^\d{1,10}(\.\d{1,2})?$",
        "example": "1500.00",
        "description": MONEY_DESCRIPTION,
    }
)
class MoneyField(serializers.Field):
    """A money amount exactly as sent. The rules (positive, two places, in range, never a
    float) live once, in ``transactions.money.money_parse``, which every service applies; the
    service's ValidationError names the field. Checking nothing here also means a caller
    without the role gets 403 before any complaint about the amount."""

    def __init__(self, **kwargs):
        # A field's help text replaces the schema's description: keep the format's rules.
        if kwargs.get("help_text"):
            kwargs["help_text"] = f"{kwargs['help_text']} {MONEY_DESCRIPTION}"
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return data

    def to_representation(self, value) -> str:
        return str(value)


_CENT = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)
#: DRF's DecimalField quantizes within max_digits (and the default context's rounding).
_MONEY_CONTEXT = Context(prec=MONEY_MAX_DIGITS)


def money_representation(value: Decimal) -> str:
    """A money column as DRF's ``DecimalField(max_digits=12, decimal_places=2)`` renders it
    (``COERCE_DECIMAL_TO_STRING``): ``"1500.00"``."""
    if not isinstance(value, Decimal):
        value = Decimal(str(value).strip())
    return f"{value.quantize(_CENT, context=_MONEY_CONTEXT):f}"


def datetime_representation(value: dt.datetime | None) -> str | None:
    """As DRF's ``DateTimeField`` renders it: ISO 8601 in the current time zone, ``Z`` for
    UTC, ``None`` for none."""
    if not value:
        return None
    zone = timezone.get_current_timezone()
    value = value.astimezone(zone) if timezone.is_aware(value) else timezone.make_aware(value, zone)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class TextField(serializers.CharField):
    """A JSON string, and only that: DRF's CharField also took a number as its text
    (``{"name": 12}`` was the name "12") while refusing ``1.5`` and ``true``, and the
    schema says ``string``."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class OptionalEmailField(TextField):
    """An email address, or ``""`` for none: DRF's ``EmailField`` check, made here rather
    than as a validator. drf-spectacular describes a blank-allowed string with a format
    validator as ``oneOf`` [email, empty string], which ``""`` matches twice (``oneOf`` wants
    exactly one): clients generated from the schema would then fail to read any customer
    without an email. This field's schema is a plain string of at most 254 characters."""

    default_error_messages = {"invalid": serializers.EmailField.default_error_messages["invalid"]}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            validate_email(value)
        except DjangoValidationError:
            self.fail("invalid")
        return value


class CustomerSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: TextField,
    }
    email = OptionalEmailField(
        allow_blank=True,
        max_length=254,
        required=False,
        help_text='An email address, or "" for none.',
    )

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
        # The model's help text speaks to whoever creates one ("leave empty to generate").
        extra_kwargs = {"or_number": {"help_text": "Official-receipt number, unique."}}

    def to_representation(self, instance: Transaction) -> dict:
        return transaction_representation(instance)

    # Only the schema reads these two (their return types); see transaction_representation.
    def get_sales_agent_name(self, obj: Transaction) -> str:
        return display_name(obj.sales_agent)

    def get_cashier_name(self, obj: Transaction) -> str | None:
        return display_name(obj.cashier) if obj.cashier_id else None


def transaction_representation(txn: Transaction) -> dict:
    """``TransactionSerializer``'s read shape, key for key and value for value, from the row
    and its customer, sales agent and cashier (load them with it: ``select_related``)."""
    return {
        "id": txn.pk,
        "or_number": txn.or_number,
        "customer": txn.customer_id,
        "customer_name": txn.customer.name,
        "amount": money_representation(txn.amount),
        "paid_amount": money_representation(txn.paid_amount),
        "balance_amount": money_representation(txn.balance_amount),
        "payment_status": str(txn.payment_status),
        "payment_mode": str(txn.payment_mode),
        "sales_agent": txn.sales_agent_id,
        "sales_agent_name": display_name(txn.sales_agent),
        "cashier": txn.cashier_id,
        "cashier_name": display_name(txn.cashier) if txn.cashier_id else None,
        "transaction_date": datetime_representation(txn.transaction_date),
        "created_at": datetime_representation(txn.created_at),
        "updated_at": datetime_representation(txn.updated_at),
    }


def display_name(user) -> str:
    """A user's full name, or their username when they have none."""
    return (user.get_full_name() or user.get_username()) if user is not None else ""


@extend_schema_field(OpenApiTypes.INT)
class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A related row by its id: a whole number (or its digits as a string) that fits 64 bits.

    DRF's field hands the value to the database lookup as it comes, whose integer
    conversion rounds ``1.9`` down to 1 (a sale recorded on the wrong customer) and spends
    seconds on ``1E+300000``.
    """

    default_error_messages = {"not_an_id": "Expected a whole-number id."}

    def to_internal_value(self, data):
        if isinstance(data, str) and ID_DIGITS.fullmatch(data):
            data = int(data)
        if type(data) is not int or not -(2**63) <= data < 2**63:  # bool is not an id
            self.fail("not_an_id")
        return super().to_internal_value(data)


ID_DIGITS = re.compile(r"-?[0-9]{1,19}")


class VisibleCustomerField(IdRelatedField):
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
    or_number = TextField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="Official-receipt number; omit it to get the next OR-<year>-NNNNNN.",
    )
    transaction_date = serializers.DateTimeField(required=False, help_text="Defaults to now.")


class TransactionUpdateSerializer(serializers.Serializer):
    """Admin corrections; other fields are read-only (settlements change what is paid)."""

    amount = MoneyField(required=False, help_text="Never below what has been paid.")
    cashier = IdRelatedField(
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
        help_text="Id of a user with the cashier or admin role; null returns it to the queue.",
    )
