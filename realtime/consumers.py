"""``/ws/``: the payments websocket (SPEC section 5). Protocol glue only.

Who may see what is ``transactions.selectors`` (via each event's audience); what to send
and when is ``realtime.delivery``; the client's frames are parsed by ``realtime.protocol``;
tokens are checked by ``realtime.auth``. Handshakes are always accepted, then closed with
a ``CloseCode`` a browser can read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from transactions.choices import Role
from transactions.selectors import user_access

from .auth import TokenAuth, token_authenticate, user_summary
from .choices import CloseCode
from .delivery import ConnectionDelivery, catchup_hub, db_read
from .metrics import WS_CONNECTIONS
from .payloads import timestamp_iso
from .protocol import (
    AUTH_TIMEOUT_SECONDS,
    ERROR_LIMIT,
    ERROR_WINDOW_SECONDS,
    RATE_LIMIT_FRAMES,
    RATE_LIMIT_SECONDS,
    FrameError,
    Request,
    SlidingWindow,
    error_frame,
    frame_too_big,
    parse_request,
)
from .relay import current_relay, live_relay
from .selectors import payment_log_newest, payment_log_pruned_through

logger = logging.getLogger(__name__)

#: The most event ids a ``since`` may be behind the newest: further back, ``resync_required``.
#: A refetch over REST then costs the client one page of state instead of this many frames,
#: and a client cannot make the server read and send the whole retained log again and again
#: (a subscribe with ``since`` is one frame of the hundred a socket may send in 10 s).
MAX_REPLAY_SPAN = 10_000

#: Handlers that need no ``aclose_old_connections()`` round trip before them (see dispatch).
NO_ORM_HANDLERS = frozenset({"websocket_receive", "websocket_connect"})


def _subscribe_facts(user_id: int) -> tuple[int, int, frozenset[Role] | None, str | None]:
    """The newest event id and the log's pruning point, and the user's access right now
    (checked on every subscribe, in the same thread hop, since a replay follows) with their
    password claim. Ids commit in id order (``realtime.events._insert``): every id up to the
    newest is history."""
    pruned_through = payment_log_pruned_through()
    newest = payment_log_newest(pruned_through=pruned_through)
    return newest, pruned_through, *user_access(user_id=user_id)


class _NotJson(ValueError):
    pass


def _not_json(name: str) -> None:
    """``NaN``, ``Infinity`` and ``-Infinity``: Python's extension, not JSON (RFC 8259)."""
    raise _NotJson(f"{name} is not JSON")


def _main_role(roles: frozenset[Role]) -> str:
    for role in (Role.ADMIN, Role.CASHIER, Role.SALES):
        if role in roles:
            return str(role)
    return "none"


