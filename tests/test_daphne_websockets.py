"""Daphne's websockets (escashop/daphne_websockets.py): a 1011 close when the application
asks (autobahn's ``sendClose`` refuses that code, which turned every server-fault close
into an "Exception inside application" with a traceback in the log), and a client that
stopped reading dropped instead of kept with every frame meant for it."""

from __future__ import annotations

import asyncio
import json

import pytest
from daphne import ws_protocol
from rest_framework_simplejwt.tokens import AccessToken

from escashop import daphne_websockets
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
    daphne_websockets.install()
    socket = _Socket()
    ws_protocol.WebSocketProtocol.serverClose(socket, code)
    assert socket.frames == [1000 if code is None else code]


def test_codes_autobahn_refuses_for_other_reasons_are_still_refused():
    daphne_websockets.install()
    with pytest.raises(ValueError, match="invalid close code 1005"):
        ws_protocol.WebSocketProtocol.serverClose(_Socket(), 1005)  # never sent on the wire


class _Transport:
    """Twisted's TCP transport as far as counting what it holds unsent."""

    def __init__(self, unsent: int) -> None:
        self.dataBuffer, self.offset = b"x" * (unsent // 2 + 10), 10
        self._tempDataLen = unsent - unsent // 2


class _Protocol:
    """What ``serverSend`` uses of daphne's protocol (its state: connected and open)."""

    STATE_CONNECTING, state, client_addr = 0, 1, ["127.0.0.1", 50000]

    def __init__(self, unsent: int) -> None:
        self.transport = _Transport(unsent)
        self.sent: list[bytes] = []
        self.dropped: list[bool] = []

    def sendMessage(self, payload, binary=False):
        self.sent.append(payload)

    def dropConnection(self, abort=False):
        self.dropped.append(abort)


def test_a_client_that_stopped_reading_is_dropped_instead_of_sent_more():
    daphne_websockets.install()
    limit = daphne_websockets.MAX_UNSENT_BYTES
    reading = _Protocol(unsent=limit)
    ws_protocol.WebSocketProtocol.serverSend(reading, '{"type":"pong"}')
    assert reading.sent == [b'{"type":"pong"}'] and reading.dropped == []
    stalled = _Protocol(unsent=limit + 1)
    ws_protocol.WebSocketProtocol.serverSend(stalled, '{"type":"pong"}')
    assert stalled.sent == [] and stalled.dropped == [True]


def test_a_transport_that_counts_nothing_is_never_taken_for_a_stalled_one():
    assert daphne_websockets.unsent_bytes(object()) == 0  # TLS wrappers and test doubles


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
