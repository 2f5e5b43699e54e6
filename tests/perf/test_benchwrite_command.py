"""``manage.py benchwrite`` refuses a database that does not look like a scratch one, and
otherwise measures every request kind (all answered as expected, queries counted)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def test_a_database_not_named_like_a_scratch_one_is_refused(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", "escashop")
    with pytest.raises(CommandError, match="scratch database"):
        call_command("benchwrite", "-n", "1")


def test_it_reports_cpu_wall_and_queries_for_each_request(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    out = io.StringIO()
    call_command(
        "benchwrite", "--yes", "-n", "3", "--warmup", "1", "--transactions", "2", stdout=out
    )
    lines = out.getvalue().splitlines()
    assert lines[1].split()[:3] == ["request", "CPU", "ms"]
    rows = {line.split()[0] + " " + line.split()[1]: line.split() for line in lines[3:]}
    assert set(rows) == {
        "POST /api/transactions/<id>/settlements/",
        "GET /api/auth/me/",
        "GET /api/transactions/<id>/",
        "GET /api/transactions/",
    }
    assert float(rows["GET /api/auth/me/"][-1]) == 1.0  # the user with its roles
    assert all(float(row[2]) > 0 for row in rows.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--warmup", "-1"], "--warmup cannot be negative"),
        (["-n", "0"], "--requests and --transactions"),
        (["--profile", "/no/such/folder/p.prof"], "--profile .* no such folder"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(settings, args, message):
    settings.ALLOWED_HOSTS = ["testserver"]
    with pytest.raises(CommandError, match=message):
        call_command("benchwrite", "--yes", *args)
    assert not Transaction.objects.exists()


def test_hosts_without_testserver_are_a_clear_error(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    with pytest.raises(CommandError, match="DJANGO_ALLOWED_HOSTS"):
        call_command("benchwrite", "--yes", "-n", "1")
