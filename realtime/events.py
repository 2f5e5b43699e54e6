"""The one chokepoint for payment events (after Zulip's ``send_event_on_commit``).

``send_events_on_commit`` writes the event rows of one change in the caller's database
transaction and schedules their channel-layer sends, in order, for after the commit.
Nothing else calls ``group_send``.
A rollback discards both the rows and the sends; a channel-layer failure after the commit
is logged and never fails the write: connected clients then get the event from the log
(see ``realtime.delivery``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import connections, router
from django.db import transaction as db_transaction
from django.utils import timezone

from .choices import FRAME_TOPIC, FrameType
from .groups import groups_for_audience
from .layer import LAYER_BREAKER
from .metrics import CHANNEL_LAYER_SEND_FAILURES, EVENTS_WRITTEN
from .models import PaymentEvent
from .payloads import PaymentStatusData, TransactionUpdatedData, encode

logger = logging.getLogger(__name__)

#: Channel-layer message type; dispatches to ``PaymentsConsumer.payment_event``.
MESSAGE_TYPE = "payment.event"
#: Longest the relay of one event may take: on the server's loop, where nobody waits for it
#: but a busy loop stretches every round trip; in a writer's own thread, which waits.
SEND_TIMEOUT_SECONDS = 10.0
BLOCKING_SEND_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Parties:
    """Whose view of a transaction an event concerns: its sales agent and cashier."""

    sales_agent_id: int
    cashier_id: int | None


@dataclass(frozen=True, slots=True)
class EventDraft:
    """One event of a change, before it is logged: what ``send_events_on_commit`` takes.

    The audience is whoever could see the transaction ``before`` or ``after`` the change
    (None: it did not exist before, or no longer does).
    """

    frame_type: FrameType
    transaction_id: int
    data: PaymentStatusData | TransactionUpdatedData
    before: Parties | None
    after: Parties | None


def send_events_on_commit(drafts: Sequence[EventDraft]) -> list[PaymentEvent]:
    """Log the events of one change of one transaction, at most one per topic, with ids in
    the order given, and relay them in that order once the surrounding transaction commits.

    One query reads the previous event id of every topic involved and one INSERT writes
    every row. Must be called inside the atomic block of the change, after the
    transaction's row lock was taken, so that events of one transaction get ids in commit
    order.
    """
    if not drafts:
        return []
    transaction_id = drafts[0].transaction_id
    topics = [FRAME_TOPIC[d.frame_type] for d in drafts]
    if any(d.transaction_id != transaction_id for d in drafts) or len(set(topics)) < len(topics):
        raise ValueError("One change: one transaction, at most one event per topic.")
    using = router.db_for_write(PaymentEvent)
    previous = _previous_event_ids(transaction_id, topics, connections[using])
    now = timezone.now()
    events = [
        _event_row(draft, topic, previous[topic], now)
        for draft, topic in zip(drafts, topics, strict=True)
    ]
    _insert(events, connections[using])
    for event in events:
        db_transaction.on_commit(lambda event=event: _group_send(event), robust=True, using=using)
    return events


# The previous-id read and the INSERT are written in SQL because they run on every write
# under the transaction's row lock: the ORM took 0.85 ms of CPU to build the one query
# below (0.77 ms for the two it replaces) against 0.10 ms here, and Django 5.2's
# ``bulk_create`` inserts several rows on PostgreSQL through UNNEST, whose text arrays
# psycopg escapes in Python (0.82 ms for two rows against 0.21 ms, or 0.40 ms for two
# ``save()``). Both are plain SQL that PostgreSQL and SQLite (>= 3.35, RETURNING) share,
# built from the model's metadata.


def _previous_event_ids(
    transaction_id: int, topics: list[str], connection
) -> dict[str, int | None]:
    """The newest logged event id of this transaction per topic, in one query: one scalar
    subquery per topic, each an index-only backward scan of ``(transaction_id, topic, id)``
    that stops at its first row."""
    meta, qn = PaymentEvent._meta, connection.ops.quote_name
    table, pk, txn, topic = (
        qn(meta.db_table),
        *(qn(meta.get_field(name).column) for name in ("id", "transaction_id", "topic")),
    )
    # Identifiers from the model, values as parameters.
    newest = (
        f"(SELECT {pk} FROM {table} WHERE {txn} = %s AND {topic} = %s "  # noqa: S608
        f"ORDER BY {pk} DESC LIMIT 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join([newest] * len(topics)),
            [value for name in topics for value in (transaction_id, str(name))],
        )
        row = cursor.fetchone()
    return dict(zip(topics, row, strict=True))


def _insert(events: list[PaymentEvent], connection) -> None:
    """INSERT the rows in one statement, ids assigned in list order (``save()`` each where
    the database cannot return them)."""
    if not connection.features.can_return_rows_from_bulk_insert:
        for event in events:
            event.save(using=connection.alias, force_insert=True)
        return
    meta = PaymentEvent._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    qn = connection.ops.quote_name
    table, pk, columns = qn(meta.db_table), qn(meta.pk.column), [qn(f.column) for f in fields]
    rows = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(events))
    # Identifiers from the model, values as parameters.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {rows} RETURNING {pk}"  # noqa: S608
    params = [
        field.get_db_prep_save(field.pre_save(event, add=True), connection)
        for event in events
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    # The sequence numbers the VALUES rows in order and RETURNING gives them back in that
    # order (as Django's bulk_create assumes); a relay must never carry another row's id.
    if len(ids) != len(events) or ids != sorted(ids):
        raise RuntimeError(f"INSERT returned event ids out of order: {ids}")
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
        event._state.adding = False
        event._state.db = connection.alias


def _event_row(draft: EventDraft, topic: str, previous_event_id, now) -> PaymentEvent:
    before, after = draft.before, draft.after
    current = after or before
    changed = before is not None and after is not None
    return PaymentEvent(
        topic=topic,
        frame_type=draft.frame_type,
        transaction_id=draft.transaction_id,
        previous_event_id=previous_event_id,
        data=encode(draft.data),
        sales_agent_id=current.sales_agent_id,
        previous_sales_agent_id=(
            before.sales_agent_id
            if changed and before.sales_agent_id != after.sales_agent_id
            else None
        ),
        cashier_id=current.cashier_id,
        previous_cashier_id=(
            before.cashier_id if changed and before.cashier_id != after.cashier_id else None
        ),
        cashier_pool=any(p is not None and p.cashier_id is None for p in (before, after)),
        created_at=now,
    )


def channel_message(event: PaymentEvent) -> dict:
    """What travels through the channel layer: the ready-made frame plus routing facts."""
    return {
        "type": MESSAGE_TYPE,
        "event_id": event.pk,
        "topic": event.topic,
        "transaction_id": event.transaction_id,
        "previous_event_id": event.previous_event_id,
        "audience": event.audience.to_json(),
        "created_at": event.created_at.timestamp(),
        "frame": event.frame_text(),
    }


def _group_send(event: PaymentEvent) -> None:
    """Relay a committed event to its groups, never raising and never holding the writer.

    Under daphne the writer is a worker thread of the server's event loop: the send is
    handed to that loop and the response goes out at once (``SyncToAsync`` records the
    loop in a thread-local, which is how ``async_to_sync`` itself finds it). Elsewhere
    (management commands, scripts) it runs here, bounded by ``SEND_TIMEOUT_SECONDS``.
    While the process's breaker is open (a recent failure), sends are skipped. Every daphne
    process re-reads the log each second, so a skipped or failed send only delays delivery
    (``realtime.delivery``). Sends are started in commit order, and the layer keeps it.
    """
    EVENTS_WRITTEN.labels(frame_type=event.frame_type).inc()  # counted once committed
    layer = get_channel_layer()
    if layer is None:
        return
    groups = groups_for_audience(event.audience)
    if not LAYER_BREAKER.allow():
        CHANNEL_LAYER_SEND_FAILURES.inc(len(groups))
        return
    message = channel_message(event)

    async def send_all(timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        async def send_each() -> None:
            for group in groups:
                await layer.group_send(group, message)

        try:
            await asyncio.wait_for(send_each(), timeout)
        except Exception as exc:
            # Refused, dropped or too slow: stop relaying for a moment. Under overload this
            # sheds the live path's work; the once-a-second catch-up carries the events.
            LAYER_BREAKER.failure()
            CHANNEL_LAYER_SEND_FAILURES.inc(len(groups))
            logger.warning(
                "event %s committed but not relayed (%r); clients get it from the log",
                event.pk,
                exc,
            )
        else:
            LAYER_BREAKER.success()

    loop = _server_loop()
    if loop is not None:
        loop.call_soon_threadsafe(loop.create_task, send_all())
    else:
        try:
            async_to_sync(send_all)(BLOCKING_SEND_TIMEOUT_SECONDS)
        except Exception:  # e.g. no usable event loop here; send_all logs its own failures
            logger.exception("event %s committed but not relayed", event.pk)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this worker thread serves, if any (see ``_group_send``)."""
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() and not loop.is_closed() else None
