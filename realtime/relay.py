"""The live path, once per process: every event, in id order, to every local connection.

A connection does not take a channel of its own. The process's ``LiveRelay`` joins the
one group that carries every change's events (``realtime.groups.EVENTS_GROUP``) while it
has connections, receives each event once, decodes it once, waits once for the process's
access check (``CatchupHub.access_checked_after``) and then offers it to every local
connection (``ConnectionDelivery.push_live``), which decides in memory whether its user
may see it and sends the ready-made frame.

**Strictly in id order.** Event ids commit in id order (``realtime.events._insert``), so
once an event has arrived, every lower id has either committed or is gone for good. The
relay hands events on in id order only: one that arrives ahead of a lower id (written by
another process, whose message is still on its way, or lost) waits until that id arrives,
or, after ``GAP_WAIT_SECONDS``, until a read of the log (one query for the process)
brings it or shows it does not exist (a rolled-back write). Every connection therefore
sends what its user may see in id order, and a client that resumes from the highest
``event_id`` it handled misses nothing. Three paths feed the relay, all through
``accept``: the channel layer, this process's own writes as they commit
(``dispatch_soon``, from ``realtime.events``; the copy that comes back through the layer
is dropped), and log reads (``catch_up``: the gap reads, and the catch-up hub's round
once a second, which also brings whatever the layer dropped while nothing came after it).

Per connection and event that leaves the audience check and the websocket write: no
channel-layer queue, no msgpack decoding, no task or ``asyncio.wait``, no consumer
dispatch. Redis trouble is handled as for any layer call
(``realtime.layer.ResilientLayer``): a join that fails is retried by the catch-up hub
(``CatchupHub._heal_layer``), and what the relay does not receive comes from the log.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time

from channels.layers import get_channel_layer

from .delivery import (
    PAGE,
    SENT_CATCHUP,
    SENT_GAP,
    SENT_LIVE,
    ConnectionDelivery,
    Envelope,
    catchup_hub,
    db_read,
    reads_share_the_sync_thread,
)
from .events import log_origin
from .groups import EVENTS_GROUP
from .layer import ResilientLayer
from .metrics import FOREIGN_MESSAGES
from .selectors import payment_events_after, payment_log_newest

logger = logging.getLogger(__name__)

#: Connections served per event before the relay lets the event loop run other work.
YIELD_EVERY = 50
#: How long an event that arrived ahead of a lower id waits for it before the log is read.
GAP_WAIT_SECONDS = 0.005
#: Gap reads in a row before leaving a gap to the hub's round (a failing database, say).
GAP_READS = 5
#: Pages a log read takes at most in one go (``catch_up``).
CATCH_UP_PAGES = 20
#: Events kept waiting for a lower id or a failing access check at most: as many as one
#: log read takes. Beyond it the highest are dropped and read from the log again once the
#: way is clear, so a database outage during a burst does not grow the process without
#: bound.
MAX_PENDING = CATCH_UP_PAGES * PAGE
#: At most one warning this often about messages from another deployment.
FOREIGN_WARNING_SECONDS = 60.0


class LiveRelay:
    """Per process (per event loop): every event, in id order, to all local connections
    (see module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, layer) -> None:
        self.loop = loop
        self.layer = ResilientLayer(layer)
        self.channel: str | None = None
        self.members: dict[ConnectionDelivery, None] = {}  # in join order
        #: Serializes joins and leaves, so the group's SUBSCRIBE and UNSUBSCRIBE never cross.
        self.membership = asyncio.Lock()
        self.task: asyncio.Task | None = None
        self.closed = False
        #: Every id below ``next_id`` has been taken to be offered (or is known not to exist);
        #: every id up to ``released`` has been offered. None until the first join.
        self.next_id: int | None = None
        self.released: int | None = None
        #: Arrived ahead of a lower id: event id -> (envelope, the frames-sent counter).
        self.pending: dict[int, tuple[Envelope, object]] = {}
        #: A log read found every committed id up to here (the rest do not exist).
        self.known_through = 0
        self.releasing = asyncio.Lock()
        self._gap_read: asyncio.Task | None = None
        #: The context of a connection's handler, as the receiving task has. Not a writer's:
        #: a write under daphne runs in a worker thread whose context marks the sync thread
        #: as busy, and the access check would refuse to wait for it (asgiref's deadlock
        #: guard) on SQLite, where database reads share that thread.
        self.context = contextvars.copy_context()
        self.foreign_warned_at = -FOREIGN_WARNING_SECONDS

    # -- membership ------------------------------------------------------------------------
    async def join(self, conn: ConnectionDelivery) -> None:
        """Offer ``conn`` every event from now on. Returns once the relay is in the group,
        so that whatever commits afterwards reaches it."""
        async with self.membership:
            if conn.closed:
                return  # it went away while this join waited
            if self.closed:
                # The last connection left while this join waited: start the next relay.
                successor = live_relay()
                if successor is not None:
                    await successor.join(conn)
                return
            if self.next_id is None:
                # Read before joining: what commits after the read arrives through the
                # group, or, committed before the join, is found by a gap read.
                newest = await db_read(payment_log_newest)()
                self.next_id, self.released = newest + 1, newest
                self.known_through = newest
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(EVENTS_GROUP, self.channel)
            self.members[conn] = None
            conn.relay = self
            if self.task is None or self.task.done():
                self.task = self.loop.create_task(self._run())

    async def leave(self, conn: ConnectionDelivery) -> None:
        """``conn`` needs no events any more; the relay ends with its last connection."""
        if conn not in self.members:
            return
        async with self.membership:
            self.members.pop(conn, None)
            if not self.members and _RELAYS.get(self.loop) is self:
                del _RELAYS[self.loop]
                self.closed = True
                if self.channel is not None:
                    await self.layer.group_discard(EVENTS_GROUP, self.channel)
                for task in (self.task, self._gap_read):
                    if task is not None:
                        task.cancel()

    async def heal(self, *, memberships_lost: bool) -> None:
        """Retry the join if it failed (Redis down); with ``memberships_lost``, join again
        (RedisChannelLayer keeps memberships in Redis, which a restart may have emptied)."""
        async with self.membership:
            if memberships_lost:
                self.layer.mark_all_pending()
            if self.layer.pending:
                await self.layer.rejoin()  # False: Redis still down, retried next round

    # -- receiving -------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self.closed:
            message = await self.layer.receive(self.channel)  # retries while Redis is down
            await self._dispatch_logged(message)

    def dispatch_soon(self, message: dict, *, served: threading.Event | None = None) -> None:
        """An event committed by this process: offer it to the local connections now,
        without waiting for it to come back through the channel layer. ``served`` is set
        once the first connections have been sent their frames (see ``dispatch``), or
        when there is nothing to send or the frames must wait."""
        if self.closed:
            if served is not None:
                served.set()
            return
        self.loop.create_task(
            self._dispatch_logged(message, served=served), context=self.context.copy()
        )

    async def _dispatch_logged(
        self, message: dict, *, served: threading.Event | None = None
    ) -> None:
        try:
            await self.dispatch(message, served=served)
        except Exception:
            logger.exception("live relay could not deliver an event; catch-up will")
        finally:
            if served is not None:
                served.set()

    async def dispatch(self, message: dict, *, served: threading.Event | None = None) -> None:
        """One channel-layer message (the events of one change, in id order). One from
        another deployment's log (``realtime.events.log_origin``) is dropped: its ids are
        not this log's."""
        if message.get("origin") != log_origin():
            self._foreign_message()
            return
        if self.next_id is None:
            return
        envs = [
            Envelope.from_message(item)
            for item in message.get("events", ())
            # Not decoded again: the copy of this process's own write, coming back.
            if item["event_id"] >= self.next_id and item["event_id"] not in self.pending
        ]
        await self.accept(envs, counter=SENT_LIVE, served=served)

    def _foreign_message(self) -> None:
        FOREIGN_MESSAGES.inc()
        now = time.monotonic()
        if now - self.foreign_warned_at >= FOREIGN_WARNING_SECONDS:
            self.foreign_warned_at = now
            logger.warning(
                "live relay: dropped a channel-layer message of another deployment (another "
                "database or DJANGO_SECRET_KEY) sharing this Redis and channel prefix; give "
                "each deployment its own ESCASHOP_CHANNEL_PREFIX (Redis Pub/Sub ignores the "
                "database number in REDIS_URL)"
            )

    async def accept(
        self,
        envs: list[Envelope],
        *,
        counter,
        known_through: int | None = None,
        served: threading.Event | None = None,
    ) -> None:
        """Take committed events (from any path; copies are dropped) and offer whatever is
        next in id order. ``known_through``: a log read found every committed id up to it."""
        if self.next_id is None or self.closed:
            return
        for env in envs:
            if env.event_id >= self.next_id:
                self.pending.setdefault(env.event_id, (env, counter))
        if known_through is not None and known_through > self.known_through:
            self.known_through = known_through
        if len(self.pending) > MAX_PENDING:
            self._shed_pending()
        if self.releasing.locked():
            return  # the release running now takes these too (it looks again after each batch)
        async with self.releasing:
            while not self.closed:
                batch = self._take_ready()
                if not batch:
                    break
                if not await self._offer(batch, served):
                    return  # the access check failed: left pending, the hub retries
        if self.pending and not self.closed:
            self._read_gap_soon()

    def _shed_pending(self) -> None:
        """Keep the ``MAX_PENDING`` lowest pending events; the rest stay in the log, where
        the next reads find them (nothing at or above ``next_id`` has been offered, and ids
        from the lowest dropped up are no longer taken as known)."""
        dropped = sorted(self.pending)[MAX_PENDING:]
        for event_id in dropped:
            del self.pending[event_id]
        self.known_through = min(self.known_through, dropped[0] - 1)
        logger.warning(
            "live relay: %d events waiting; ids %d-%d dropped, to be read from the log",
            MAX_PENDING + len(dropped),
            dropped[0],
            dropped[-1],
        )

    def _take_ready(self) -> list[tuple[Envelope, object]]:
        """The pending events that are next in id order, skipping ids known not to exist."""
        batch = []
        nxt = self.next_id
        while True:
            item = self.pending.pop(nxt, None)
            if item is not None:
                batch.append(item)
                nxt += 1
            elif nxt <= self.known_through:
                nxt = min([self.known_through + 1, *self.pending])  # past the ids that are not
            else:
                break
        self.next_id = nxt
        return batch

    async def _offer(self, batch: list[tuple[Envelope, object]], served) -> bool:
        """Offer ``batch`` (in id order) to every connection, once the process's access
        check covers it; False, with the batch put back, if that check failed."""
        hub = catchup_hub()
        # Never later than now: a writer whose clock runs ahead wrote these before we
        # received them, so a check begun now is after they were written; waiting for its
        # clock would hold up every event behind them.
        written = min(max(env.created_at for env, _ in batch), time.time())
        if written > hub.checked_at:
            # Written after the last access check: wait for a fresh one (one query for the
            # whole process), so a user deactivated or stripped of a role before the events
            # were written never receives them. (The writer waits for this too, unless the
            # query would need its thread.)
            if served is not None and reads_share_the_sync_thread():
                served.set()
            try:
                await hub.access_checked_after(written)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "access re-check failed; events %s wait for the next round",
                    [env.event_id for env, _ in batch],
                )
                self.next_id = batch[0][0].event_id
                for env, counter in batch:
                    self.pending[env.event_id] = (env, counter)
                return False
        for i, conn in enumerate(list(self.members), start=1):
            for env, counter in batch:
                try:
                    step = conn.push_live(env, counter)
                    if step is not None:
                        await step  # sends at once: nothing in it waits (see push_live)
                except Exception:
                    # That connection closes (the client resumes from its highest id); the
                    # others still get the batch.
                    conn.failed(env)
                    break
            if i % YIELD_EVERY == 0:
                if served is not None:
                    served.set()
                # Let the event loop run other work between slices: with thousands of
                # connections an event takes a while to offer. (The frames themselves are
                # written as they are sent, escashop/twisted_writes.py; a socket with data
                # still queued writes on the loop's next turn.)
                await asyncio.sleep(0)
        self.released = batch[-1][0].event_id
        return True

    # -- reading the log -------------------------------------------------------------------
    def _read_gap_soon(self) -> None:
        if self._gap_read is None or self._gap_read.done():
            self._gap_read = self.loop.create_task(self._read_gap(), context=self.context.copy())

    async def _read_gap(self) -> None:
        """An event waits for a lower id: give its message ``GAP_WAIT_SECONDS`` to arrive,
        then read the log; again while a gap remains (a few times: then the hub's round)."""
        for _attempt in range(GAP_READS):
            await asyncio.sleep(GAP_WAIT_SECONDS)
            if not self.pending or self.closed:
                return
            try:
                await self.catch_up(counter=SENT_GAP)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not read the event log; the next round retries")
                return

    async def catch_up(self, counter=SENT_CATCHUP) -> None:
        """Read the log above what was taken (one query a page) and offer what it holds: the
        events the layer lost or has not brought yet. Everything up to the last row read is
        then known, so ids the read did not find are skipped. ``counter``: the hub's round
        (``catchup``) or a gap's read (``gap``)."""
        if self.next_id is None:
            return
        after = self.next_id - 1
        for _page in range(CATCH_UP_PAGES):
            rows = await db_read(payment_events_after)(after=after, limit=PAGE)
            envs = [Envelope.from_event(row) for row in rows]
            await self.accept(envs, counter=counter, known_through=rows[-1].pk if rows else None)
            if len(rows) < PAGE or self.closed:
                break
            after = max(rows[-1].pk, self.next_id - 1)


_RELAYS: dict[asyncio.AbstractEventLoop, LiveRelay] = {}


def live_relay() -> LiveRelay | None:
    """The relay of the running event loop (one per daphne process); None without a layer."""
    loop = asyncio.get_running_loop()
    relay = _RELAYS.get(loop)
    if relay is None:
        layer = get_channel_layer()
        if layer is None:
            return None
        relay = _RELAYS[loop] = LiveRelay(loop, layer)
    return relay


def current_relay() -> LiveRelay | None:
    """The running event loop's relay if it has one (never creates it)."""
    return _RELAYS.get(asyncio.get_running_loop())


def serves_connections(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` has websocket connections to relay events to. Asked from a writer's
    thread, so only a hint: a connection may come or go at this very moment."""
    relay = _RELAYS.get(loop)
    return relay is not None and bool(relay.members)
