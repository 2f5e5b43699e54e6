"""Expected event frames, built from the database independently of realtime.payloads."""

from __future__ import annotations

import datetime as dt
import json
import re

from payments.models import PaymentSettlement
from payments.serializers import SettlementSerializer
from transactions.models import Transaction
from transactions.serializers import TransactionSerializer

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def assert_recent_timestamp(value: str) -> None:
    assert ISO_Z.match(value), value
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) < 30


def money(text: str) -> float:
    return float(text)


def payment_status_data(
    txn: Transaction, *, previous_status: str, settlement: PaymentSettlement | None, by: str
) -> dict:
    txn.refresh_from_db()
    if settlement is not None:
        settlement.refresh_from_db()
    return {
        "transactionId": txn.pk,
        "or_number": txn.or_number,
        "customer_id": txn.customer_id,
        "payment_status": txn.payment_status,
        "previous_status": previous_status,
        "amount": float(txn.amount),
        "paid_amount": float(txn.paid_amount),
        "balance_amount": float(txn.balance_amount),
        "sales_agent_id": txn.sales_agent_id,
        "cashier_id": txn.cashier_id,
        "settlement": None
        if settlement is None
        else {
            "id": settlement.pk,
            "amount": float(settlement.amount),
            "payment_mode": settlement.payment_mode,
            "cashier_id": settlement.cashier_id,
            "voided": settlement.voided_at is not None,
        },
        "updatedBy": by,
    }


def rest(txn: Transaction) -> dict:
    return json.loads(json.dumps(TransactionSerializer(txn).data))


def rest_settlement(settlement: PaymentSettlement) -> dict:
    settlement.refresh_from_db()
    return json.loads(json.dumps(SettlementSerializer(settlement).data))


def money_texts(raw_frame: str) -> list[str]:
    """The numbers after the money keys, as written in the frame text (e.g. "1500.00")."""
    return re.findall(r'"(?:amount|paid_amount|balance_amount)":(-?[0-9.]+)', raw_frame)
