"""Daphne closes a websocket with 1011 when the application asks (escashop/daphne_close.py):
autobahn's ``sendClose`` refuses that code, which turned every server-fault close into an
"Exception inside application" with a traceback in the log."""

from __future__ import annotations

import asyncio
import json

import pytest
from daphne import ws_protocol
from rest_framework_simplejwt.tokens import AccessToken

from escashop import daphne_close
from tests.support.daphne import DaphneServer


class _Socket:
    """What ``serverClose`` uses of daphne's protocol: autobahn's two close calls."""

    def __init__(self) -> None:
        self.frames: list[int | None] = []

    def sendCloseFrame(self, code=None, reasonUtf8=None, isReply=False):
        self.frames.append(code)

    def sendClose(self, code=None, reason=None):
        # autobahn's rule for what an application may send
        if code != 1000 and not (3000 <= code <= 4999):
            raise ValueError(f"invalid close code {code}")
        self.sendCloseFrame(code=code)


@pytest.mark.parametrize("code", [1011, 1000, 4401, None])
def test_the_server_close_sends_1011_and_every_code_it_sent_before(code):
    daphne_close.install()
    socket = _Socket()
    ws_protocol.WebSocketProtocol.serverClose(socket, code)
    assert socket.frames == [1000 if code is None else code]


def test_codes_autobahn_refuses_for_other_reasons_are_still_refused():
    daphne_close.install()
    with pytest.raises(ValueError, match="invalid close code 1005"):
        ws_protocol.WebSocketProtocol.serverClose(_Socket(), 1005)  # never sent on the wire


@pytest.mark.integration
def test_under_daphne_a_database_fault_closes_1011_without_an_application_crash(tmp_path):
    """A real daphne whose database answers nothing (port 1): the first-frame authentication
    cannot read the user, so the consumer closes with 1011 (reconnect and resume). Needs no
    service: the in-memory channel layer, a database that refuses."""
    server = DaphneServer(
        extra_env={
            "DATABASE_URL": "postgres://postgres@127.0.0.1:1/none",
            "REDIS_URL": "",
            "DJANGO_DB_POOL": "0",
        }
    ).start()
    token = AccessToken()
    token["user_id"] = 1

    async def close_code() -> int | None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        async with connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "authenticate", "token": str(token)}))
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 15)
        return ws.close_code

    try:
        assert asyncio.run(close_code()) == 1011
        log = server.log_tail(200)
    finally:
        server.stop()
    assert "Exception inside application" not in log
    assert "invalid close code" not in log
