"""The acceptance suite's one server: a fresh PostgreSQL database migrated with
`manage.py migrate`, the cast made with standard Django in `manage.py shell`, and
`daphne escashop.asgi:application` started with SPEC section 7's variables.

Nothing here uses pytest-django's database: the suite is a client of the running product.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.support.services import require_postgres, require_redis

from .harness import PASSWORD, ROOT, Server, env_base, free_port, manage

#: username -> (groups, extra User fields). Everybody's password is harness.PASSWORD.
CAST: dict[str, tuple[list[str], dict]] = {
    "acc_admin": (["admin"], {"first_name": "Ada", "last_name": "Admin"}),
    "acc_super": ([], {"is_superuser": True, "is_staff": True}),
    "acc_cashier": (["cashier"], {"first_name": "Maria", "last_name": "Santos"}),
    "acc_cashier2": (["cashier"], {}),
    "acc_sales": (["sales"], {"first_name": "Sam", "last_name": "Sales"}),
    "acc_sales2": (["sales"], {"first_name": "Sofia", "last_name": "Lim"}),
    "acc_multi": (["sales", "cashier"], {"first_name": "Mia", "last_name": "Multi"}),
    "acc_nobody": ([], {}),
    "acc_inactive": (["admin"], {"is_active": False}),
    "acc_deact": (["cashier"], {}),  # deactivated by a test after logging in
    "acc_throttle": (["sales"], {}),  # locked out by the login-throttle test; never logged in
}

#: Not logged in when the server starts.
NO_LOGIN = {"acc_inactive", "acc_throttle"}


def _database_url(name: str) -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _admin_sql(sql: str) -> None:
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(sql)


def _redis_url(redis_url: str, db_number: int) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{db_number}"))


def _make_cast_code() -> str:
    lines = [
        "from django.contrib.auth.models import Group, User",
        f"pw = {PASSWORD!r}",
    ]
    for username, (groups, extra) in CAST.items():
        lines.append(
            f"u = User.objects.create_user(username={username!r}, password=pw, **{extra!r})"
        )
        for group in groups:
            lines.append(f"u.groups.add(Group.objects.get(name={group!r}))")
    lines.append("import json")
    lines.append("print(json.dumps({u.username: u.pk for u in User.objects.all()}))")
    return "\n".join(lines)


class PrivateRedis:
    """A redis-server of the suite's own (no persistence), so a test may restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis | None]:
    """Our own Redis when redis-server is installed (else None: the shared one is used)."""
    require_redis()
    if shutil.which("redis-server") is None:
        yield None
        return
    redis = PrivateRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture(scope="session")
def server(private_redis) -> Iterator[Server]:
    require_postgres()
    redis_url = require_redis()
    if private_redis is not None:
        redis_url = private_redis.url
    run = secrets.token_hex(4)
    db_name = f"escashop_acc_{run}"
    env = env_base() | {
        "DJANGO_SECRET_KEY": "acc-" + secrets.token_urlsafe(40),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": _database_url(db_name),
        # A Redis (or at least a Redis database) of our own keeps the login-throttle counters
        # apart from other suites; pub/sub is server-wide, so the channel prefix is ours too.
        "REDIS_URL": redis_url if private_redis is not None else _redis_url(redis_url, 11),
        "ESCASHOP_CHANNEL_PREFIX": f"escashop-acc-{run}",
        "ESCASHOP_CACHE_PREFIX": f"escashop-acc-{run}",
        # The session logs each user in once; its tokens must outlive a slow run (the
        # login-throttle test near the end locks further logins).
        "ESCASHOP_ACCESS_TOKEN_MINUTES": "240",
    }
    _admin_sql(f'CREATE DATABASE "{db_name}"')
    proc = None
    log_fd, log_name = tempfile.mkstemp(prefix="acc-daphne-", suffix=".log")
    try:
        manage(env, "migrate", "--noinput", timeout=180)
        out = manage(env, "shell", "-c", _make_cast_code())
        ids = json.loads(out.strip().splitlines()[-1])
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "escashop.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"daphne exited: {Path(log_name).read_text(errors='replace')[-3000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("daphne did not listen within 30 s") from None
                time.sleep(0.1)
        srv = Server(port=port, env=env, user_ids=ids)
        # Log the active cast in up front (PBKDF2 is slow on purpose), in parallel.
        active = [u for u in CAST if u not in NO_LOGIN]
        with ThreadPoolExecutor(max_workers=len(active)) as pool:
            list(pool.map(srv.access, active))
        srv.log_path = log_name
        yield srv
    finally:
        os.close(log_fd)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while True:
            try:
                _admin_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
