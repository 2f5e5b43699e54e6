"""SPEC section 7 from outside: debug off still serves the admin, the shop page and static
files; hosts and the secret key are enforced; DJANGO_HTTPS=1 passes `check --deploy`."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from .harness import ROOT

pytestmark = pytest.mark.integration


def test_admin_shop_page_and_static_files_with_debug_off(server):
    for path, kind in [
        ("/", "text/html"),
        ("/admin/login/", "text/html"),
        ("/static/admin/css/base.css", "text/css"),
    ]:
        r = server.request("GET", path, headers={"Accept": "*/*"})
        assert r.status == 200, (path, r)
        assert r.headers.get("Content-Type", "").startswith(kind), (path, r.headers)


def test_plain_http_is_not_redirected_with_https_off(server):
    r = server.get("/api/auth/me/", user="acc_admin")
    assert r.status == 200  # no redirect to https
    assert "Strict-Transport-Security" not in r.headers


def test_unknown_host_is_refused(server):
    r = server.get("/api/transactions/", user="acc_admin", headers={"Host": "evil.example"})
    assert r.status == 400, r


def _check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_secret_key_required_unless_debug_and_https_check_deploy_clean(server):
    base = {k: v for k, v in server.env.items() if k != "DJANGO_SECRET_KEY"}
    no_key = _check(base)
    assert no_key.returncode != 0
    assert "DJANGO_SECRET_KEY" in no_key.stderr + no_key.stdout
    deploy = _check(
        base | {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_HTTPS": "1"},
        "--deploy", "--fail-level", "WARNING",
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "System check identified no issues" in deploy.stdout, deploy.stdout
