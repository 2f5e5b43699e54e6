"""The one chokepoint for payment events (after Zulip's ``send_event_on_commit``).

``send_events_on_commit`` writes the event rows of one change in the caller's database
transaction and schedules their channel-layer send, one message carrying the change's
events in order to the group every process's relay is in, for after the commit. Nothing
else calls ``group_send``.
A rollback discards both the rows and the sends; a channel-layer failure after the commit
is logged and never fails the write: connected clients then get the event from the log
(see ``realtime.delivery``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections, router
from django.db import transaction as db_transaction
from django.utils import timezone

from transactions.selectors import users_roles_query

from .choices import FRAME_TOPIC, FrameType
from .groups import EVENTS_GROUP
from .layer import LAYER_BREAKER
from .metrics import CHANNEL_LAYER_SEND_FAILURES, EVENTS_WRITTEN
from .models import PaymentEvent
from .payloads import PaymentStatusData, TransactionUpdatedData, encode

if TYPE_CHECKING:
    from .delivery import AccessRead


logger = logging.getLogger(__name__)

#: Channel-layer message type: the events of one change, received by ``realtime.relay``.
MESSAGE_TYPE = "payment.events"
#: Longest the relay of one event may take: on the server's loop, where nobody waits for it
#: but a busy loop stretches every round trip; in a writer's own thread, which waits.
SEND_TIMEOUT_SECONDS = 10.0
BLOCKING_SEND_TIMEOUT_SECONDS = 1.0
#: Longest a writer waits for its own process's screens to be sent a change's frames.
LOCAL_SERVE_WAIT_SECONDS = 0.02


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

    One INSERT writes every row, each reading its topic's previous event id as it goes
    (``_insert``). Must be called inside the atomic block of the change, after the
    transaction's row lock was taken, so that events of one transaction get ids in commit
    order. Under daphne, with websockets open in this process, the same round trip reads
    their users' access, the check the events wait for before this process's relay offers
    them (``realtime.delivery.access_check_due``).
    """
    if not drafts:
        return []
    transaction_id = drafts[0].transaction_id
    topics = [FRAME_TOPIC[d.frame_type] for d in drafts]
    if any(d.transaction_id != transaction_id for d in drafts) or len(set(topics)) < len(topics):
        raise ValueError("One change: one transaction, at most one event per topic.")
    using = router.db_for_write(PaymentEvent)
    now = timezone.now()
    events = [_event_row(draft, topic, now) for draft, topic in zip(drafts, topics, strict=True)]
    loop = _server_loop()
    due = None
    if loop is not None:
        from .delivery import access_check_due  # the delivery code is big; daphne only

        due = access_check_due(loop, now.timestamp())
    access = _insert(events, connections[using], access_due=due)
    db_transaction.on_commit(lambda: _group_send(events, access), robust=True, using=using)
    return events


# The INSERT is written in SQL because it runs on every write under the transaction's row
# lock: the ORM took 0.85 ms of CPU to build the previous-id query alone (0.77 ms for the
# two it replaced) against 0.10 ms here, and Django 5.2's ``bulk_create`` inserts several
# rows on PostgreSQL through UNNEST, whose text arrays psycopg escapes in Python (0.82 ms
# for two rows against 0.21 ms, or 0.40 ms for two ``save()``). Folding the previous-id
# read into the INSERT saves the write a round trip. It is plain SQL that PostgreSQL and
# SQLite (>= 3.35, RETURNING) share, built from the model's metadata.


def _newest_event_sql(connection) -> str:
    """A scalar subquery: the newest logged event id of one transaction and topic (an
    index-only backward scan of ``(transaction_id, topic, id)`` that stops at its first
    row); parameters: transaction id, topic."""
    meta, qn = PaymentEvent._meta, connection.ops.quote_name
    table, pk, txn, topic = (
        qn(meta.db_table),
        *(qn(meta.get_field(name).column) for name in ("id", "transaction_id", "topic")),
    )
    # Identifiers from the model, values as parameters.
    return (
        f"(SELECT {pk} FROM {table} WHERE {txn} = %s AND {topic} = %s "  # noqa: S608
        f"ORDER BY {pk} DESC LIMIT 1)"
    )


