"""The events of one change are written together: one INSERT that also reads each topic's
previous event id, ids in the order given, each relayed after the commit in that
order under its own id (realtime.events.send_events_on_commit)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import realtime.events
from payments.services import settlement_record, settlement_void
from realtime.choices import FrameType
from realtime.events import EventDraft, Parties, send_events_on_commit
from realtime.models import PaymentEvent
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def relayed(monkeypatch) -> list[PaymentEvent]:
    """Every event handed to the channel layer, in order (one call per change)."""
    sent: list[PaymentEvent] = []
    monkeypatch.setattr(realtime.events, "_group_send", lambda events, access: sent.extend(events))
    return sent


def _events(txn_id: int) -> list[PaymentEvent]:
    return list(PaymentEvent.objects.filter(transaction_id=txn_id).order_by("id"))


def _columns(event: PaymentEvent) -> dict:
    return {f.attname: getattr(event, f.attname) for f in PaymentEvent._meta.concrete_fields}


def test_a_settlement_writes_both_events_in_one_insert(
    make_transaction, cashier, admin_user, relayed, django_capture_on_commit_callbacks
):
    txn = make_transaction("1000.00")
    with django_capture_on_commit_callbacks(execute=True):
        first = settlement_record(
            transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier
        )
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        settlement_record(
            transaction=txn, amount="20.00", payment_mode="gcash", recorded_by=cashier
        )
    event_queries = [q["sql"] for q in queries if "realtime_paymentevent" in q["sql"]]
    assert len(event_queries) == 1 and event_queries[0].startswith("INSERT")
    with django_capture_on_commit_callbacks(execute=True):
        settlement_void(settlement=first, voided_by=admin_user, reason="entered twice")

    events = _events(txn.pk)
    assert [(e.frame_type, json.loads(e.data).get("type")) for e in events] == [
        ("transaction_updated", "transaction_created"),
        ("payment_status_updated", None),
        ("transaction_updated", "payment_settlement_created"),
        ("payment_status_updated", None),
        ("transaction_updated", "payment_settlement_created"),
        ("payment_status_updated", None),
        ("transaction_updated", "payment_status_updated"),
    ]
    by_topic: dict[str, list[PaymentEvent]] = {}
    for event in events:
        by_topic.setdefault(event.topic, []).append(event)
    for chain in by_topic.values():  # each topic's chain links to its own previous event
        assert chain[0].previous_event_id is None
        assert [e.previous_event_id for e in chain[1:]] == [e.id for e in chain[:-1]]
    # Relayed after each commit, in id order, each in-memory row the same as the stored one.
    assert [e.pk for e in relayed] == [e.pk for e in events[1:]]
    for sent, stored in zip(relayed, events[1:], strict=True):
        assert _columns(sent) == _columns(stored)
        assert sent.frame_text() == stored.frame_text()
        assert sent.audience == stored.audience


@pytest.mark.parametrize("returning", [True, False], ids=["one-insert", "insert-each"])
def test_nothing_is_relayed_before_the_commit(
    make_transaction, relayed, django_capture_on_commit_callbacks, monkeypatch, returning
):
    if not returning:  # a database that cannot return the ids of a multi-row INSERT
        monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    txn = make_transaction("1000.00")
    parties = Parties(sales_agent_id=txn.sales_agent_id, cashier_id=None)
    drafts = [
        EventDraft(FrameType.PAYMENT_STATUS_UPDATED, txn.pk, {"n": 1}, parties, parties),
        EventDraft(FrameType.TRANSACTION_UPDATED, txn.pk, {"n": 2}, parties, parties),
    ]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        written = send_events_on_commit(drafts)
    assert relayed == [] and len(callbacks) == 1  # the change is relayed as one
    assert written[0].pk < written[1].pk
    assert [json.loads(e.data) for e in written] == [{"n": 1}, {"n": 2}]
    assert [_columns(e) for e in written] == [_columns(e) for e in _events(txn.pk)[1:]]
    assert not any(e._state.adding for e in written)
    for callback in callbacks:
        callback()
    assert relayed == written


def test_one_event_alone_and_the_limits_of_one_call(make_transaction, relayed):
    txn = make_transaction("1000.00")
    parties = Parties(sales_agent_id=txn.sales_agent_id, cashier_id=None)
    (created,) = _events(txn.pk)
    (event,) = send_events_on_commit(
        [EventDraft(FrameType.TRANSACTION_UPDATED, txn.pk, {"n": 1}, parties, parties)]
    )
    assert event.previous_event_id == created.pk
    assert send_events_on_commit([]) == []
    twice = EventDraft(FrameType.TRANSACTION_UPDATED, txn.pk, {}, parties, parties)
    with pytest.raises(ValueError, match="one event per topic"):
        send_events_on_commit([twice, twice])
    other = EventDraft(FrameType.PAYMENT_STATUS_UPDATED, txn.pk + 1, {}, parties, parties)
    with pytest.raises(ValueError, match="one transaction"):
        send_events_on_commit([twice, other])


def test_a_change_with_no_user_behind_it_is_updated_by_system(
    make_transaction, relayed, django_capture_on_commit_callbacks
):
    """SPEC section 5: ``updatedBy`` is "System" when no user made the change (a script, a
    migration, a shell session saving through the ORM)."""
    txn = Transaction.objects.get(pk=make_transaction("100.00").pk)  # no actor attached
    txn.amount = Decimal("120.00")
    txn.balance_amount = Decimal("120.00")
    with django_capture_on_commit_callbacks(execute=True):
        txn.save()
    event = _events(txn.pk)[-2]
    assert event.frame_type == FrameType.PAYMENT_STATUS_UPDATED
    assert json.loads(event.data)["updatedBy"] == "System"
    assert [e.frame_type for e in relayed] == [
        FrameType.PAYMENT_STATUS_UPDATED,
        FrameType.TRANSACTION_UPDATED,
    ]
