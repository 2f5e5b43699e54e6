"""``manage.py prune_payment_events``: delete payment events older than the retention period.

Run it daily (cron, a systemd timer, a Kubernetes CronJob). Clients resuming from before the
pruned range get ``resync_required`` and refetch over REST.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from realtime.retention import payment_events_expired, payment_events_prune
from realtime.selectors import payment_log_pruned_through

#: A hundred years: more would reach past the calendar's start (ESCASHOP_EVENT_RETENTION_DAYS
#: has the same bounds).
MAX_DAYS = 36500


class Command(BaseCommand):
    help = "Delete payment events older than ESCASHOP_EVENT_RETENTION_DAYS (default 7)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Override the retention period for this run (days, 1 to {MAX_DAYS}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be deleted, and up to which event id, without deleting.",
        )

    def handle(self, *args, days: int | None = None, dry_run: bool = False, **options) -> None:
        days = settings.ESCASHOP_EVENT_RETENTION_DAYS if days is None else days
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be from 1 to {MAX_DAYS}.")
        if dry_run:
            through, count = payment_events_expired(days=days)
            self.stdout.write(
                f"Would delete {count} payment events older than {days} days"
                + ("." if through is None else f" (ids up to {through}).")
            )
            return
        deleted = payment_events_prune(days=days)
        through = payment_log_pruned_through()
        self.stdout.write(
            f"Deleted {deleted} payment events older than {days} days."
            + (
                f" Clients resuming from below event {through} are told to resync."
                if through
                else ""
            )
        )
