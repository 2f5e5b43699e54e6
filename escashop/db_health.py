"""Recovering from a lost database connection (PostgreSQL restarted, or failed over).

With ``DJANGO_DB_POOL`` each process keeps its connections open. When PostgreSQL restarts,
every idle one is dead, and each would fail the next request that took it: a burst of
errors, one per pooled connection. The first request (or websocket read) to meet one
sweeps the pool instead (psycopg_pool's ``check()``: every idle connection is tried, the
dead ones replaced), so the requests after it get working connections. The request that
met it is answered 503 with ``Retry-After`` (JSON from the API, ``escashop.api_errors``;
plain text from other pages, ``DatabaseLostMiddleware``): nothing it did was
committed, unless the connection died during the COMMIT itself, which is why a payment
retried with the same ``Idempotency-Key`` is never recorded twice.

Checking every connection before each use (Django's ``CONN_HEALTH_CHECKS``) would cost a
round trip per request, and psycopg_pool sleeps with a growing backoff after each failed
check: with eight dead connections, the first request after a restart waited 7 s. The same
backoff held requests after an outage (the pool's next attempt up to 16 s after PostgreSQL
was back): settings give each attempt up after the pool's timeout, so the next request
starts a new one.
"""

from __future__ import annotations

import logging

from django import db
from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


def database_unreachable(connection: BaseDatabaseWrapper = default_connection) -> bool:
    """After a database error: whether PostgreSQL's connection itself is gone (lost, or none
    could be had), rather than the statement refused. Other databases: never (SQLite's
    errors, "database is locked" say, are about the statement or the file)."""
    if connection.vendor != "postgresql":
        return False
    raw = connection.connection
    return raw is None or raw.closed or raw.broken


def pool_sweep(connection: BaseDatabaseWrapper = default_connection) -> None:
    """Test the pool's idle connections now and replace the dead ones (no pool: nothing)."""
    pool = getattr(connection, "pool", None)
    if pool is None:
        return
    logger.warning("database connection lost: checking the pool's idle connections")
    try:
        pool.check()
    except Exception:  # the database may still be down: the next request tries again
        logger.exception("database pool check failed")


def database_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is the database connection lost (or none to be had); if so, log it
    with its traceback (a 503 that never clears is a misconfiguration to find) and sweep
    the pool."""
    if not (isinstance(exc, db.OperationalError | db.InterfaceError) and database_unreachable()):
        return False
    logger.warning("database unavailable: %s: %s", type(exc).__name__, exc, exc_info=exc)
    pool_sweep()
    return True


class DatabaseLostMiddleware:
    """The same for pages outside the API (the Django admin): 503, not an HTML 500."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_lost(exception):
            return None
        response = HttpResponse(
            "The database connection was lost. Reload the page in a moment.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = "1"
        return response