#: Deferred constraint checks (the foreign keys) run now, not at COMMIT (``_insert``).
CONSTRAINTS_NOW = "SET CONSTRAINTS ALL IMMEDIATE"

#: The PostgreSQL advisory lock (transaction-level) under which every change writes its
#: events (``_insert``): the ASCII of "ESCAPAY1".
EVENT_ORDER_LOCK = 0x4553434150415931


def _ordered_id_sql() -> str:
    """A row's id, taken under ``EVENT_ORDER_LOCK`` (PostgreSQL): the lock is in a subquery
    the ``nextval`` reads from, so PostgreSQL must take it first, whatever order it computes
    the row's columns in. It is taken in the INSERT itself, not by a statement of its own:
    one round trip fewer while it is held. (Re-taking it for the change's second row costs
    nothing; an advisory lock is re-entrant within a transaction.)"""
    meta = PaymentEvent._meta
    sequence = f"pg_get_serial_sequence('{meta.db_table}', '{meta.pk.column}')"
    # Identifiers from the model, the lock key a constant.
    return (
        f"(SELECT nextval({sequence}) FROM "  # noqa: S608
        f"(SELECT pg_advisory_xact_lock({EVENT_ORDER_LOCK})) AS ordered)"
    )


def _insert(events: list[PaymentEvent], connection, *, access_due=None) -> AccessRead | None:
    """INSERT the rows in one statement, ids assigned in list order, each row's
    ``previous_event_id`` read by the statement itself (it sees what committed before it
    began, under the transaction's row lock: every earlier event of the transaction, and
    none of its own rows, which are of other topics). Where the database cannot return the
    ids, one ``save()`` each after reading the previous id.

    **Ids commit in id order.** On PostgreSQL each row's id is taken under
    ``EVENT_ORDER_LOCK`` (``_ordered_id_sql``), held until the write commits or rolls back,
    so the next change takes its ids only after this one has ended: once an event is
    visible, every lower id has committed or is gone for good. The delivery code relies on
    it (``realtime.relay``: frames go out strictly in id order, so resuming from the highest
    id handled loses nothing). It must be the last lock a write takes, or a write holding it
    could wait for a row lock whose holder waits for it: the services write the events
    last, after their row locks, and commit right after (the admin's bulk delete locks every
    selected row before its first deletion), and the deferred foreign-key checks, with the
    row locks they take, run just before it (``CONSTRAINTS_NOW``). SQLite lets one writer in
    at a time anyway.

    ``access_due`` (``realtime.delivery.access_check_due``: when the check began, and the
    websocket connections it covers): their users' roles are read right after the rows are
    written, in the same round trip on PostgreSQL (psycopg's pipeline mode), and returned as
    the access check the events wait for; None without it.
    """
    access = None
    if access_due is not None:
        from .delivery import AccessRead, access_user_ids  # imported by daphne already

        started, access_of = access_due
        user_ids = access_user_ids(access_of)
        access_sql, access_params = users_roles_query(connection, user_ids)
    if not connection.features.can_return_rows_from_bulk_insert:
        for event in events:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT " + _newest_event_sql(connection),
                    [event.transaction_id, str(event.topic)],
                )
                event.previous_event_id = cursor.fetchone()[0]
            event.save(using=connection.alias, force_insert=True)
        if access_due is not None:
            with connection.cursor() as cursor:
                cursor.execute(access_sql, access_params)
                rows = cursor.fetchall()
            access = AccessRead.from_rows(started, access_of, connection, user_ids, rows)
        return access
    meta = PaymentEvent._meta
    previous = meta.get_field("previous_event_id")
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    qn = connection.ops.quote_name
    table, pk, columns = qn(meta.db_table), qn(meta.pk.column), [qn(f.column) for f in fields]
    newest = _newest_event_sql(connection)
    values = [newest if field is previous else "%s" for field in fields]
    if connection.vendor == "postgresql":
        columns, values = [pk, *columns], [_ordered_id_sql(), *values]
    row = "(" + ", ".join(values) + ")"
    # Identifiers from the model, values as parameters.
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608
        f"{', '.join([row] * len(events))} RETURNING {pk}, {qn(previous.column)}"
    )
    params = [
        value
        for event in events
        for field in fields
        for value in (
            (event.transaction_id, str(event.topic))
            if field is previous
            else (field.get_db_prep_save(field.pre_save(event, add=True), connection),)
        )
    ]
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as first, connection.cursor() as cursor, connection.cursor() as check:
        together = postgres or access_due is not None
        with _one_round_trip(connection) if together else contextlib.nullcontext():
            if postgres:
                # The foreign keys Django makes on PostgreSQL are checked at COMMIT (DEFERRABLE
                # INITIALLY DEFERRED), which takes a KEY SHARE lock on each row referred to:
                # a user's row locked by a deletion in progress then held this write at
                # COMMIT, the event-order lock with it, and every payment of the shop behind
                # it. Checked now, before that lock, in the same round trip.
                first.execute(CONSTRAINTS_NOW)
            cursor.execute(sql, params)
            if access_due is not None:
                # Begun after the events were written (``created_at``), in their
                # transaction: it sees every change of access committed before they were.
                check.execute(access_sql, access_params)
        returned = cursor.fetchall()
        if access_due is not None:
            rows = check.fetchall()
            access = AccessRead.from_rows(started, access_of, connection, user_ids, rows)
    ids = [row[0] for row in returned]
    # The sequence numbers the VALUES rows in order and RETURNING gives them back in that
    # order (as Django's bulk_create assumes); a relay must never carry another row's id.
    if len(ids) != len(events) or ids != sorted(ids):
        raise RuntimeError(f"INSERT returned event ids out of order: {ids}")
    for event, (pk, previous_id) in zip(events, returned, strict=True):
        event.pk = pk
        event.previous_event_id = previous_id
        event._state.adding = False
        event._state.db = connection.alias
    return access


