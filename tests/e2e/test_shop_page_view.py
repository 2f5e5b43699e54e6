"""The page at / is a static shell (no data, no login state) with a strict CSP, and its CSS
and ES modules are found by the static-files finders (so daphne serves them, debug or not).
Runs in the unit suite: no browser, no services."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.test import Client


def test_shop_page_is_a_shell_with_a_strict_content_security_policy(db):
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/static/shop/app.js"></script>' in html
    assert 'href="/static/shop/shop.css"' in html
    # No inline script or style: the policy below would block them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "style=" not in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["Cache-Control"] == "no-store"
    # The shop's time zone for the payments list, and an icon (no /favicon.ico 404).
    assert '<body data-time-zone="Asia/Manila">' in html
    assert 'rel="icon" href="/static/shop/favicon.svg"' in html
    # Every form control has a label.
    for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{control_id}"' in html, control_id


def test_shop_page_refuses_writes(db):
    assert Client().post("/").status_code == 405


def test_page_assets_are_found_by_the_static_finders():
    for path in [
        "shop/app.js",
        "shop/favicon.svg",
        "shop/api.js",
        "shop/actions.js",
        "shop/forms.js",
        "shop/money.js",
        "shop/table.js",
        "shop/shop.css",
        "realtime/payments-socket.js",
    ]:
        assert finders.find(path), path
