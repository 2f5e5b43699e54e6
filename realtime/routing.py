"""Websocket routing: origin check, JWT middleware, then the payments consumer at ``/ws/``."""

from __future__ import annotations

from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from .consumers import PaymentsConsumer
from .middleware import JWTAuthMiddleware

websocket_urlpatterns = [path("ws/", PaymentsConsumer.as_asgi())]


class BrowserOriginValidator(OriginValidator):
    """Refuse browsers on other sites (cross-site websocket hijacking); let API clients in.

    Browsers always send ``Origin`` on a websocket handshake, so a foreign page is refused
    whatever it tries. Non-browser clients (``Authorization: Bearer``) usually send none;
    Channels' validator would refuse them, although they carry no ambient credentials to abuse.
    """

    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        # Read per handshake (as AllowedHostsOriginValidator reads it once), so overridden
        # settings apply in tests too.
        self.allowed_origins = settings.ALLOWED_HOSTS
        return self.validate_origin(parsed_origin)


websocket_application = BrowserOriginValidator(JWTAuthMiddleware(URLRouter(websocket_urlpatterns)))
