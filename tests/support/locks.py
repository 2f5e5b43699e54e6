"""For race tests on PostgreSQL: see that the other side really waits on a lock."""

from __future__ import annotations

import time

import psycopg
from django.db import connection


def lock_waiter_seen(timeout: float = 10.0) -> bool:
    """Whether another session of this database waits on a lock within ``timeout``.

    Polled from a connection of its own: ``pg_stat_activity`` is read once per transaction,
    so the session holding the lock would keep seeing the moment its transaction began.
    """
    s = connection.settings_dict
    params = {"dbname": s["NAME"], "host": s["HOST"], "port": s["PORT"], "user": s["USER"]}
    params["password"] = s["PASSWORD"]
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting:
                return True
            time.sleep(0.02)
    return False