class PaymentsConsumer(AsyncJsonWebsocketConsumer):
    """One browser tab or API client: authenticate, subscribe to topics, receive events."""

    # A connection takes no channel-layer channel of its own: the process's ``LiveRelay``
    # receives every event once for all local connections (``realtime.relay``). Channels
    # assigns ``self.channel_layer`` in ``AsyncConsumer.__call__``; keeping it None there
    # spares each socket a channel, a receive loop and a task per event.
    @property
    def channel_layer(self) -> None:
        return None

    @channel_layer.setter
    def channel_layer(self, layer) -> None:
        pass

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.auth: TokenAuth | None = None
        self.delivery: ConnectionDelivery | None = None
        self.closing = False
        self.role_label: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._rate = SlidingWindow(limit=RATE_LIMIT_FRAMES, seconds=RATE_LIMIT_SECONDS)
        self._errors = SlidingWindow(limit=ERROR_LIMIT, seconds=ERROR_WINDOW_SECONDS)
        self._joined = False

    async def dispatch(self, message) -> None:
        """Skip Channels' per-message ``aclose_old_connections()`` where it buys nothing.

        Since Channels 4.2 every handler is preceded by a thread-pool round trip that closes
        stale database connections. Events reach the connection from the process's live
        relay (``realtime.relay``), not as channel-layer messages, and every ORM call
        from ``websocket_connect`` and ``websocket_receive`` goes through
        ``database_sync_to_async``, which closes stale connections in its own worker thread.
        With thousands of sockets that round trip (on one shared thread) would dominate the
        cost of relaying an event and of a reconnect storm.
        """
        name = get_handler_name(message)
        if name in NO_ORM_HANDLERS:
            await getattr(self, name)(message)
        else:
            await super().dispatch(message)

    # -- lifecycle ---------------------------------------------------------------------
    async def connect(self) -> None:
        await self.accept()
        auth = self.scope.get("jwt")
        if auth is None:
            self._close_later(AUTH_TIMEOUT_SECONDS, CloseCode.AUTH_TIMEOUT)
        else:
            await self._authenticate(auth)

    async def disconnect(self, code) -> None:
        await self._release()

    async def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.role_label is not None:
            WS_CONNECTIONS.labels(role=self.role_label).dec()
            self.role_label = None
        if self.delivery is not None:
            self.delivery.close()
            catchup_hub().unregister(self.delivery)
            await self._leave_relay()

    async def close_with(self, code: CloseCode) -> None:
        if self.closing:
            return
        self.closing = True
        await self._release()
        await self.close(code=int(code))

    def _close_later(self, delay: float, code: CloseCode) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(
            max(0.0, delay), lambda: loop.create_task(self.close_with(code))
        )

    # -- frames from the client ----------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self.closing:
            return
        if self._rate.hit():
            await self.close_with(CloseCode.RATE_LIMITED)
            return
        # The length is checked on the raw text, before any decoding work.
        if text_data is None or frame_too_big(text_data):
            await self.close_with(CloseCode.PROTOCOL_ERROR)
            return
        try:
            content = json.loads(text_data, parse_constant=_not_json)
        except (json.JSONDecodeError, _NotJson):
            await self.close_with(CloseCode.PROTOCOL_ERROR)
            return
        except (ValueError, RecursionError):
            # JSON, but past what Python reads: a number of more than 4,300 digits, or
            # nesting deeper than the recursion limit. Not a valid request: an error frame.
            await self._error("bad_request", "A number too long or nesting too deep to read.")
            return
        try:
            await self.receive_json(content)
        except Exception:
            # A database or channel-layer error while serving the frame (a replay's read,
            # say). Closing releases the connection from the relay and the access re-check;
            # the client reconnects and resumes from the highest event id it handled.
            logger.exception("could not serve a client frame; closing the socket (1011)")
            await self.close_with(CloseCode.INTERNAL_ERROR)

    async def receive_json(self, content, **kwargs) -> None:
        try:
            request = parse_request(content)
        except FrameError as exc:
            await self._error(exc.code, exc.message)
            return
        if request.kind == "ping":
            await self.send_json({"type": "pong"})
        elif request.kind == "authenticate":
            auth = await db_read(token_authenticate)(request.token)
            await self._authenticate(auth)
        elif self.auth is None:
            await self._error("forbidden", "Authenticate first.")
        elif request.kind == "subscribe":
            await self._subscribe(request)
        else:
            self.delivery.unsubscribe(request.topic)
            if not self.delivery.topics:
                await self._leave_relay()

    async def _error(self, code: str, message: str) -> None:
        if self._errors.hit():
            await self.close_with(CloseCode.PROTOCOL_ERROR)
        else:
            await self.send_json(error_frame(code, message))

    # -- authentication ------------------------------------------------------------------
    async def _authenticate(self, auth: TokenAuth) -> None:
        if self.closing:
            return
        if not auth.ok:
            await self.close_with(
                CloseCode.INTERNAL_ERROR if auth.fault else CloseCode.UNAUTHENTICATED
            )
            return
        if self.auth is not None and auth.user.pk != self.auth.user.pk:
            await self._error("forbidden", "This connection belongs to another user.")
            return
        if not auth.roles:
            await self.close_with(CloseCode.FORBIDDEN)
            return
        previous, self.auth = self.auth, auth
        if self.delivery is None:
            self.delivery = ConnectionDelivery(
                user=auth.user,
                roles=auth.roles,
                send=self._send_text,
                password_claim=auth.password_claim,
            )
            self.delivery.on_access_change = self._access_changed
            self.delivery.on_failure = self._failed
        else:
            # A fresh token (a refresh, or a login after a password change) carries its
            # own claim: checked from now on against that one.
            self.delivery.password_claim = auth.password_claim
            if previous.roles != auth.roles:
                self.delivery.set_roles(auth.roles)
        self._relabel(auth.roles)
        self._close_later(
            (auth.expires_at - timezone.now()).total_seconds(), CloseCode.UNAUTHENTICATED
        )
        await self.send_json(
            {
                "type": "authenticated",
                "user": user_summary(auth.user, auth.roles),
                "expires_at": timestamp_iso(auth.expires_at),
            }
        )

    def _relabel(self, roles: frozenset[Role]) -> None:
        label = _main_role(roles)
        if label != self.role_label:
            if self.role_label is not None:
                WS_CONNECTIONS.labels(role=self.role_label).dec()
            WS_CONNECTIONS.labels(role=label).inc()
            self.role_label = label

    async def _failed(self) -> None:
        await self.close_with(CloseCode.INTERNAL_ERROR)

    async def _access_changed(self, roles: frozenset[Role] | None) -> None:
        """The hub's re-check found the user inactive (``None``: 4401), without any role
        (4403), or with other roles: the connection's role label (metrics) follows.

        ``ConnectionDelivery`` has already narrowed what it sends; this is the socket side.
        """
        if self.closing or self.auth is None:
            return
        try:
            if roles is None:
                await self.close_with(CloseCode.UNAUTHENTICATED)
            elif not roles:
                await self.close_with(CloseCode.FORBIDDEN)
            else:
                self.auth = dataclasses.replace(self.auth, roles=roles)
                self._relabel(roles)
        except Exception:
            logger.exception("could not apply an access change for user %s", self.auth.user.pk)

    # -- topics --------------------------------------------------------------------------
    async def _join_relay(self) -> None:
        """Have the process's relay offer this connection every event (it decides, per
        event, what its user may see)."""
        self._joined = True
        relay = live_relay()
        if relay is not None:
            await relay.join(self.delivery)

    async def _leave_relay(self) -> None:
        self._joined = False
        relay = current_relay()
        if relay is not None:
            await relay.leave(self.delivery)

    async def _subscribe(self, request: Request) -> None:
        topic, since = str(request.topic), request.since
        # Join before reading the log: whatever commits after the read arrives live.
        if not self._joined:
            await self._join_relay()
        facts = await db_read(_subscribe_facts)(self.auth.user.pk)
        last_event_id, pruned_through, roles, claim = facts
        roles = self.delivery.access_from(roles, claim)
        if roles != self.delivery.roles:
            self.delivery.access_changed(roles)  # narrows, or closes 4401/4403
            if not roles:
                return

        async def subscribed() -> None:
            await self.send_json(
                {"type": "subscribed", "topic": topic, "last_event_id": last_event_id}
            )

        async def resync() -> None:
            await self.send_json({"type": "resync_required", "topic": topic})

        if since is not None and (
            since < pruned_through
            or since > last_event_id
            or last_event_id - since > MAX_REPLAY_SPAN
        ):
            # Events after ``since`` were pruned (or the log is not the one the client knew),
            # or so many followed that a refetch is the cheaper way back.
            self.delivery.unsubscribe(topic)
            await resync()
            return

        # On the hub's access re-check before the replay: an event written after a change of
        # access, queued behind the replay, was written after a check that saw it.
        catchup_hub().register(self.delivery)
        await self.delivery.subscribe(
            topic=topic,
            since=since,
            last_event_id=last_event_id,
            on_subscribed=subscribed,
            on_resync=resync,
        )

    # -- frames to the client --------------------------------------------------------------
    async def _send_text(self, text: str) -> None:
        await self.base_send({"type": "websocket.send", "text": text})
