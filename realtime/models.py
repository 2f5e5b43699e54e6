"""The append-only payment event log: what the websockets relay and replay."""

from __future__ import annotations

from django.db import models

from transactions.selectors import Audience

from .choices import FrameType, Topic


class PaymentEvent(models.Model):
    """One event as clients receive it; ``id`` is the ``event_id`` of the frame.

    Written by ``realtime.events.send_events_on_commit`` in the same database transaction as
    the change it describes. The audience columns fix, at write time, who may see it: admins
    always, plus the sales agents and cashiers of the transaction before and after the change,
    and every cashier when it was or is unassigned (``cashier_pool``).
    """

    topic = models.CharField(max_length=20, choices=Topic.choices)
    frame_type = models.CharField(max_length=30, choices=FrameType.choices)
    #: Not a foreign key: events outlive a deleted transaction, and the log is append-only.
    transaction_id = models.BigIntegerField()
    #: The previous event of the same transaction and topic: each transaction's chain, kept
    #: in the log and the layer message. Delivery no longer reads it (ids commit in id
    #: order, realtime.events._insert, and go out in id order, realtime.relay).
    previous_event_id = models.BigIntegerField(null=True, blank=True)
    #: The frame's ``data`` object, encoded once as JSON text (money as numbers, 2 places).
    data = models.TextField()
    sales_agent_id = models.BigIntegerField(null=True, blank=True)
    previous_sales_agent_id = models.BigIntegerField(null=True, blank=True)
    cashier_id = models.BigIntegerField(null=True, blank=True)
    previous_cashier_id = models.BigIntegerField(null=True, blank=True)
    cashier_pool = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["transaction_id", "topic", "id"]),
            models.Index(fields=["topic", "id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.frame_type} txn {self.transaction_id}"

    @property
    def audience(self) -> Audience:
        return Audience(
            sales_agent_ids=frozenset(
                i for i in (self.sales_agent_id, self.previous_sales_agent_id) if i is not None
            ),
            cashier_ids=frozenset(
                i for i in (self.cashier_id, self.previous_cashier_id) if i is not None
            ),
            cashier_pool=self.cashier_pool,
        )

    def frame_text(self) -> str:
        """The exact websocket frame, built from the stored JSON without re-encoding it."""
        return f'{{"type":"{self.frame_type}","event_id":{self.id},"data":{self.data}}}'


class PaymentLogPrune(models.Model):
    """One run of ``prune_payment_events``: events up to ``pruned_through`` may be gone.

    A client resuming with ``since`` below the highest ``pruned_through`` may have missed
    pruned events and is told to resync; ids are not contiguous (rolled-back writes leave
    holes), so the oldest remaining id alone cannot tell.
    """

    pruned_through = models.BigIntegerField()
    deleted = models.PositiveIntegerField()
    pruned_at = models.DateTimeField()

    class Meta:
        ordering = ["-pruned_through"]

    def __str__(self) -> str:
        return f"pruned through #{self.pruned_through}"
