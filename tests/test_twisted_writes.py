"""escashop.twisted_writes: Twisted's TCP transport sends at once when idle, and falls back
to its own buffering (same order, same error handling) otherwise. Real sockets, a recording
reactor."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import tcp
from twisted.internet._newtls import ConnectionMixin
from twisted.internet.protocol import Protocol

from escashop import twisted_writes
from tests.support.fresh_python import fresh_python


class RecordingReactor:
    """The IReactorFDSet calls a transport makes, recorded; nothing is polled."""

    def __init__(self) -> None:
        self.writers: set = set()
        self.added_writers = 0

    def addWriter(self, fd) -> None:
        self.writers.add(fd)
        self.added_writers += 1

    def removeWriter(self, fd) -> None:
        self.writers.discard(fd)

    def addReader(self, fd) -> None:
        pass

    def removeReader(self, fd) -> None:
        pass


@pytest.fixture
def installed():
    was = tcp.Connection.write is twisted_writes.write  # escashop.asgi imported earlier
    assert twisted_writes.install()
    yield
    if not was:
        twisted_writes.uninstall()


@pytest.fixture
def uninstalled():
    was = tcp.Connection.write is twisted_writes.write
    twisted_writes.uninstall()
    yield
    if was:
        twisted_writes.install()
    else:
        twisted_writes.uninstall()


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(2)
    reactor = RecordingReactor()
    conn = tcp.Connection(ours, Protocol(), reactor)
    conn.connected = 1
    yield conn, peer, reactor
    ours.close()
    peer.close()


def _read(peer: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = peer.recv(n - len(data))
        assert chunk, "peer closed"
        data += chunk
    return data


def test_an_idle_connection_sends_in_write_without_registering_for_writability(installed, pair):
    conn, peer, reactor = pair
    conn.write(b"frame-1")
    conn.writeSequence([b"head ", b"body"])
    assert reactor.added_writers == 0
    assert _read(peer, 16) == b"frame-1head body"


def test_without_install_twisted_buffers_until_the_loop_turns(uninstalled, pair):
    conn, peer, reactor = pair
    conn.write(b"frame-1")
    assert reactor.added_writers == 1
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(10)  # nothing sent yet
    conn.doWrite()
    peer.setblocking(True)
    assert _read(peer, 7) == b"frame-1"


def test_what_the_kernel_does_not_take_is_buffered_and_later_writes_keep_their_order(
    installed, pair
):
    conn, peer, reactor = pair
    big = bytes(range(256)) * 40_000  # 10 MB: more than a socket pair's kernel buffers
    conn.write(big)
    assert reactor.writers == {conn}  # the rest waits for writability, as in Twisted
    assert conn._tempDataBuffer  # and sits in Twisted's own buffer
    conn.write(b"after")  # not idle now: queued behind the rest, not sent ahead of it
    received = bytearray()
    expected = len(big) + 5
    while len(received) < expected:
        if reactor.writers:
            assert conn.doWrite() is None
        received += peer.recv(1 << 20)
    assert bytes(received) == big + b"after"
    assert not reactor.writers  # all sent: unregistered again


def test_a_failed_send_goes_to_the_buffered_path_which_reports_the_lost_connection(installed, pair):
    conn, peer, reactor = pair
    peer.close()
    conn.socket.shutdown(socket.SHUT_WR)  # sending now fails (EPIPE)
    conn.write(b"late frame")
    assert reactor.writers == {conn}  # left to doWrite, which reports it as Twisted does
    assert isinstance(conn.doWrite(), Exception)


def test_closing_tls_and_half_closed_connections_keep_twisted_buffering(installed, pair):
    conn, _peer, reactor = pair
    conn.TLS = True  # its bytes go through the TLS layer, which this leaves alone
    assert not twisted_writes._idle(conn)
    conn.TLS = False
    conn.disconnecting = 1
    conn.write(b"x")
    assert reactor.added_writers == 1
    conn.disconnecting = 0
    conn._tempDataBuffer.clear()
    conn._tempDataLen = 0
    conn._writeDisconnecting = True
    conn.write(b"y")
    assert reactor.added_writers == 2


def test_install_is_idempotent_and_uninstall_restores_twisted(uninstalled, pair):
    assert twisted_writes.install() and twisted_writes.install()
    assert tcp.Server.write is twisted_writes.write  # daphne's connections inherit it
    twisted_writes.uninstall()
    assert tcp.Server.write is ConnectionMixin.write
    assert tcp.Server.writeSequence is ConnectionMixin.writeSequence
    assert twisted_writes.supported()


def test_loading_the_asgi_application_installs_it():
    code = (
        "import escashop.asgi; from twisted.internet import tcp; "
        "from escashop import twisted_writes; "
        "print(tcp.Server.write is twisted_writes.write)"
    )
    assert fresh_python(code).split() == ["True"]
