"""What one load-test run does (filled from the command line by ``manage.py loadtest``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .api import Credentials


def ws_url_for(base_url: str) -> str:
    """``http://host:port/prefix`` -> ``ws://host:port/prefix/ws/`` (https -> wss)."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/ws/"


#: The choices of ``LoadConfig.balance`` (``--balance``).
BALANCES = ("round-robin", "least-busy")


@dataclass
class LoadConfig:
    base_url: str
    #: Users: who creates the transactions (sales/admin), who records settlements
    #: (cashier/admin), and the watchers' logins (cycled over the clients).
    creator: Credentials
    writer: Credentials
    watchers: list[Credentials]
    clients: int = 10
    #: Settlements per second (0: as fast as ``in_flight`` allows).
    rate: float = 20.0
    #: Stop after this many settlements, or after ``duration`` seconds when None.
    settlements: int | None = None
    duration: float = 10.0
    transactions: int = 100
    in_flight: int = 8
    #: Seconds to hold the connections idle before writing (capacity runs).
    hold: float = 0.0
    #: Seconds to wait after the last write for frames still in flight.
    drain: float = 10.0
    server_pids: list[int] = field(default_factory=list)
    #: Extra base URLs: websocket clients and writes are spread round-robin over all of them.
    ws_base_urls: list[str] = field(default_factory=list)
    write_base_urls: list[str] = field(default_factory=list)
    #: How writes choose among ``write_urls``: in turn, or the one with the fewest of this
    #: run's requests in flight (as nginx's ``least_conn`` in deploy/nginx/), ties in turn.
    balance: str = "round-robin"
    connect_concurrency: int = 100
    open_timeout: float = 30.0
    settlement_amount: str = "1.00"

    @property
    def writes(self) -> bool:
        """Whether the run records settlements (``--settlements 0`` is a capacity run)."""
        return self.settlements != 0 and (self.settlements is not None or self.duration > 0)

    @property
    def ws_urls(self) -> list[str]:
        return [ws_url_for(u) for u in (self.ws_base_urls or [self.base_url])]

    @property
    def write_urls(self) -> list[str]:
        return self.write_base_urls or [self.base_url]

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"
