"""``manage.py prune_payment_events`` keeps ESCASHOP_EVENT_RETENTION_DAYS of the log."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from realtime.models import PaymentEvent
from realtime.selectors import payment_log_covers, payment_log_pruned_through

pytestmark = pytest.mark.django_db


def _age(event_ids, days):
    PaymentEvent.objects.filter(id__in=event_ids).update(
        created_at=timezone.now() - dt.timedelta(days=days)
    )


def test_deletes_only_events_older_than_the_retention(settings, make_transaction):
    settings.ESCASHOP_EVENT_RETENTION_DAYS = 7
    for _ in range(3):
        make_transaction("10.00")
    ids = list(PaymentEvent.objects.values_list("id", flat=True))
    _age(ids[:2], days=8)
    _age(ids[2:], days=6)
    out = StringIO()
    call_command("prune_payment_events", "--dry-run", stdout=out)
    assert f"Would delete 2 payment events older than 7 days (ids up to {ids[1]})." in (
        out.getvalue()
    )
    assert PaymentEvent.objects.count() == len(ids)  # a dry run deletes nothing
    assert payment_log_pruned_through() == 0
    out = StringIO()
    call_command("prune_payment_events", stdout=out)
    assert "Deleted 2 payment events older than 7 days." in out.getvalue()
    assert f"Clients resuming from below event {ids[1]} are told to resync." in out.getvalue()
    assert list(PaymentEvent.objects.values_list("id", flat=True)) == ids[2:]
    assert payment_log_pruned_through() == ids[1]
    assert not payment_log_covers(ids[0])
    assert payment_log_covers(ids[1])


def test_days_option_and_nothing_to_do(make_transaction):
    make_transaction("10.00")
    out = StringIO()
    call_command("prune_payment_events", "--days", "1", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "Would delete 0 payment events older than 1 days."
    call_command("prune_payment_events", "--days", "1", stdout=out)
    assert "Deleted 0" in out.getvalue()
    assert "resync" not in out.getvalue()
    assert PaymentEvent.objects.count() == 1
    assert payment_log_pruned_through() == 0
    for days in ("0", "1000000"):  # a million days reach past year 1: refused, not a crash
        with pytest.raises(CommandError, match="from 1 to 36500"):
            call_command("prune_payment_events", "--days", days)
