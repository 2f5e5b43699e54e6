"""Daphne's sockets send a write at once when nothing is queued, instead of a loop turn later.

Daphne serves on Twisted, whose TCP transport never sends in ``write()``: it appends to a
buffer, registers the socket for writability (an ``epoll_ctl``), and sends on the event
loop's next turn, then unregisters it (another ``epoll_ctl``). Every websocket frame and
HTTP response paid that round: with 1,000 screens on a process, a fifth of the server's CPU
per frame went to registering and unregistering sockets (py-spy, ``docs/performance.md``),
and every frame waited for the next loop turn. asyncio's own transports instead try the
send first and buffer only what the kernel did not take; ``install()`` makes Twisted's
plain TCP connections do the same.

Only the idle case changes: connected, not closing, nothing buffered, not TLS (a TLS
connection's bytes go through its TLS layer, untouched here). Whatever the kernel does not
take, or a send that fails, goes to Twisted's own buffered path unchanged, so order,
producers, errors and closing behave as before. ``install()`` refuses (and says so) when
Twisted's transport is not shaped as this was written for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from twisted.internet import abstract, tcp

logger = logging.getLogger(__name__)

#: What this module uses of a connection's class, as of Twisted 26.10 (pinned); the list
#: buffer, ``_tempDataBuffer``, is made in ``FileDescriptor.__init__``.
_USED = (
    "connected",
    "disconnecting",
    "_writeDisconnected",
    "_writeDisconnecting",
    "dataBuffer",
    "offset",
    "TLS",
    "writeSomeData",
)

_buffered_write = tcp.Connection.write
_buffered_write_sequence = tcp.Connection.writeSequence
_OWN = {name for name in ("write", "writeSequence") if name in vars(tcp.Connection)}


def _idle(conn: tcp.Connection) -> bool:
    return (
        conn.connected
        and not conn.TLS
        and not conn.disconnecting
        and not conn._writeDisconnected
        and not conn._writeDisconnecting
        and not conn._tempDataBuffer
        and len(conn.dataBuffer) == conn.offset
    )


def _send_now(conn: tcp.Connection, data: bytes) -> bytes:
    """Send what the kernel takes now; return the rest (all of it if the send failed: the
    buffered path then meets the error and closes the connection as Twisted does)."""
    sent = conn.writeSomeData(data)
    if isinstance(sent, BaseException) or sent <= 0:
        return data
    return data[sent:]


def write(self: tcp.Connection, data: bytes) -> None:
    if data and isinstance(data, bytes) and _idle(self):
        data = _send_now(self, data)
        if not data:
            return
    _buffered_write(self, data)


def write_sequence(self: tcp.Connection, iovec: Iterable[bytes]) -> None:
    iovec = list(iovec)
    if iovec and all(isinstance(part, bytes) for part in iovec) and _idle(self):
        rest = _send_now(self, b"".join(iovec))
        if not rest:
            return
        iovec = [rest]
    _buffered_write_sequence(self, iovec)


def supported() -> bool:
    """Whether Twisted's TCP transport looks as this module expects."""
    return (
        all(hasattr(tcp.Connection, name) for name in _USED)
        and "_tempDataBuffer" in abstract.FileDescriptor.__init__.__code__.co_names
    )


def install() -> bool:
    """Make Twisted's plain TCP connections send at once when idle (idempotent)."""
    if tcp.Connection.write is write:
        return True
    if not supported():
        logger.warning("Twisted's TCP transport is not as expected: writes stay buffered")
        return False
    tcp.Connection.write = write
    tcp.Connection.writeSequence = write_sequence
    return True


def uninstall() -> None:
    """Back to Twisted's own writes (for tests)."""
    for name, original in (("write", _buffered_write), ("writeSequence", _buffered_write_sequence)):
        if name in _OWN:
            setattr(tcp.Connection, name, original)
        elif name in vars(tcp.Connection):
            delattr(tcp.Connection, name)  # inherited again, as before install()
