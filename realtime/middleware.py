"""JWT middleware for ``/ws/``: reads an access token from the handshake into ``scope``.

It keeps no state on the instance (one instance serves every connection) and never refuses
a handshake itself: the consumer accepts and then closes with a code a browser can read.
``scope["jwt"]`` is None when the handshake carried no token (the client may still send an
``authenticate`` frame), else a ``TokenAuth``; ``scope["user"]`` is the user or anonymous.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from .auth import UNCHECKED, token_authenticate
from .delivery import db_read

#: HTTP authentication a browser sends by itself, e.g. to a staging site behind a proxy's
#: basic auth: credentials for the proxy, not an offer of ours, so they are looked past.
BROWSER_SCHEMES = frozenset({"basic", "digest", "negotiate", "ntlm"})

#: Seconds the handshake's token check may take. daphne drops a handshake not accepted
#: within 5 s (``--websocket_connect_timeout``) with no HTTP answer at all, and a database
#: that is down holds a read for the pool's timeout (10 s): given up before that, the
#: consumer accepts and closes 1011, and the client knows to retry.
HANDSHAKE_CHECK_SECONDS = 3.0

logger = logging.getLogger(__name__)


def handshake_token(scope: dict) -> str | None:
    """``Authorization: Bearer <token>`` (non-browser clients), else ``?token=<token>``."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
            if scheme.lower() not in BROWSER_SCHEMES:
                return ""  # another scheme: a token was offered, and it is not one we accept
    # Blank kept: an empty ``?token=`` is a token offered (and refused, 4401), not none.
    query = parse_qs(scope.get("query_string", b"").decode("latin1"), keep_blank_values=True)
    tokens = query.get("token")
    return tokens[0] if tokens else None


class JWTAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        raw = handshake_token(scope)
        try:
            auth = (
                None
                if raw is None
                else await asyncio.wait_for(
                    db_read(token_authenticate)(raw), HANDSHAKE_CHECK_SECONDS
                )
            )
        except TimeoutError:
            logger.warning(
                "a websocket handshake's token check took over %gs; closing it 1011",
                HANDSHAKE_CHECK_SECONDS,
            )
            auth = UNCHECKED
        except Exception:
            # The database failed, not the token: the consumer accepts and closes 1011, so
            # the client retries rather than treating its token as refused.
            logger.exception("could not check a websocket handshake's token")
            auth = UNCHECKED
        scope["jwt"] = auth
        scope["user"] = auth.user if auth is not None and auth.ok else AnonymousUser()
        return await self.inner(scope, receive, send)
