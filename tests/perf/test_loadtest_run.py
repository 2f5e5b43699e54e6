"""A short ``manage.py loadtest`` against a real daphne: every frame arrives exactly once."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import global_settings
from django.contrib.auth.models import User
from django.core.management import call_command

from realtime.loadtest.users import LOAD_USERS

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_short_loadtest_loses_and_duplicates_nothing(daphne_server, settings, capsys):
    # The daphne subprocess verifies passwords with the default hashers, not the suite's MD5.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    call_command(
        "loadtest",
        "--base-url", daphne_server.base_url,
        "--create-users",
        "--client-role", "admin",
        "--clients", "4",
        "--transactions", "5",
        "--rate", "20",
        "--settlements", "30",
        "--in-flight", "4",
        "--drain", "10",
        "--server-pid", str(daphne_server.proc.pid),
        "--json", "-",
    )  # fmt: skip
    # --json -: stdout is the JSON alone (it was the table, then the JSON); the table and
    # the progress lines are on stderr.
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["settlements_ok"] == 30
    assert result["write_errors"] == {}
    assert result["frames_expected"] == 30 * 4
    assert result["frames_delivered"] == 30 * 4
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["out_of_order"] == 0
    assert result["still_connected"] == 4
    assert result["invariant_problems"] == []
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["max"] < 10_000
    assert result["server_cpu_us_per_frame"] > 0
    # 30 POSTs at 20 a second: the slowest frame's went out within the writing's 1.5 s.
    assert 0 <= result["slowest_post_at_s"] < 5
    # Decoded after the bytes arrived: never sooner, frame by frame.
    decoded = result["latency_decoded_ms"]
    assert all(decoded[q] >= result["latency_ms"][q] for q in ("p50", "p99", "max"))
    # Timed from when each write was due: never sooner than from when it went out.
    due = result["latency_from_due_ms"]
    assert all(due[q] >= result["latency_ms"][q] for q in ("p50", "p99", "max"))
    printed = captured.err
    assert "warning" not in printed  # the pid given is the one listening on the port
    assert "lost / duplicated" in printed
    assert "from when due ms" in printed
    slowest = f"{result['latency_ms']['max']:.1f} ms, its POST at t="
    assert re.search(rf"\nslowest frame +{re.escape(slowest)}", printed)
    # Its users are not left active behind it.
    assert not User.objects.filter(username__in=LOAD_USERS.values(), is_active=True).exists()


def test_the_invariant_check_reads_the_settlements_the_api_lists(daphne_server, settings):
    """A settlement voided or changed behind the stored total's back is found: the check
    compares the paid amount with the settlements as the API lists them."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from payments.models import PaymentSettlement
    from realtime.loadtest.api import Credentials
    from realtime.loadtest.config import LoadConfig
    from realtime.loadtest.runner import Runner
    from realtime.loadtest.users import load_users_create

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    names = load_users_create(password="invariant-pass-123")
    who = {role: Credentials(name, "invariant-pass-123") for role, name in names.items()}
    config = LoadConfig(
        base_url=daphne_server.base_url, creator=who["sales"], writer=who["cashier"],
        watchers=[who["admin"]], clients=0, rate=0, settlements=6, transactions=2, in_flight=2,
    )  # fmt: skip
    runner = Runner(config, log=lambda _line: None)
    runner.login_all()
    runner.setup_transactions()

    async def write() -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            await runner.write_phase(pool, [])

    asyncio.run(write())
    assert runner.check_invariants() == []
    with connection.cursor() as cursor:  # raw SQL: the model refuses to edit a settlement
        cursor.execute(
            f"UPDATE {PaymentSettlement._meta.db_table} SET amount = 500 WHERE id = %s",
            [max(runner.sent_at)],
        )
        assert cursor.rowcount == 1
    problems = runner.check_invariants()
    assert len(problems) == 1 and "settlements listed sum to" in problems[0]
