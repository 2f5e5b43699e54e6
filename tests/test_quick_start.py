"""The README's first quick-start command, ``./scripts/shop``, run as a user runs it: with no
settings in the environment but a database of its own, it migrates, loads the demo data,
prints the URLs and logins, and serves them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support.daphne import ROOT, free_port

START_SECONDS = 120


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read()


def _post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return resp.status, json.loads(resp.read())


@pytest.fixture
def shop(tmp_path):
    """``./scripts/shop PORT`` on a fresh SQLite file; yields (base URL, printed text)."""
    with _shop_running(tmp_path, f"sqlite:///{tmp_path / 'shop.sqlite3'}") as running:
        yield running


@contextlib.contextmanager
def _shop_running(tmp_path, database_url: str, **extra_env: str):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "ESCASHOP_")) and key not in {"REDIS_URL"}
    }
    env["DATABASE_URL"] = database_url
    env.update(extra_env)
    env["PYTHON"] = sys.executable  # the venv's own: _venv.sh checks, reuses .venv
    log = tmp_path / "shop.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "shop"), str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert proc.poll() is None, f"scripts/shop exited:\n{log.read_text()[-3000:]}"
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"not serving in time:\n{log.read_text()}"
            time.sleep(0.25)
        yield base, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def test_the_shop_quick_start_serves_its_printed_urls_and_logins(shop):
    base, printed = shop
    assert f"{base}/admin/" in printed
    logins = re.findall(r"^\s*(\S+)\s+/\s+(\S+)\s+(\w+)", printed, flags=re.MULTILINE)
    roles = {role for _, _, role in logins}
    assert {"admin", "cashier", "sales"} <= roles, printed
    for username, password, _ in logins:
        status, tokens = _post_json(
            f"{base}/api/auth/token/", {"username": username, "password": password}
        )
        assert status == 200 and tokens["access"], username
    status, page = _get(f"{base}/")
    assert status == 200 and b"<html" in page.lower()


def test_it_keeps_the_demo_out_of_a_database_other_than_sqlite(tmp_path):
    """After the README's "Running on PostgreSQL" a shell may still export DATABASE_URL: the
    quick start still runs, on its SQLite file, and the demo accounts (published passwords,
    a superuser) never reach that database (here one that answers nothing: /healthz,
    which checks the database, answers 200 only because it was not used)."""
    real = "postgres://shop:s3cret-pass@127.0.0.1:1/real"
    with _shop_running(tmp_path, real) as (base, printed):
        assert "ignores it and runs on SQLite" in printed
        assert "s3cret" not in printed
        assert _get(f"{base}/healthz")[0] == 200


def test_it_keeps_the_demo_off_a_redis_the_shell_names(tmp_path):
    """Nor does a REDIS_URL left in the shell reach the demo: its logins would count in (and
    fail with) that Redis. Here one that answers nothing: logins work and /healthz, which
    checks the channel layer, answers 200, so neither used it."""
    sqlite = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    with _shop_running(tmp_path, sqlite, REDIS_URL="redis://127.0.0.1:1/0") as (base, printed):
        assert "REDIS_URL (or ESCASHOP_REDIS_SENTINELS) is set" in printed
        assert _get(f"{base}/healthz")[0] == 200
        status, _ = _post_json(
            f"{base}/api/auth/token/", {"username": "admin", "password": "admin-demo-pass"}
        )
        assert status == 200


def _shop_exits(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ESCASHOP_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    env["PYTHON"] = sys.executable
    return subprocess.run(
        [str(ROOT / "scripts" / "shop"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("port", ["abc", "--help", "0", "70000", "99999999999999999999"])
def test_a_port_that_is_not_a_port_is_refused_before_anything_runs(tmp_path, port):
    done = _shop_exits(tmp_path, port)
    assert done.returncode == 2
    assert "usage: ./scripts/shop [PORT]" in done.stderr
    assert "demo is ready" not in done.stdout
    assert not (tmp_path / "shop.sqlite3").exists()


def test_a_taken_port_is_refused_before_the_demo_says_it_is_ready(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = _shop_exits(tmp_path, port)
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is not free" in done.stderr
    assert "./scripts/shop 8001" in done.stderr
    assert "demo is ready" not in done.stdout
