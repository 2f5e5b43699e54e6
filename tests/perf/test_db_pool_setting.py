"""``DJANGO_DB_POOL=1`` turns on psycopg's connection pool on PostgreSQL, and only there;
``DJANGO_DB_PREPARED`` (on by default there) its server-side binding and prepared statements."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.support.daphne import ROOT
from tests.support.services import require_postgres, skip_or_fail
from transactions.models import Transaction

PRINT_DB = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'pool': db.get('OPTIONS', {}).get('pool'), 'age': db['CONN_MAX_AGE']}))"
)


def _settings(script: str = PRINT_DB, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    full.update({"DJANGO_SETTINGS_MODULE": "escashop.settings", "DJANGO_DEBUG": "1", **env})
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pool_is_off_by_default():
    out = _settings(DATABASE_URL="postgres://u@127.0.0.1:5432/x", DJANGO_CONN_MAX_AGE="30")
    assert json.loads(out.stdout) == {"pool": None, "age": 30}


def test_pool_on_postgres_replaces_persistent_connections():
    out = _settings(
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        DJANGO_CONN_MAX_AGE="30",
        DJANGO_DB_POOL="1",
        DJANGO_DB_POOL_MAX="8",
    )
    assert json.loads(out.stdout) == {
        "pool": {"min_size": 2, "max_size": 8, "timeout": 10.0, "reconnect_timeout": 10.0},
        "age": 0,
    }


def test_pool_on_sqlite_is_refused_loudly():
    out = _settings(DJANGO_DB_POOL="1")
    assert out.returncode != 0
    assert "DJANGO_DB_POOL=1 needs a PostgreSQL DATABASE_URL" in out.stderr


PRINT_BINDING = (
    "import json, django; from django.conf import settings; django.setup(); "
    "o = settings.DATABASES['default'].get('OPTIONS', {}); "
    "print(json.dumps([o.get('server_side_binding'), o.get('prepare_threshold')]))"
)


def _binding(**env: str) -> list:
    out = _settings(PRINT_BINDING, **env)
    return json.loads(out.stdout)


def test_prepared_statements_are_on_for_postgres_unless_turned_off():
    postgres = "postgres://u@127.0.0.1:5432/x"
    assert _binding(DATABASE_URL=postgres) == [True, 5]
    assert _binding(DATABASE_URL=postgres, DJANGO_DB_PREPARED="0") == [None, None]
    assert _binding() == [None, None]  # SQLite: nothing to prepare


@pytest.mark.integration
@pytest.mark.django_db
def test_a_query_run_often_is_prepared_on_its_connection(make_transaction):
    """What DJANGO_DB_PREPARED buys: PostgreSQL keeps the plan of a hot query."""
    require_postgres()
    if not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
        skip_or_fail("DJANGO_DB_PREPARED=0 in this environment")
    txn = make_transaction("100.00")
    for _ in range(6):
        Transaction.objects.filter(pk=txn.pk).values_list("amount", flat=True).get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('"transactions_transaction"' in sql and "$1" in sql for sql in prepared)
