"""The ``data`` of each event frame: one TypedDict and one builder per frame type.

Money is a ``Decimal`` here and is encoded as a JSON number with two places ("1500.00")
by ``encode`` (simplejson's ``use_decimal``); the embedded REST representations
(``transaction_representation``, ``settlement_representation``: the same functions the REST
serializers use) keep DRF's decimal strings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TypedDict

import simplejson

from payments.models import PaymentSettlement
from payments.serializers import settlement_representation
from transactions.models import Transaction
from transactions.money import CENT
from transactions.serializers import display_name, transaction_representation

from .choices import ChangeKind


class SettlementSummary(TypedDict):
    id: int
    amount: Decimal
    payment_mode: str
    cashier_id: int
    voided: bool


class PaymentStatusData(TypedDict):
    transactionId: int
    or_number: str
    customer_id: int
    payment_status: str
    previous_status: str
    amount: Decimal
    paid_amount: Decimal
    balance_amount: Decimal
    sales_agent_id: int
    cashier_id: int | None
    settlement: SettlementSummary | None
    updatedBy: str
    timestamp: str


class TransactionUpdatedData(TypedDict):
    type: str
    transactionId: int
    transaction: dict
    settlement: dict | None
    timestamp: str


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT)


def timestamp_iso(moment: dt.datetime) -> str:
    """UTC ISO 8601 with microseconds and a ``Z``: ``2026-11-26T13:45:00.123456Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor_name(user) -> str:
    return display_name(user) if user is not None else "System"


def payment_status_data(
    *,
    txn: Transaction,
    previous_status: str,
    settlement: PaymentSettlement | None,
    actor,
    moment: dt.datetime,
) -> PaymentStatusData:
    return {
        "transactionId": txn.pk,
        "or_number": txn.or_number,
        "customer_id": txn.customer_id,
        "payment_status": str(txn.payment_status),
        "previous_status": str(previous_status),
        "amount": _money(txn.amount),
        "paid_amount": _money(txn.paid_amount),
        "balance_amount": _money(txn.balance_amount),
        "sales_agent_id": txn.sales_agent_id,
        "cashier_id": txn.cashier_id,
        "settlement": None
        if settlement is None
        else {
            "id": settlement.pk,
            "amount": _money(settlement.amount),
            "payment_mode": str(settlement.payment_mode),
            "cashier_id": settlement.cashier_id,
            "voided": settlement.is_voided,
        },
        "updatedBy": actor_name(actor),
        "timestamp": timestamp_iso(moment),
    }


def transaction_updated_data(
    *,
    kind: ChangeKind,
    txn: Transaction,
    settlement: PaymentSettlement | None,
    moment: dt.datetime,
) -> TransactionUpdatedData:
    return {
        "type": str(kind),
        "transactionId": txn.pk,
        "transaction": transaction_representation(txn),
        "settlement": None if settlement is None else settlement_representation(settlement),
        "timestamp": timestamp_iso(moment),
    }


def encode(data: PaymentStatusData | TransactionUpdatedData) -> str:
    """Compact JSON text; Decimals become numbers with their two places kept."""
    return simplejson.dumps(data, use_decimal=True, separators=(",", ":"))
