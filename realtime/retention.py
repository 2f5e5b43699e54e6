"""Retention of the payment event log (``ESCASHOP_EVENT_RETENTION_DAYS``, 7 by default)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction as db_transaction
from django.db.models import Max
from django.utils import timezone

from .models import PaymentEvent, PaymentLogPrune


def _expired_through(now: dt.datetime | None, days: int | None) -> int | None:
    """The newest event id older than the retention period (None: nothing expired)."""
    days = settings.ESCASHOP_EVENT_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    return PaymentEvent.objects.filter(created_at__lt=cutoff).aggregate(m=Max("id"))["m"]


def payment_events_expired(
    *, now: dt.datetime | None = None, days: int | None = None
) -> tuple[int | None, int]:
    """What a prune would delete now: the newest expired event id (None: nothing expired)
    and how many events lie at or below it."""
    through = _expired_through(now, days)
    if through is None:
        return None, 0
    return through, PaymentEvent.objects.filter(id__lte=through).count()


@db_transaction.atomic
def payment_events_prune(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete events older than the retention period; return how many were deleted.

    Deletes by id (everything up to the newest expired event), so the log stays a suffix
    of ids, and records that id: a client resuming below it is told to resync.
    """
    through = _expired_through(now, days)
    if through is None:
        return 0
    deleted, _ = PaymentEvent.objects.filter(id__lte=through).delete()
    PaymentLogPrune.objects.create(
        pruned_through=through, deleted=deleted, pruned_at=timezone.now()
    )
    return deleted
