"""``manage.py benchwrite``: CPU, wall time and queries per request of the hot REST paths.

In-process (DRF's ``APIClient``, no server, no network), against the configured database:
N settlement POSTs, then N each of ``GET /api/auth/me/``, ``GET /api/transactions/<id>/``
and ``GET /api/transactions/``. It writes (users ``benchwrite-cashier`` and
``benchwrite-sales``, a customer, transactions, settlements, events) and leaves its rows, so
it refuses to run unless the database name looks like a scratch one (``bench``, ``scratch``,
``perf``, ``tmp``) or ``--yes`` is given. See docs/performance.md.
"""

from __future__ import annotations

import cProfile
import os
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.http.request import validate_host
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from transactions.choices import Role
from transactions.services import customer_create, transaction_create

SCRATCH_NAME = re.compile(r"bench|scratch|perf|tmp", re.IGNORECASE)
CASHIER = "benchwrite-cashier"
SALES = "benchwrite-sales"
#: Large enough that N settlements of 1.00 spread over the transactions never pay one off.
TRANSACTION_AMOUNT = Decimal("1000000.00")


@dataclass
class Sample:
    name: str
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)


class _QueryCounter:
    """Counts statements on this thread's connection (cheaper than recording them)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = (
        "Measure CPU ms, wall ms and queries per request of the settlement POST and three "
        "GETs, in-process through DRF's APIClient, against the configured (scratch) database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        a = parser.add_argument
        a("-n", "--requests", type=int, default=300, help="measured requests of each kind")
        a("--warmup", type=int, default=20, help="unmeasured requests of each kind first")
        a("--transactions", type=int, default=50, help="transactions the POSTs spread over")
        a("--yes", action="store_true", help="run even if the database name is not a scratch one")
        a(
            "--profile",
            metavar="PATH",
            help="write a CPU-time cProfile of the measured settlement POSTs here (pstats)",
        )

    def handle(self, *args, **options) -> None:
        name = str(settings.DATABASES["default"]["NAME"])
        if not options["yes"] and not SCRATCH_NAME.search(Path(name).name):
            raise CommandError(
                f"benchwrite writes users, transactions and settlements into {name!r}; use a "
                "scratch database (its name containing bench, scratch, perf or tmp) or --yes."
            )
        n, warmup = options["requests"], options["warmup"]
        if n < 1 or options["transactions"] < 1:
            raise CommandError("--requests and --transactions must be at least 1.")
        if warmup < 0:
            raise CommandError("--warmup cannot be negative.")
        if options["profile"] and not Path(options["profile"]).resolve().parent.is_dir():
            # Checked before anything is written, not after the run.
            raise CommandError(f"--profile {options['profile']}: no such folder.")
        if not validate_host("testserver", settings.ALLOWED_HOSTS):
            raise CommandError(
                "benchwrite sends its requests as host 'testserver': add it to "
                "DJANGO_ALLOWED_HOSTS (e.g. DJANGO_ALLOWED_HOSTS=testserver,localhost)."
            )
        cashier, sales = _users()
        customer = customer_create(name="Benchwrite Customer", contact_number="0917 000 0000")
        txns = [
            transaction_create(customer=customer, amount=TRANSACTION_AMOUNT, created_by=sales)
            for _ in range(options["transactions"])
        ]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(cashier)}")
        run = f"{time.time_ns():x}"
        posts = iter(range(10**9))

        def settle() -> object:
            i = next(posts)
            return client.post(
                f"/api/transactions/{txns[i % len(txns)].pk}/settlements/",
                {"amount": "1.00", "payment_mode": "cash"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"benchwrite-{run}-{i}",
            )

        detail_url = f"/api/transactions/{txns[0].pk}/"
        requests = [
            ("POST /api/transactions/<id>/settlements/", settle, 201),
            ("GET /api/auth/me/", lambda: client.get("/api/auth/me/"), 200),
            ("GET /api/transactions/<id>/", lambda: client.get(detail_url), 200),
            ("GET /api/transactions/", lambda: client.get("/api/transactions/"), 200),
        ]
        # Every transaction gets its cashier first (the first settlement assigns it), so each
        # measured POST does the same work; then a warm-up of every kind.
        for _ in txns:
            _expect(settle(), 201)
        for _, call, status in requests:
            for _ in range(warmup):
                _expect(call(), status)

        samples = []
        counter = _QueryCounter()
        with connection.execute_wrapper(counter):
            for label, call, status in requests:
                profile = options["profile"] and status == 201
                profiler = cProfile.Profile(time.process_time) if profile else None
                samples.append(_measure(label, call, status, n, counter, profiler))
                if profiler is not None:
                    profiler.dump_stats(options["profile"])
        self._report(samples, n)

    def _report(self, samples: list[Sample], n: int) -> None:
        out = self.stdout.write
        layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
        out(
            f"benchwrite: {n} requests each, {connection.vendor} {connection.settings_dict['NAME']}"
            f", layer {layer}, commit {_commit()}, {timezone.now():%Y-%m-%d %H:%M} UTC, "
            f"{os.cpu_count()} CPUs, load {_loadavg()}"
        )
        rows = [
            (
                s.name,
                f"{statistics.fmean(s.cpu_ms):.2f}",
                f"{statistics.median(s.cpu_ms):.2f}",
                f"{statistics.fmean(s.wall_ms):.2f}",
                f"{statistics.median(s.wall_ms):.2f}",
                f"{statistics.fmean(s.queries):.1f}",
            )
            for s in samples
        ]
        head = ("request", "CPU ms mean", "CPU ms p50", "wall ms mean", "wall ms p50", "queries")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for row in [head, tuple("-" * w for w in widths), *rows]:
            out(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )


def _measure(label, call, status, n, counter, profiler) -> Sample:
    sample = Sample(label)
    for _ in range(n):
        queries = counter.count
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        response = call()
        if profiler is not None:
            profiler.disable()
        sample.wall_ms.append((time.perf_counter() - wall) * 1000)
        sample.cpu_ms.append((time.process_time() - cpu) * 1000)
        sample.queries.append(counter.count - queries)
        _expect(response, status)
    return sample


def _expect(response, status: int) -> None:
    if response.status_code != status:
        raise CommandError(
            f"{response.wsgi_request.method} {response.wsgi_request.path} answered "
            f"{response.status_code}, expected {status}: {response.content[:300]!r}"
        )


def _users():
    """The benchmark's cashier and sales agent, (re)made with exactly one role each."""
    made = []
    for username, role, last in ((CASHIER, Role.CASHIER, "Cashier"), (SALES, Role.SALES, "Sales")):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.first_name, user.last_name, user.is_active = "Bench", last, True
        user.set_unusable_password()
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
        made.append(user)
    return made


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return "?"
    return result.stdout.strip() or "?"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"
