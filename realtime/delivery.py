"""Exactly once and in id order, whatever the channel layer does.

Three paths bring an event to a connection, and all of them go through its
``ConnectionDelivery``, which decides under one lock what to send:

- **live**: the process's ``realtime.relay.LiveRelay`` hands every event, strictly in id
  order, to every local connection (``push_live``): from the channel layer, from this
  process's own writes, or read from the log when the layer lost one or has not brought
  it yet (the relay's gap reads, and the ``CatchupHub``'s round once a second: one query
  per process, not per connection; those frames are counted as catch-up).
- **replay**: ``subscribe`` with ``since`` reads the missed events a user may see.

No database query on the live path per connection: the relay has put the events in id
order, so a connection sends what its user may see as it comes.

The hub also re-checks access once per round (``CatchupHub._recheck_access``): ONE query for
every user with a local connection; a user deactivated or whose roles changed is acted on
within about a tick (roles narrowed in memory at once, then the consumer closes 4401/4403).
The live path itself never queries for this.

Each connection remembers what it has handled, per topic: a ``floor`` (nothing at or below
it is sent again) plus the set of ids above it. The hub raises the floors to what the
relay has offered, so the sets stay small. A subscribe with ``since`` (and an
unsubscribe) forgets the topic's: the client gets every event above ``since`` again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from escashop.db_health import database_lost
from transactions.choices import Role
from transactions.selectors import Audience, user_access, users_roles, users_roles_read

from .metrics import DELIVERY_LAG, FRAMES_SENT
from .models import PaymentEvent
from .selectors import payment_events_replay, payment_log_pruned_through

logger = logging.getLogger(__name__)

#: Rows read per catch-up query and per replay page.
PAGE = 500
SENT_LIVE = FRAMES_SENT.labels(path="live")
SENT_CATCHUP = FRAMES_SENT.labels(path="catchup")
SENT_REPLAY = FRAMES_SENT.labels(path="replay")
SENT_GAP = FRAMES_SENT.labels(path="gap")


def catchup_interval() -> float:
    return float(getattr(settings, "ESCASHOP_CATCHUP_SECONDS", 1.0))


def reads_share_the_sync_thread() -> bool:
    """SQLite's test database wants one thread: reads then run on the sync thread, where a
    writer may be waiting for them (``realtime.events``); on PostgreSQL they do not."""
    return connection.vendor == "sqlite"


def db_read(func: Callable) -> Callable[..., Awaitable]:
    """Run a read in a worker thread; on PostgreSQL in the shared pool so that many
    connections' reads run in parallel. A read that finds the database connection lost
    sweeps the pool's dead connections before raising (escashop/db_health.py)."""

    @functools.wraps(func)
    def read(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            database_lost(exc)  # sweeps the pool when the connection itself is gone
            raise

    return database_sync_to_async(read, thread_sensitive=reads_share_the_sync_thread())


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event as the delivery code needs it; ``frame`` is the exact text to send."""

    event_id: int
    topic: str
    transaction_id: int
    previous_event_id: int | None
    audience: Audience
    frame: str
    created_at: float

    @classmethod
    def from_event(cls, event: PaymentEvent) -> Envelope:
        return cls(
            event_id=event.pk,
            topic=event.topic,
            transaction_id=event.transaction_id,
            previous_event_id=event.previous_event_id,
            audience=event.audience,
            frame=event.frame_text(),
            created_at=event.created_at.timestamp(),
        )

    @classmethod
    def from_message(cls, message: dict) -> Envelope:
        return cls(
            event_id=message["event_id"],
            topic=message["topic"],
            transaction_id=message["transaction_id"],
            previous_event_id=message["previous_event_id"],
            audience=Audience.from_json(message["audience"]),
            frame=message["frame"],
            created_at=message["created_at"],
        )


@dataclass(slots=True)
class TopicState:
    floor: int
    replaying: bool = True


class ConnectionDelivery:
    """What one websocket connection has sent, and the one place that decides what to send."""

    def __init__(
        self,
        *,
        user,
        roles: frozenset[Role],
        send: Callable[[str], Awaitable[None]],
        password_claim: str | None = None,
    ) -> None:
        self.user = user
        self.user_id = user.pk
        #: The password claim of the token the connection authenticated with (None: a
        #: token made without one, which a password change does not end).
        self.password_claim = password_claim
        self.set_roles(roles)
        self.send = send
        self.topics: dict[str, TopicState] = {}
        #: Per topic, the ids above its floor already sent.
        self.handled: dict[str, set[int]] = {}
        self.lock = asyncio.Lock()
        self.closed = False
        #: The process's relay, once it offers this connection events (``LiveRelay.join``).
        self.relay = None
        #: Subscribes under way (holding the lock or waiting for it).
        self._subscribing = 0
        self._live_queue: deque[tuple[Envelope, object]] = deque()
        self._live_task: asyncio.Task | None = None
        self._callback_task: asyncio.Task | None = None
        #: Called by the hub when the user's access changed: new roles, or None (inactive).
        self.on_access_change: Callable[[frozenset[Role] | None], Awaitable[None]] | None = None
        #: Called once when an event could not be sent (``failed``): the consumer closes.
        self.on_failure: Callable[[], Awaitable[None]] | None = None

    def set_roles(self, roles: frozenset[Role]) -> None:
        self.roles = roles
        self.sees_all = Role.ADMIN in roles  # the policy's shortcut, checked per frame
        self.user._escashop_roles = roles  # keep the selectors' per-user cache in step

    def access_from(
        self, roles: frozenset[Role] | None, claim: str | None
    ) -> frozenset[Role] | None:
        """The access a read of the user's row gives this connection: None (closed 4401)
        when the password changed since its token was made, as the API refuses that token
        (401 ``password_changed``); the roles read otherwise."""
        if roles is not None and self.password_claim not in (None, claim):
            return None
        return roles

    def access_changed(self, roles: frozenset[Role] | None) -> None:
        """The hub saw different access: stop sending what is no longer allowed right now
        (synchronously, before any further frame), then let the consumer act on it."""
        self.set_roles(roles or frozenset())
        if roles is None or not roles:
            self.close()  # nothing more goes out; the consumer closes the socket
        if self.on_access_change is not None:
            self._callback_task = asyncio.ensure_future(self.on_access_change(roles))

    def failed(self, env: Envelope) -> None:
        """``env`` could not be sent: send nothing more (a later frame would put a hole
        below the client's highest id) and have the consumer close the socket (1011); the
        client resumes from its highest id and gets ``env`` in the replay."""
        logger.exception("could not send event %s to user %s; closing", env.event_id, self.user_id)
        already = self.closed
        self.close()
        if not already and self.on_failure is not None:
            self._callback_task = asyncio.ensure_future(self.on_failure())

    # -- deciding ---------------------------------------------------------------------
    def _wants(self, env: Envelope) -> bool:
        state = self.topics.get(env.topic)
        return (
            state is not None
            and env.event_id > state.floor
            and env.event_id not in self.handled.get(env.topic, ())
            and (self.sees_all or env.audience.allows(self.user_id, self.roles))
        )

    async def _send(self, env: Envelope, counter) -> None:
        handled = self.handled.get(env.topic)
        if handled is not None:  # None: unsubscribed meanwhile
            handled.add(env.event_id)
        if self.closed:
            return
        await self.send(env.frame)
        counter.inc()
        if counter is not SENT_REPLAY:  # a replay sends what the client asked for, however old
            DELIVERY_LAG.observe(max(0.0, time.time() - env.created_at))

    # -- live ---------------------------------------------------------------------------
    def push_live(self, env: Envelope, counter=SENT_LIVE) -> Awaitable[None] | None:
        """An event from the process's relay, in id order (``counter``: the path it came by).

        When it can go out at once (this connection is idle: nothing of its own queued,
        holding the lock or waiting for it) this returns ``live(env)`` for the relay to
        await: it takes the free lock without yielding and runs to the send, so the relay
        moves on to the next connection at once. Otherwise the event queues behind this
        connection's own work (a replay), in order, and None is returned.
        """
        if not self._wants(env):
            return None
        if self._busy():
            self._live_queue.append((env, counter))
            if self._live_task is None or self._live_task.done():
                self._live_task = asyncio.ensure_future(self._drain_live())
            return None
        return self.live(env, counter)

    def _busy(self) -> bool:
        """Whether something of this connection's is under way or waiting: a subscribe
        (replay) holding or wanting the lock, or live events queued or being sent."""
        return bool(
            self.lock.locked()
            or self._subscribing
            or self._live_queue
            or (self._live_task is not None and not self._live_task.done())
        )

    async def _drain_live(self) -> None:
        while self._live_queue and not self.closed:
            env, counter = self._live_queue.popleft()
            try:
                await self.live(env, counter)
            except Exception:
                self.failed(env)

    async def live(self, env: Envelope, counter=SENT_LIVE) -> None:
        """An event from the relay, in id order. Only the relay calls this (through
        ``push_live``), after the process's access check covering the event's creation
        (``LiveRelay._offer``), so no check is made here."""
        if not self._wants(env):
            return
        async with self.lock:
            if self._wants(env):
                await self._send(env, counter)

    # -- floors (called by the hub, synchronously) ----------------------------------------
    def advance(self, settled: int) -> None:
        """Every event up to ``settled`` has been offered to this connection: raise the
        floors of settled topics there, unless some of it may still wait to be sent."""
        if not self._busy():
            self._advance(settled)

    def _advance(self, settled: int) -> None:
        """Raise the floors of settled topics to ``settled``; forget what is below."""
        for topic, state in self.topics.items():
            if not state.replaying and settled > state.floor:
                state.floor = settled
            handled = self.handled.get(topic)
            if handled is not None and len(handled) > 64:
                self.handled[topic] = {i for i in handled if i > state.floor}

    # -- subscribe / unsubscribe ----------------------------------------------------------
    async def subscribe(
        self,
        *,
        topic: str,
        since: int | None,
        last_event_id: int,
        on_subscribed: Callable[[], Awaitable[None]],
        on_resync: Callable[[], Awaitable[None]],
    ) -> None:
        """Start a topic at ``since`` (replaying what was missed) or at ``last_event_id``
        (every id up to it committed before it: ids commit in id order).

        Holds the lock throughout, so live frames of the topic wait until the
        ``subscribed`` frame and the replay are out; they are then deduplicated. Events the
        relay offered between the read of ``last_event_id`` and now passed this connection
        by: they are read from the log too, so that nothing is skipped and the order holds.
        """
        self._subscribing += 1
        try:
            await self._subscribe_locked(topic, since, last_event_id, on_subscribed, on_resync)
        finally:
            self._subscribing -= 1

    async def _subscribe_locked(
        self, topic, since, last_event_id, on_subscribed, on_resync
    ) -> None:
        async with self.lock:
            if since is not None:
                floor = since
                # Everything above ``since``, what this connection sent before included: the
                # client asked for it (the replay fills this again, for the live frames
                # waiting on the lock to be deduplicated against).
                self.handled[topic] = set()
            else:
                # Subscribed already (a repeated subscribe): never below what it has sent.
                old = self.topics.get(topic)
                floor = last_event_id if old is None else max(old.floor, last_event_id)
                self.handled.setdefault(topic, set())
            state = TopicState(floor=floor)
            self.topics[topic] = state
            await on_subscribed()
            taken = None if self.relay is None else self.relay.next_id
            if since is not None or (taken is not None and taken - 1 > floor):
                after = floor
                while True:
                    page, pruned_through, roles, claim = await db_read(_replay_page)(
                        self.user, roles=self.roles, topic=topic, after=after, limit=PAGE
                    )
                    if pruned_through > after:
                        # A prune committed while the replay ran: events above ``after``
                        # may be gone from this page. The client must refetch instead.
                        self.unsubscribe(topic)
                        await on_resync()
                        return
                    roles = self.access_from(roles, claim)
                    if roles != self.roles:
                        # Access as of after the page was read: a user deactivated or
                        # narrowed meanwhile is not sent what was written after that.
                        self.access_changed(roles)
                    for event in page:
                        env = Envelope.from_event(event)
                        if self._wants(env):
                            await self._send(env, SENT_REPLAY)
                        after = event.pk
                    if len(page) < PAGE or self.closed:
                        break
            state.replaying = False

    def unsubscribe(self, topic: str) -> None:
        self.topics.pop(topic, None)
        self.handled.pop(topic, None)

    def close(self) -> None:
        self.closed = True
        self.topics.clear()
        self.handled.clear()
        self._live_queue.clear()


def _replay_page(
    user, *, roles: frozenset[Role], topic: str, after: int, limit: int
) -> tuple[list[PaymentEvent], int, frozenset[Role] | None, str | None]:
    """One page of a ``since`` replay; then the log's pruning point, read after it (a prune
    committed before the page was read shows there); then the user's access (None:
    inactive; and the password claim): the replay is not on the hub's re-check until it
    ends, so each page checks for itself, as the live path's events wait for a check that
    began after they were written."""
    page = payment_events_replay(user, roles=roles, topic=topic, after=after, limit=limit)
    return page, payment_log_pruned_through(), *user_access(user_id=user.pk)


class CatchupHub:
    """Per process (per event loop): once a second, re-checks access and has the relay read
    the log for what the channel layer did not bring (``LiveRelay.catch_up``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: Replaced, never changed in place, on every register and unregister: a writer's
        #: thread reads it (``access_check_due``) while the loop may be replacing it.
        self.connections: frozenset[ConnectionDelivery] = frozenset()
        self.task: asyncio.Task | None = None
        self.membership_refreshed = time.monotonic()
        #: Wall time at which the last completed access check began (see access_checked_after).
        self.checked_at = 0.0
        #: Wall time at which the read whose roles were last applied began: an older read
        #: finishing later (a writer's and the hub's may overlap) is not applied over it.
        self.read_at = 0.0
        self._check: asyncio.Task | None = None

    def register(self, conn: ConnectionDelivery) -> None:
        """Re-check ``conn``'s access and raise its floors each round."""
        self.connections = self.connections | {conn}
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())

    def unregister(self, conn: ConnectionDelivery) -> None:
        self.connections = self.connections - {conn}

    async def _run(self) -> None:
        try:
            while self.connections:
                await asyncio.sleep(catchup_interval())
                if not self.connections:
                    break
                try:
                    await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("payment event catch-up failed; retrying")
        finally:
            if _HUBS.get(self.loop) is self and not self.connections:
                del _HUBS[self.loop]

    async def tick(self) -> None:
        """One round: re-check access (one query), then catch up (one query), then the
        floors (and layer healing) in memory."""
        try:
            await self.access_checked_after(time.time())
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("websocket access re-check failed; retrying")
        await self.catch_up()

    async def catch_up(self) -> None:
        """Have the relay read the log above what it has offered; then raise the floors."""
        from .relay import current_relay

        relay = current_relay()
        if relay is not None:
            await relay.catch_up()
            if relay.released is not None:
                for conn in self.connections:
                    conn.advance(relay.released)
        await self._heal_layer()

    async def access_checked_after(self, moment: float) -> None:
        """Return once an access check that began after ``moment`` (wall time) has finished.

        Checks are shared: every connection (and the hub) waiting at once waits on the same
        query, so a burst of events costs one query per process, not one per frame.
        """
        for _attempt in range(3):  # bounded: a check in flight, then a fresh one
            if self.checked_at >= moment:
                return
            await asyncio.shield(self._running_check())
        if self.checked_at < moment:
            raise RuntimeError("websocket access re-check did not complete")

    def _running_check(self) -> asyncio.Task:
        """The access check in flight, or a new one."""
        if self._check is None or self._check.done():
            self._check = self.loop.create_task(self._recheck_access())
        return self._check

    async def _recheck_access(self) -> None:
        """ONE query for every user with a local connection: who is still active, with
        which roles. Connections whose access changed are told (``access_changed``)."""
        started = time.time()
        conns = tuple(conn for conn in self.connections if not conn.closed)
        claims: dict[int, str] = {}
        current = (
            await db_read(users_roles)(user_ids=access_user_ids(conns), claims=claims)
            if conns
            else {}
        )
        self.access_read(AccessRead(started, conns, current, claims))

    def access_read(self, read: AccessRead) -> None:
        """Apply a check's result: the roles it read for its connections, and that a check
        begun at ``read.started`` has finished (``access_checked_after``)."""
        if read.started >= self.read_at:
            self.read_at = read.started
            for conn in read.conns:
                roles = conn.access_from(read.roles[conn.user_id], read.claims.get(conn.user_id))
                if not conn.closed and roles != conn.roles:
                    conn.access_changed(roles)
        self.checked_at = max(self.checked_at, read.started)

    async def _heal_layer(self) -> None:
        """Retry the live relay's failed group joins (after a Redis outage)."""
        from .layer import consume_membership_loss
        from .relay import current_relay

        relay = current_relay()
        lost = consume_membership_loss()
        if relay is None:
            return
        now = time.monotonic()
        # RedisChannelLayer keeps group memberships in Redis (lost on a restart without
        # persistence, and expiring after a day): then join everything again.
        rejoin_all = lost or now - self.membership_refreshed > 3600
        if rejoin_all:
            self.membership_refreshed = now
        await relay.heal(memberships_lost=rejoin_all)


