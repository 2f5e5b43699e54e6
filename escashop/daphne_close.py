"""Daphne closes a websocket with 1011 when the application asks it to.

An ASGI application may close with any code; the shop closes with 1011 (a fault on the
server's side: reconnect and resume, ``docs/realtime.md``) when a database or channel-layer
error stops it serving a socket. daphne hands the code to autobahn's ``sendClose``, which
only lets an application send 1000 or 3000-4999 and raises otherwise: the close became an
"Exception inside application" with its traceback, and the client got 1011 only from
daphne's crash handler. RFC 6455 (section 7.4.1) lets an endpoint send 1011 itself;
``install()`` sends it with autobahn's ``sendCloseFrame``, as that crash handler does. Every
other code goes through ``sendClose`` as before.
"""

from __future__ import annotations

from daphne import ws_protocol

#: Codes of RFC 6455 an endpoint sends for itself that autobahn's ``sendClose`` refuses.
SERVER_FAULT_CODES = frozenset({1011})

_daphne_server_close = ws_protocol.WebSocketProtocol.serverClose


def _server_close(self, code=None):
    if code in SERVER_FAULT_CODES:
        self.sendCloseFrame(code=code, isReply=False)
        return
    _daphne_server_close(self, code)


def install() -> None:
    """Make daphne send 1011 (idempotent)."""
    ws_protocol.WebSocketProtocol.serverClose = _server_close


def uninstall() -> None:
    """Back to daphne's own (for tests)."""
    ws_protocol.WebSocketProtocol.serverClose = _daphne_server_close
