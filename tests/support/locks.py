"""For race tests on PostgreSQL: see that the other side really waits on a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg
from django.db import connection, connections, transaction

T = TypeVar("T")


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


def behind_a_lock(hold: Callable[[], object], then: Callable[[], T]) -> T:
    """Run ``hold`` in a database transaction on one thread and keep it open until ``then``,
    started on another thread once ``hold`` has run, waits on a lock; return what ``then``
    returned. Either side's error is raised here, as is a ``then`` that never waited."""
    held = threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                hold()
                held.set()
                assert lock_waiter_seen(), "the other side never waited on a lock"
        finally:
            connections.close_all()

    def waiter() -> T:
        try:
            assert held.wait(10)
            return then()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.submit(holder), pool.submit(waiter)
        first.result(timeout=30)
        return second.result(timeout=30)