@contextlib.contextmanager
def _one_round_trip(connection):
    """The statements executed inside are sent together and their results read once, at
    the end (psycopg's pipeline mode), with database errors raised as Django's."""
    pipeline = getattr(connection.connection, "pipeline", None)  # psycopg 3, not psycopg2
    if pipeline is None or not _pipeline_supported():
        with connection.wrap_database_errors:
            yield  # one round trip each
        return
    with connection.wrap_database_errors, pipeline():
        yield


@functools.cache
def _pipeline_supported() -> bool:
    import psycopg

    return psycopg.Pipeline.is_supported()  # libpq 14 or newer


def _event_row(draft: EventDraft, topic: str, now) -> PaymentEvent:
    before, after = draft.before, draft.after
    current = after or before
    changed = before is not None and after is not None
    return PaymentEvent(
        topic=topic,
        frame_type=draft.frame_type,
        transaction_id=draft.transaction_id,
        previous_event_id=None,  # read by the INSERT (_insert)
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


def log_origin() -> str:
    """Which event log a channel-layer message comes from: a digest of the secret key and
    the database's name, which every process of one deployment shares (the same tokens must
    verify everywhere, the same log is read everywhere), and another deployment does not.

    Event ids mean something only within one log. Two deployments on one Redis server with
    the same ``ESCASHOP_CHANNEL_PREFIX`` hear each other (Redis Pub/Sub channels ignore the
    database number of ``REDIS_URL``): a foreign event 33 would be taken for this log's 33,
    and this log's own 33 then dropped as its copy. The relay drops messages of another
    origin instead (``realtime.relay``), and says so.
    """
    return _origin(settings.SECRET_KEY, str(settings.DATABASES["default"]["NAME"]))


@functools.lru_cache(maxsize=8)
def _origin(secret_key: str, database: str) -> str:
    return hashlib.sha256(f"escashop-log\0{secret_key}\0{database}".encode()).hexdigest()[:16]


def channel_message(events: Sequence[PaymentEvent]) -> dict:
    """What travels through the channel layer: events of one change, in id order, each
    the ready-made frame plus routing facts, and the log they come from."""
    return {
        "type": MESSAGE_TYPE,
        "origin": log_origin(),
        "events": [
            {
                "event_id": event.pk,
                "topic": event.topic,
                "transaction_id": event.transaction_id,
                "previous_event_id": event.previous_event_id,
                "audience": event.audience.to_json(),
                "created_at": event.created_at.timestamp(),
                "frame": event.frame_text(),
            }
            for event in events
        ],
    }


def _group_send(events: Sequence[PaymentEvent], access: AccessRead | None = None) -> None:
    """Relay a change's committed events, never raising: one message, one publish.

    Under daphne the writer is a worker thread of the server's event loop (``SyncToAsync``
    records the loop in a thread-local, which is how ``async_to_sync`` itself finds it):
    the events are handed to that loop, whose live relay offers them to the process's own
    connections straight away, and the layer send runs there without the writer waiting
    for it; the writer waits only, at most ``LOCAL_SERVE_WAIT_SECONDS``, for the first
    local connections to be sent their frames. Elsewhere (management commands, scripts)
    the send runs here, bounded by ``BLOCKING_SEND_TIMEOUT_SECONDS``. While the process's
    breaker is open (a recent failure), layer sends are skipped; local connections are
    still served. Every daphne process re-reads the log each second, so a skipped or failed
    send only delays delivery (``realtime.delivery``). Sends are started in commit order,
    and the layer keeps it.
    """
    for event in events:
        EVENTS_WRITTEN.labels(frame_type=event.frame_type).inc()  # counted once committed
    layer = get_channel_layer()
    if layer is None:
        return
    # Every process's relay receives every event; each connection's audience check
    # (ConnectionDelivery) decides per event who is sent what.
    message = channel_message(events)
    sending = LAYER_BREAKER.allow()
    if not sending:
        CHANNEL_LAYER_SEND_FAILURES.inc()

    async def send_all(timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        try:
            await asyncio.wait_for(layer.group_send(EVENTS_GROUP, message), timeout)
        except Exception as exc:
            # Refused, dropped or too slow: stop relaying for a moment. Under overload this
            # sheds the live path's work; the once-a-second catch-up carries the events.
            LAYER_BREAKER.failure()
            CHANNEL_LAYER_SEND_FAILURES.inc()
            logger.warning(
                "events %s committed but not relayed (%r); clients get them from the log",
                _ids(events),
                exc,
            )
        else:
            LAYER_BREAKER.success()

    loop = _server_loop()
    if loop is not None:
        from .relay import serves_connections  # the relay imports the delivery code: big

        # This process's own screens get the events at once, from memory, while they go out
        # through the layer to the other processes (the copy that comes back is dropped by
        # event id), after the access check read with them (``access``; without it the
        # relay waits for a check of its own). The writer waits, briefly, until those
        # screens have their frames: the loop sends them now, instead of after the writer's
        # thread has built the response and let go of the GIL (about 1 ms sooner on the
        # screens; the response as much later). Nothing to wait for without local
        # connections.
        served = threading.Event() if serves_connections(loop) else None
        send = send_all() if sending else None
        loop.call_soon_threadsafe(_relay_here_and_send, message, send, served, access)
        if served is not None:
            served.wait(LOCAL_SERVE_WAIT_SECONDS)
    elif sending:
        try:
            async_to_sync(send_all)(BLOCKING_SEND_TIMEOUT_SECONDS)
        except Exception:  # e.g. no usable event loop here; send_all logs its own failures
            logger.exception("events %s committed but not relayed", _ids(events))


def _relay_here_and_send(
    message: dict,
    send: Coroutine | None,
    served: threading.Event | None,
    access: AccessRead | None,
) -> None:
    """On the server's loop: apply the writer's access check (``access``, or None), offer a
    change's events to this process's connections, then start ``send`` (through the
    channel layer, if the breaker allows; ``_group_send``)."""
    from .delivery import catchup_hub
    from .relay import current_relay

    if access is not None:
        catchup_hub().access_read(access)
    relay = current_relay()
    if relay is not None:
        relay.dispatch_soon(message, served=served)
    elif served is not None:
        served.set()
    if send is not None:
        asyncio.get_running_loop().create_task(send)


def _ids(events: Sequence[PaymentEvent]) -> str:
    return ",".join(str(event.pk) for event in events)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this worker thread serves, if any (see ``_group_send``)."""
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() and not loop.is_closed() else None
