"""``DJANGO_DB_POOL=1`` turns on psycopg's connection pool on PostgreSQL, and only there."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.daphne import ROOT

PRINT_DB = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'pool': db.get('OPTIONS', {}).get('pool'), 'age': db['CONN_MAX_AGE']}))"
)


def _settings(**env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    full.update({"DJANGO_SETTINGS_MODULE": "escashop.settings", "DJANGO_DEBUG": "1", **env})
    return subprocess.run(
        [sys.executable, "-c", PRINT_DB],
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
        "pool": {"min_size": 2, "max_size": 8, "timeout": 10.0},
        "age": 0,
    }


def test_pool_on_sqlite_is_refused_loudly():
    out = _settings(DJANGO_DB_POOL="1")
    assert out.returncode != 0
    assert "DJANGO_DB_POOL=1 needs a PostgreSQL DATABASE_URL" in out.stderr
