"""The exact frames each action produces (Zulip's verify_action), and none when nothing
happened: rollback, refused writes, no-op saves."""

from __future__ import annotations

import json

import pytest
from django.db import transaction as db_transaction

from payments.services import settlement_record, settlement_void
from transactions.models import Transaction
from transactions.services import transaction_delete, transaction_update

from . import expected
from .conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


async def _admin_both_topics(clients, admin_user):
    client = await clients.open(user=admin_user)
    await client.subscribe("payment_status")
    await client.subscribe("transactions")
    return client


def _check_common(frame: dict, frame_type: str) -> dict:
    assert frame["type"] == frame_type
    assert isinstance(frame["event_id"], int)
    data = frame["data"]
    expected.assert_recent_timestamp(data.pop("timestamp"))
    return data


async def test_recording_a_settlement(clients, admin_user, cashier, make_transaction):
    txn = await db(make_transaction)("1500.00")
    client = await _admin_both_topics(clients, admin_user)
    settlement = await db(settlement_record)(
        transaction=txn, amount="1000.00", payment_mode="gcash", recorded_by=cashier
    )
    raw = await client.receive_raw()
    second = await client.receive()
    await client.nothing(0.6)  # longer than a catch-up round (0.2 s here)
    first = json.loads(raw)
    assert expected.money_texts(raw) == ["1500.00", "1000.00", "500.00", "1000.00"]
    data = _check_common(first, "payment_status_updated")
    assert data == await db(expected.payment_status_data)(
        txn, previous_status="unpaid", settlement=settlement, by="Carla Cruz"
    )
    assert data["payment_status"] == "partial" and data["cashier_id"] == cashier.pk
    data = _check_common(second, "transaction_updated")
    assert second["event_id"] == first["event_id"] + 1
    assert data == {
        "type": "payment_settlement_created",
        "transactionId": txn.pk,
        "transaction": await db(expected.rest)(await db(Transaction.objects.get)(pk=txn.pk)),
        "settlement": await db(expected.rest_settlement)(settlement),
    }


async def test_voiding_a_settlement(clients, admin_user, cashier, make_transaction):
    txn = await db(make_transaction)("1000.00")
    settlement = await db(settlement_record)(
        transaction=txn, amount="1000.00", payment_mode="cash", recorded_by=cashier
    )
    client = await _admin_both_topics(clients, admin_user)
    await db(settlement_void)(settlement=settlement, voided_by=admin_user, reason="Duplicate")
    first, second = await client.receive_events(2)
    await client.nothing(0.6)  # longer than a catch-up round (0.2 s here)
    data = _check_common(first, "payment_status_updated")
    assert data == await db(expected.payment_status_data)(
        txn, previous_status="paid", settlement=settlement, by="Ada Admin"
    )
    assert data["settlement"]["voided"] is True and data["payment_status"] == "unpaid"
    data = _check_common(second, "transaction_updated")
    assert data["type"] == "payment_status_updated"
    assert data["settlement"]["id"] == settlement.pk
    assert data["transaction"]["payment_status"] == "unpaid"


async def test_correcting_the_amount(clients, admin_user, cashier, make_transaction):
    txn = await db(make_transaction)("1000.00")
    await db(settlement_record)(
        transaction=txn, amount="400.00", payment_mode="cash", recorded_by=cashier
    )
    client = await _admin_both_topics(clients, admin_user)
    await db(transaction_update)(transaction=txn, updated_by=admin_user, amount="400.00")
    first, second = await client.receive_events(2)
    await client.nothing(0.6)  # longer than a catch-up round (0.2 s here)
    data = _check_common(first, "payment_status_updated")
    assert data == await db(expected.payment_status_data)(
        txn, previous_status="partial", settlement=None, by="Ada Admin"
    )
    assert data["payment_status"] == "paid" and data["balance_amount"] == 0.0
    data = _check_common(second, "transaction_updated")
    assert data["type"] == "payment_status_updated" and data["settlement"] is None


async def test_creating_a_transaction_emits_only_transaction_created(
    clients, admin_user, make_transaction
):
    client = await _admin_both_topics(clients, admin_user)
    txn = await db(make_transaction)("750.00")
    frame = await client.receive()
    await client.nothing(0.6)  # longer than a catch-up round (0.2 s here)
    data = _check_common(frame, "transaction_updated")
    assert data == {
        "type": "transaction_created",
        "transactionId": txn.pk,
        "transaction": await db(expected.rest)(await db(Transaction.objects.get)(pk=txn.pk)),
        "settlement": None,
    }


async def test_reassigning_emits_only_transaction_updated(
    clients, admin_user, cashier, make_transaction
):
    txn = await db(make_transaction)("750.00")
    client = await _admin_both_topics(clients, admin_user)
    await db(transaction_update)(transaction=txn, updated_by=admin_user, cashier=cashier)
    frame = await client.receive()
    await client.nothing(0.6)  # longer than a catch-up round (0.2 s here)
    data = _check_common(frame, "transaction_updated")
    assert data["type"] == "transaction_updated"
    assert data["transaction"]["cashier"] == cashier.pk
    assert data["settlement"] is None


async def test_deleting_emits_only_transaction_deleted(clients, admin_user, make_transaction):
    txn = await db(make_transaction)("750.00")
    txn_id = txn.pk
    representation = await db(expected.rest)(txn)
    client = await _admin_both_topics(clients, admin_user)
    await db(transaction_delete)(transaction=txn, deleted_by=admin_user)
    frame = await client.receive()
    await client.nothing(0.6)  # longer than a catch-up round (0.2 s here)
    data = _check_common(frame, "transaction_updated")
    assert data["type"] == "transaction_deleted"
    assert data["transactionId"] == txn_id
    assert data["transaction"]["or_number"] == representation["or_number"]
    assert data["settlement"] is None


async def test_refused_and_rolled_back_writes_emit_nothing(
    clients, admin_user, cashier, make_transaction
):
    from django.core.exceptions import ValidationError

    txn = await db(make_transaction)("100.00")
    client = await _admin_both_topics(clients, admin_user)

    def overpay():
        with pytest.raises(ValidationError):
            settlement_record(
                transaction=txn, amount="100.01", payment_mode="cash", recorded_by=cashier
            )

    def rolled_back():
        class Boom(Exception):
            pass

        with pytest.raises(Boom), db_transaction.atomic():
            settlement_record(
                transaction=txn, amount="50.00", payment_mode="cash", recorded_by=cashier
            )
            raise Boom

    await db(overpay)()
    await db(rolled_back)()
    await client.nothing(0.8)  # neither live nor from the log
    await client.roundtrip()


async def test_a_save_that_changes_nothing_shown_emits_nothing(
    clients, admin_user, make_transaction
):
    txn = await db(make_transaction)("100.00")
    client = await _admin_both_topics(clients, admin_user)

    def resave():
        fresh = Transaction.objects.get(pk=txn.pk)
        fresh.save()

    await db(resave)()
    await db(transaction_update)(transaction=txn, updated_by=admin_user, amount="100.00")
    await client.nothing(0.8)
    await client.roundtrip()
