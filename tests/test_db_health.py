"""escashop.db_health: only a lost connection is a 503; any other database error stays
what it was (a 500 with the original exception), on SQLite as on PostgreSQL."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django import db
from django.db import connections

from escashop.api_errors import exception_handler
from escashop.db_health import database_unreachable
from realtime.delivery import db_read
from tests.support.services import require_postgres

pytestmark = pytest.mark.django_db


def test_a_statement_error_is_not_a_lost_connection():
    # SQLite's "database is locked", PostgreSQL's lock timeouts: the connection is fine.
    exc = db.OperationalError("database is locked")
    assert database_unreachable() is False
    assert exception_handler(exc, {}) is None  # DRF re-raises it: a 500, as before


def test_db_read_re_raises_a_statement_error_unchanged():
    def fails():
        raise db.OperationalError("database is locked")

    with pytest.raises(db.OperationalError, match="database is locked"):
        async_to_sync(db_read(fails))()


@pytest.mark.integration
def test_on_postgresql_a_connection_that_is_gone_is_unreachable():
    require_postgres()
    fresh = connections.create_connection("default")  # never connected: none to be had
    try:
        assert database_unreachable(fresh) is True
        fresh.ensure_connection()
        assert database_unreachable(fresh) is False
        fresh.connection.close()  # as when PostgreSQL ends the session
        assert database_unreachable(fresh) is True
    finally:
        fresh.close()
