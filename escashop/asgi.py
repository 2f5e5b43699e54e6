"""ASGI entry point: ``daphne escashop.asgi:application`` serves HTTP and ``/ws/``."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escashop.settings")
django.setup(set_prefix=False)  # as get_asgi_application() does, before importing consumers

from channels.routing import ProtocolTypeRouter  # noqa: E402

from escashop.handlers import SyncChainASGIHandler  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402

django_asgi_app = SyncChainASGIHandler()

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
