"""Fixtures of the performance and operability tests: a server that accepts and stays silent."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def silent_port():
    """A loopback port that completes TCP handshakes and then never answers.

    Stands in for a hung database or Redis (a blackholed host would need a non-loopback
    network): clients connect, send their request and wait for a reply that never comes.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
