"""PostgreSQL restarts under a pooled daphne: one 503 to retry, not a 500 per pooled connection.

A restart ends every session; each connection the pool keeps is then dead. Before, each
one failed the next request that took it (an HTML 500 each). Now the first request to meet
one sweeps the pool (escashop/db_health.py) and answers 503 with Retry-After; the rest get
fresh connections. The restart is what PostgreSQL does to the sessions of this daphne
only: ``pg_terminate_backend`` on them (found by their application name), so other tests'
servers are untouched.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from tests.support.daphne import DaphneServer
from tests.support.daphne import test_database_url as database_url
from tests.support.services import require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

APPLICATION = "escashop-test-db-lost"


def _get(server: DaphneServer, token: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"{server.base_url}/api/transactions/", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"not json": body[:200].decode(errors="replace")}
        return exc.code, parsed, dict(exc.headers)


def _end_server_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [APPLICATION],
        )
        return cursor.fetchone()[0]


def _pooled_server(min_size: int) -> DaphneServer:
    """A daphne keeping at least ``min_size`` pooled connections, named for ending them."""
    return DaphneServer(
        extra_env={
            "DATABASE_URL": f"{database_url()}?application_name={APPLICATION}",
            "DJANGO_DB_POOL": "1",
            "DJANGO_DB_POOL_MIN": str(min_size),
        }
    ).start()


def test_a_restart_costs_one_503_not_a_500_per_pooled_connection(admin_user):
    require_postgres()
    server = _pooled_server(6)
    try:
        token = str(AccessToken.for_user(admin_user))
        with ThreadPoolExecutor(6) as pool:  # every pooled connection used and kept
            assert [r[0] for r in pool.map(lambda _: _get(server, token), range(12))] == [200] * 12
        assert _end_server_sessions() >= 6

        answers = [_get(server, token) for _ in range(10)]
        codes = [status for status, _body, _headers in answers]
        # Nothing took a connection since the sessions ended (no websocket is open): the
        # first request gets a dead one, and it alone fails.
        assert codes == [503] + [200] * 9, answers
        _status, body, headers = answers[0]
        assert "try again" in body["detail"]
        assert headers["Retry-After"] == "1"
    finally:
        server.stop()


def test_an_admin_page_meeting_a_dead_connection_is_a_503_and_sweeps_too(admin_user):
    require_postgres()
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)  # a session row the server reads on every admin page
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    server = _pooled_server(4)

    def admin_index() -> tuple[int, str]:
        request = urllib.request.Request(f"{server.base_url}/admin/", headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, ""
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    try:
        assert admin_index()[0] == 200
        assert _end_server_sessions() >= 1
        answers = [admin_index() for _ in range(6)]
        assert [status for status, _text in answers] == [503] + [200] * 5, answers
        assert "Reload the page" in answers[0][1]
    finally:
        server.stop()


def test_after_an_outage_longer_than_the_pools_backoff_requests_recover_at_once(admin_user):
    """psycopg_pool retries a failed connection with a doubling delay (1, 2, 4, 8, 16 s...)
    for up to its reconnect_timeout (5 minutes by default): after a 20 s outage the next
    attempt was up to 16 s away, and every request meanwhile waited its pool timeout and got
    a 503 while /healthz, which opens a connection of its own, already said 200. The pool
    now gives an attempt up after a few seconds, and the next request starts a fresh one."""
    import time
    from urllib.parse import urlparse, urlunparse

    from tests.support.tcp_proxy import TcpProxy

    require_postgres()
    real = urlparse(database_url())
    proxy = TcpProxy((real.hostname, real.port or 5432)).up()
    through_proxy = real._replace(netloc=f"{real.netloc.rsplit('@', 1)[0]}@127.0.0.1:{proxy.port}")
    server = DaphneServer(
        extra_env={
            "DATABASE_URL": urlunparse(through_proxy),
            "DJANGO_DB_POOL": "1",
            "DJANGO_DB_POOL_MIN": "2",
            "DJANGO_DB_POOL_TIMEOUT": "2",
        }
    ).start()
    try:
        token = str(AccessToken.for_user(admin_user))
        assert _get(server, token)[0] == 200
        proxy.down()
        # One request meets a dead connection (503, the pool swept), the next waits for a
        # connection the pool cannot make (503 after its 2 s timeout): attempts back off.
        assert [_get(server, token)[0] for _ in range(2)] == [503, 503]
        time.sleep(20)
        proxy.up()
        started = time.monotonic()
        status, body, _headers = _get(server, token)
        took = time.monotonic() - started
        assert status == 200, body
        assert took < 1.5, f"the first request after the outage took {took:.1f}s"
    finally:
        server.stop()
        proxy.down()
