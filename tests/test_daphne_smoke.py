"""The real ASGI app starts under daphne with production-like settings and serves the admin."""

from __future__ import annotations

import urllib.request

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_daphne_serves_admin_login_and_its_static_files(daphne_server):
    with urllib.request.urlopen(f"{daphne_server.base_url}/admin/login/", timeout=10) as resp:
        assert resp.status == 200
        assert b"Django administration" in resp.read()
    css = f"{daphne_server.base_url}/static/admin/css/base.css"
    with urllib.request.urlopen(css, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/css")
