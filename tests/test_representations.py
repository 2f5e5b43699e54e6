"""The plain representation functions give exactly what DRF's declared fields give.

``TransactionSerializer`` and ``SettlementSerializer`` render through
``transaction_representation`` / ``settlement_representation`` (and so do the event
payloads), so they are checked here against DRF's own field machinery run over the same
declared fields (``Serializer.to_representation``, which the two serializers override), in
every state a row can be in, as rendered JSON bytes (keys, order, strings, nulls); and one
case against a dict written out by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from payments.models import PaymentSettlement
from payments.serializers import SettlementSerializer, settlement_representation
from payments.services import settlement_record, settlement_void
from realtime.choices import ChangeKind
from realtime.payloads import transaction_updated_data
from transactions.models import Transaction
from transactions.serializers import TransactionSerializer, transaction_representation
from transactions.services import transaction_lock, transaction_update

pytestmark = pytest.mark.django_db


def drf_transaction(txn: Transaction) -> dict:
    """What DRF's fields make of the transaction (the generic path the serializer skips)."""
    return serializers.Serializer.to_representation(TransactionSerializer(), txn)


def drf_settlement(settlement: PaymentSettlement) -> dict:
    return serializers.Serializer.to_representation(SettlementSerializer(), settlement)


def same(ours: dict, drf: dict) -> None:
    assert list(ours) == list(drf)
    assert ours == drf
    assert [type(v) for v in ours.values()] == [type(v) for v in drf.values()]
    assert JSONRenderer().render(ours) == JSONRenderer().render(drf)


def reloaded_transaction(txn: Transaction) -> Transaction:
    return Transaction.objects.select_related("customer", "sales_agent", "cashier").get(pk=txn.pk)


@pytest.fixture
def states(make_transaction, cashier, sales):
    """Transactions unpaid and unassigned, partly paid, and paid, as saved and reloaded."""
    unpaid = make_transaction("1500.00")
    partial = make_transaction("1500.00", payment_mode="gcash")
    settlement_record(
        transaction=partial, amount="1000.5", payment_mode="maya", recorded_by=cashier
    )
    paid = make_transaction(
        "25.50", transaction_date=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    )
    settlement_record(transaction=paid, amount="25.50", payment_mode="cash", recorded_by=cashier)
    return [unpaid, partial, paid]


def test_a_transaction_in_every_state_as_drf_renders_it(states):
    statuses = set()
    for txn in states:
        for row in (txn, reloaded_transaction(txn), transaction_lock(transaction_id=txn.pk)):
            same(transaction_representation(row), drf_transaction(row))
            same(TransactionSerializer(row).data, drf_transaction(row))
            statuses.add(row.payment_status)
    assert statuses == {"unpaid", "partial", "paid"}
    assert transaction_representation(states[0])["cashier_name"] is None


def test_a_list_renders_each_row_as_drf_does(states):
    rows = list(Transaction.objects.select_related("customer", "sales_agent", "cashier"))
    listed = TransactionSerializer(rows, many=True).data
    assert len(listed) == 3
    for rendered, row in zip(listed, rows, strict=True):
        same(rendered, drf_transaction(row))


def test_names_without_a_full_name_and_other_time_zones(states, admin_user, cashier):
    cashier.first_name = cashier.last_name = ""
    cashier.save()
    txn = reloaded_transaction(states[1])
    assert transaction_representation(txn)["cashier_name"] == "carla"
    for zone in ("UTC", "America/New_York", "Asia/Manila"):
        with timezone.override(zone):
            same(transaction_representation(txn), drf_transaction(txn))
    transaction_update(transaction=txn, updated_by=admin_user, amount="1000.50")  # now paid
    txn = reloaded_transaction(txn)
    assert txn.payment_status == "paid"
    same(transaction_representation(txn), drf_transaction(txn))