_HUBS: dict[asyncio.AbstractEventLoop, CatchupHub] = {}


#: Up to this many websockets in a process, each write there reads their users' access
#: itself (``access_check_due``); beyond, its events wait for the hub's check, which
#: concurrent writes share (one query for a burst, not one per write).
WRITER_CHECK_MAX_CONNECTIONS = 256


@dataclass(frozen=True, slots=True)
class AccessRead:
    """One access check's result: the roles of the users of ``conns``, read after
    ``started`` (wall time)."""

    started: float
    conns: tuple[ConnectionDelivery, ...]
    roles: dict[int, frozenset[Role] | None]
    #: Each active user's password claim (``users_roles_read``).
    claims: dict[int, str] = field(default_factory=dict)

    @classmethod
    def from_rows(
        cls, started: float, conns: tuple[ConnectionDelivery, ...], connection, user_ids, rows
    ) -> AccessRead:
        """The check made with the events' INSERT (``realtime.events._insert``), from the
        rows of ``users_roles_query``."""
        claims: dict[int, str] = {}
        roles = users_roles_read(connection, user_ids, rows, claims=claims)
        return cls(started, conns, roles, claims)


def access_check_due(
    loop: asyncio.AbstractEventLoop, written: float
) -> tuple[float, tuple[ConnectionDelivery, ...]] | None:
    """Called in a writer's thread as it logs events written at ``written`` (wall time):
    the moment a check begins, now, and the connections of ``loop`` whose users' roles the
    writer is to read with the events' INSERT (``realtime.events``), the check those events
    wait for before ``loop``'s relay offers them (``CatchupHub.access_read`` applies it).
    None when ``loop`` serves no websocket, more than ``WRITER_CHECK_MAX_CONNECTIONS``, or a
    check begun after ``written`` has already finished. (Before, the writer had the loop
    start that check on a worker thread, which the writer woke and competed with for the
    GIL: docs/performance.md has the figures.)"""
    hub = _HUBS.get(loop)
    if hub is None or hub.checked_at >= written:
        return None
    started = time.time()  # then the connections, as in the hub's own check
    conns = hub.connections
    if not conns or len(conns) > WRITER_CHECK_MAX_CONNECTIONS:
        return None  # none to check, or so many that every write would pay for the read
    return started, tuple(conns)


def access_user_ids(conns: tuple[ConnectionDelivery, ...]) -> list[int]:
    return sorted({conn.user_id for conn in conns})


def catchup_hub() -> CatchupHub:
    """The hub of the running event loop (one per daphne process)."""
    loop = asyncio.get_running_loop()
    hub = _HUBS.get(loop)
    if hub is None:
        hub = _HUBS[loop] = CatchupHub(loop)
    return hub
