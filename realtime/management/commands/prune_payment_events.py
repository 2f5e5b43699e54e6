"""``manage.py prune_payment_events``: delete payment events older than the retention period.

Run it daily (cron, a systemd timer, a Kubernetes CronJob). Clients resuming from before the
pruned range get ``resync_required`` and refetch over REST.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from realtime.retention import payment_events_prune


class Command(BaseCommand):
    help = "Delete payment events older than ESCASHOP_EVENT_RETENTION_DAYS (default 7)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Override the retention period for this run (days, at least 1).",
        )

    def handle(self, *args, days: int | None = None, **options) -> None:
        days = settings.ESCASHOP_EVENT_RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        deleted = payment_events_prune(days=days)
        self.stdout.write(f"Deleted {deleted} payment events older than {days} days.")