def test_a_settlement_in_every_state_as_drf_renders_it(make_transaction, cashier, admin_user):
    txn = make_transaction("1000.00")
    plain = settlement_record(
        transaction=txn, amount="10", payment_mode="cash", recorded_by=cashier
    )
    noted = settlement_record(
        transaction=txn,
        amount="20.00",
        payment_mode="bank_transfer",
        recorded_by=cashier,
        notes="Second instalment; receipt #4 — ñ",
        idempotency_key="till-1-0002",
    )
    voided = settlement_void(settlement=plain, voided_by=admin_user, reason="entered twice")
    for settlement in (plain, noted, voided):
        for row in (settlement, PaymentSettlement.objects.get(pk=settlement.pk)):
            same(settlement_representation(row), drf_settlement(row))
            same(SettlementSerializer(row).data, drf_settlement(row))
    shown = settlement_representation(PaymentSettlement.objects.get(pk=plain.pk))
    assert shown["voided"] is True and shown["voided_by"] == admin_user.pk
    assert settlement_representation(noted)["voided_at"] is None
    assert "idempotency_key" not in settlement_representation(noted)


def test_the_event_embeds_what_drf_renders(states, cashier):
    txn = transaction_lock(transaction_id=states[1].pk)
    settlement = PaymentSettlement.objects.get(transaction=txn)
    data = transaction_updated_data(
        kind=ChangeKind.PAYMENT_SETTLEMENT_CREATED,
        txn=txn,
        settlement=settlement,
        moment=timezone.now(),
    )
    same(data["transaction"], drf_transaction(txn))
    same(data["settlement"], drf_settlement(settlement))


def test_one_transaction_and_settlement_written_out_by_hand(customer, sales, cashier):
    """Independent of DRF and of the functions: the shapes SPEC and docs/api.md show."""
    when = dt.datetime(2026, 11, 26, 5, 45, 0, 123456, tzinfo=dt.UTC)
    txn = Transaction(
        pk=17,
        or_number="OR-2026-000017",
        customer=customer,
        amount=Decimal("1500.00"),
        paid_amount=Decimal("1000.00"),
        balance_amount=Decimal("500.00"),
        payment_status="partial",
        payment_mode="gcash",
        sales_agent=sales,
        cashier=cashier,
        transaction_date=when,
        created_at=when,
        updated_at=dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC),
    )
    expected = {
        "id": 17,
        "or_number": "OR-2026-000017",
        "customer": customer.pk,
        "customer_name": "Juan Dela Cruz",
        "amount": "1500.00",
        "paid_amount": "1000.00",
        "balance_amount": "500.00",
        "payment_status": "partial",
        "payment_mode": "gcash",
        "sales_agent": sales.pk,
        "sales_agent_name": "Sam Santos",
        "cashier": cashier.pk,
        "cashier_name": "Carla Cruz",
        "transaction_date": "2026-11-26T13:45:00.123456+08:00",
        "created_at": "2026-11-26T13:45:00.123456+08:00",
        "updated_at": "2026-11-26T14:00:00+08:00",
    }
    same(TransactionSerializer(txn).data, expected)
    with timezone.override("UTC"):
        assert TransactionSerializer(txn).data["updated_at"] == "2026-11-26T06:00:00Z"
    settlement = PaymentSettlement(
        pk=9,
        transaction=txn,
        amount=Decimal("1000"),
        payment_mode="cash",
        cashier=cashier,
        paid_at=when,
        notes="",
        voided_at=None,
        void_reason="",
        created_at=when,
    )
    same(
        SettlementSerializer(settlement).data,
        {
            "id": 9,
            "transaction": 17,
            "amount": "1000.00",
            "payment_mode": "cash",
            "cashier": cashier.pk,
            "paid_at": "2026-11-26T13:45:00.123456+08:00",
            "notes": "",
            "voided": False,
            "voided_at": None,
            "voided_by": None,
            "void_reason": "",
            "created_at": "2026-11-26T13:45:00.123456+08:00",
        },
    )
