"""The server the suite starts answers REST and /ws/ (a cheap canary for the fixture)."""

from __future__ import annotations

import pytest

from .harness import recv, send, ws_open

pytestmark = pytest.mark.integration


def test_me_answers(server):
    r = server.get("/api/auth/me/", user="acc_admin")
    assert r.status == 200, r
    assert r.json["username"] == "acc_admin"


async def test_ws_ping(server):
    ws = await ws_open(server)
    await send(ws, {"type": "ping"})
    assert await recv(ws) == {"type": "pong"}
    await ws.close()
