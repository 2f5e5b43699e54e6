"""Websocket routing: origin check, then the payments consumer at ``/ws/``."""

from __future__ import annotations

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from .consumers import PaymentsConsumer

websocket_urlpatterns = [path("ws/", PaymentsConsumer.as_asgi())]

websocket_application = AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))
