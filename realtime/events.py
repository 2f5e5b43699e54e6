"""The one chokepoint for payment events (Zulip's ``send_event_on_commit``).

``send_event_on_commit`` writes the event row in the caller's database transaction and
schedules the channel-layer send for after the commit. Nothing else calls ``group_send``.
A rollback discards both the row and the send; a channel-layer failure after the commit
is logged and never fails the write: connected clients then get the event from the log
(see ``realtime.delivery``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
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


def send_event_on_commit(
    *,
    frame_type: FrameType,
    transaction_id: int,
    data: PaymentStatusData | TransactionUpdatedData,
    before: Parties | None,
    after: Parties | None,
) -> PaymentEvent:
    """Log an event (audience: whoever could see the transaction before or after the
    change) and relay it to the audience's groups once the surrounding transaction commits.

    Must be called inside the atomic block of the change, after the transaction's row lock
    was taken, so that events of one transaction get ids in commit order.
    """
    topic = FRAME_TOPIC[frame_type]
    current = after or before
    changed = before is not None and after is not None
    previous_event_id = (
        PaymentEvent.objects.filter(transaction_id=transaction_id, topic=topic)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    event = PaymentEvent.objects.create(
        topic=topic,
        frame_type=frame_type,
        transaction_id=transaction_id,
        previous_event_id=previous_event_id,
        data=encode(data),
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
        created_at=timezone.now(),
    )
    db_transaction.on_commit(lambda: _group_send(event), robust=True)
    return event


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
