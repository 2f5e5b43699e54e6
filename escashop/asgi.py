"""ASGI entry point: ``daphne escashop.asgi:application`` serves HTTP and ``/ws/``."""

from __future__ import annotations

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escashop.settings")
django.setup(set_prefix=False)  # as get_asgi_application() does, before importing consumers

from channels.routing import ProtocolTypeRouter  # noqa: E402

from escashop import daphne_websockets, twisted_requests, twisted_writes  # noqa: E402
from escashop.handlers import SyncChainASGIHandler  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402

# Daphne's sockets send each write at once when nothing is queued (escashop/twisted_writes.py).
twisted_writes.install()
# Twisted leaves a POST's body to Django instead of parsing it first (escashop/twisted_requests.py).
twisted_requests.install()
# Daphne sends the 1011 close the consumer asks for and drops a client that stopped reading
# (escashop/daphne_websockets.py).
daphne_websockets.install()

django_asgi_app = SyncChainASGIHandler()


def served_at_root(app):
    """The shop is served at the root of its host: a ``root_path`` in the scope is dropped.

    daphne takes one from any client's ``Daphne-Root-Path`` header, and Django then strips it
    from the path: ``/x/metrics`` with ``Daphne-Root-Path: /x`` was ``/metrics``, past nginx's
    ``location = /metrics { deny all; }``. Nothing here is mounted under a prefix (the shop
    page and the API name ``/api/`` and ``/ws/`` from the root), so no root path is honoured.
    """

    async def at_root(scope, receive, send):
        if scope.get("root_path"):
            scope = {**scope, "root_path": ""}
        return await app(scope, receive, send)

    return at_root


application = served_at_root(
    ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
)

# What loading Django and the project made (about 140,000 objects) lives as long as the
# process: take it out of the cyclic garbage collector's reach, so that a full collection
# scans only what was made since. Measured under light load: a full collection took 40-70 ms
# (a request caught in it waited as long, the p99 of 22-23 ms); frozen, p99 14 ms
# (docs/performance.md).
gc.collect()
gc.freeze()
