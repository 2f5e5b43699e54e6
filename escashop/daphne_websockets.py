"""Two things daphne's websockets do differently here: they close with 1011 when asked, and
they drop a client that has stopped reading.

**1011.** An ASGI application may close with any code; the shop closes with 1011 (a fault
on the server's side: reconnect and resume, ``docs/realtime.md``) when a database or
channel-layer error stops it serving a socket. daphne hands the code to autobahn's
``sendClose``, which only lets an application send 1000 or 3000-4999 and raises otherwise:
the close became an "Exception inside application" with its traceback, and the client got
1011 only from daphne's crash handler. RFC 6455 (section 7.4.1) lets an endpoint send 1011
itself; it is sent with autobahn's ``sendCloseFrame``, as that crash handler does. Every
other code goes through ``sendClose`` as before.

**A client that stops reading.** Frames go out without waiting for the client: Twisted
keeps what the kernel has not taken. A client that stops reading (its TCP window full) made
daphne keep every frame meant for it, a ``since`` replay's thousands included, until the
ping timeout, some 50 s later. With more than ``MAX_UNSENT_BYTES`` waiting, the connection
is dropped instead (the client sees 1006, reconnects and resumes with ``since``).
"""

from __future__ import annotations

import logging

from daphne import ws_protocol

logger = logging.getLogger(__name__)

#: Codes of RFC 6455 an endpoint sends for itself that autobahn's ``sendClose`` refuses.
SERVER_FAULT_CODES = frozenset({1011})

#: Bytes a websocket may have waiting to go out: more than a full replay of
#: ``realtime.consumers.MAX_REPLAY_SPAN`` events (under 10 MB) on a slow link.
MAX_UNSENT_BYTES = 16 * 1024 * 1024

_daphne_server_close = ws_protocol.WebSocketProtocol.serverClose
_daphne_server_send = ws_protocol.WebSocketProtocol.serverSend


def unsent_bytes(transport) -> int:
    """What a Twisted TCP transport holds that the kernel has not taken (0 if not one)."""
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except AttributeError:
        return 0


def _server_close(self, code=None, *args, **kwargs):
    if code in SERVER_FAULT_CODES:
        self.sendCloseFrame(code=code, isReply=False)
        return
    _daphne_server_close(self, code, *args, **kwargs)


def _server_send(self, content, binary=False):
    if self.transport is not None and unsent_bytes(self.transport) > MAX_UNSENT_BYTES:
        logger.warning(
            "websocket %s stopped reading (over %d bytes unsent): dropping it",
            self.client_addr,
            MAX_UNSENT_BYTES,
        )
        self.dropConnection(abort=True)
        return
    _daphne_server_send(self, content, binary)


def install() -> None:
    """Make daphne's websockets behave as above (idempotent)."""
    ws_protocol.WebSocketProtocol.serverClose = _server_close
    ws_protocol.WebSocketProtocol.serverSend = _server_send


def uninstall() -> None:
    """Back to daphne's own (for tests)."""
    ws_protocol.WebSocketProtocol.serverClose = _daphne_server_close
    ws_protocol.WebSocketProtocol.serverSend = _daphne_server_send
