"""The real ASGI app starts under daphne with production-like settings and serves the admin."""

from __future__ import annotations

import urllib.error
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


def _status(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_clients_daphne_root_path_header_is_ignored(daphne_server):
    # daphne takes the root path from any client's Daphne-Root-Path header; honoured, it made
    # /x/metrics the metrics page, past nginx's `location = /metrics { deny all; }`.
    base = daphne_server.base_url
    assert _status(f"{base}/metrics", {}) == 200
    assert _status(f"{base}/x/metrics", {"Daphne-Root-Path": "/x"}) == 404
    assert _status(f"{base}/x/healthz", {"Daphne-Root-Path": "/x"}) == 404


async def test_a_websocket_with_a_foreign_root_path_still_reaches_the_consumer(daphne_server):
    # Honoured, a root path the path does not start with made Channels' router raise.
    import asyncio
    import json

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with connect(
        daphne_server.ws_url, additional_headers={"Daphne-Root-Path": "/elsewhere"}
    ) as ws:
        await ws.send(json.dumps({"type": "authenticate", "token": "not-a-token"}))
        with pytest.raises(ConnectionClosed):
            while True:  # until the consumer closes (a frame before it, if any, is skipped)
                await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 4401
