"""The live path, once per process: one channel-layer channel for every local connection.

A connection does not take a channel of its own. The process's ``LiveRelay`` joins the
groups its connections need (counted: a group is joined when the first connection needs
it and left when the last one goes), receives each event once, decodes it once, waits
once for the process's access check (``CatchupHub.access_checked_after``) and then offers
it to every local connection (``ConnectionDelivery.push_live``), which decides in memory
whether to send the ready-made frame.

The events of one change travel as one message per group (``realtime.events``). Per
connection and event that leaves a dictionary lookup, the audience check and the
websocket write: no channel-layer queue, no msgpack decoding, no task or ``asyncio.wait``
(``await_many_dispatch``), no consumer dispatch. An event reaches a process once per group
it was sent to that the relay has joined (an admin's and a sales agent's, say); the relay
drops the copies by ``event_id``. An event committed in this process is offered to the
local connections as soon as it commits (``dispatch_soon``, from ``realtime.events``), and
the copy that comes back through the layer is dropped the same way.

Redis trouble is handled as for any layer call (``realtime.layer.ResilientLayer``): joins
that fail are retried by the catch-up hub (``CatchupHub._heal_layer``), and whatever the
relay does not receive reaches the connections from the log within about a second.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections import Counter

from channels.layers import get_channel_layer

from .delivery import ConnectionDelivery, Envelope, catchup_hub, reads_share_the_sync_thread
from .layer import ResilientLayer

logger = logging.getLogger(__name__)

#: Event ids remembered to drop the copies that come through several groups.
RECENT_EVENTS = 4096
#: Connections served per event before the relay lets the event loop run other work.
YIELD_EVERY = 50


class LiveRelay:
    """Per process (per event loop): receives the channel-layer messages for all local
    connections and hands each event to them (see module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, layer) -> None:
        self.loop = loop
        self.layer = ResilientLayer(layer)
        self.channel: str | None = None
        self.members: dict[ConnectionDelivery, frozenset[str]] = {}
        self.counts: Counter[str] = Counter()
        #: Serializes joins and leaves, so a group's SUBSCRIBE and UNSUBSCRIBE never cross.
        self.membership = asyncio.Lock()
        self.task: asyncio.Task | None = None
        self.recent: dict[int, None] = {}
        self.closed = False
        #: The context of a connection's handler, as the receiving task has. Not a writer's:
        #: a write under daphne runs in a worker thread whose context marks the sync thread
        #: as busy, and the access check would refuse to wait for it (asgiref's deadlock
        #: guard) on SQLite, where database reads share that thread.
        self.context = contextvars.copy_context()

    # -- membership ------------------------------------------------------------------------
    async def join(self, conn: ConnectionDelivery, groups: list[str]) -> None:
        """Make ``conn`` receive the events of ``groups`` (and only those it had before that
        are still in ``groups``). Returns once the relay is in every one of them, so that
        whatever commits afterwards arrives live."""
        wanted = frozenset(groups)
        async with self.membership:
            if conn.closed:
                return  # it went away while this join waited
            if self.closed:
                # The last connection left while this join waited: start the next relay.
                successor = live_relay()
                if successor is not None:
                    await successor.join(conn, groups)
                return
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            previous = self.members.get(conn, frozenset())
            self.members[conn] = wanted
            for group in sorted(wanted - previous):  # join the new ones first: no gap
                self.counts[group] += 1
                if self.counts[group] == 1:
                    await self.layer.group_add(group, self.channel)
            await self._drop(previous - wanted)
            if self.task is None or self.task.done():
                self.task = self.loop.create_task(self._run())

    async def leave(self, conn: ConnectionDelivery) -> None:
        """``conn`` needs no events any more; the relay ends with its last connection."""
        if conn not in self.members:
            return
        async with self.membership:
            groups = self.members.pop(conn, frozenset())
            await self._drop(groups)
            if not self.members and _RELAYS.get(self.loop) is self:
                del _RELAYS[self.loop]
                self.closed = True
                if self.task is not None:
                    self.task.cancel()

    async def _drop(self, groups: frozenset[str]) -> None:
        for group in sorted(groups):
            self.counts[group] -= 1
            if self.counts[group] <= 0:
                del self.counts[group]
                await self.layer.group_discard(group, self.channel)

    async def heal(self, *, memberships_lost: bool) -> None:
        """Retry the joins that failed (Redis down); with ``memberships_lost``, all of them
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
        when there is nothing to send."""
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
        """One channel-layer message (the events of one change, in id order): decode once,
        check access once, offer to everyone. ``served`` is set once the first
        ``YIELD_EVERY`` connections (all of them, usually) have their frames queued, or
        before waiting for an access check that would need the writer's thread."""
        envs = []
        for item in message.get("events", ()):
            event_id = item["event_id"]
            if event_id in self.recent:
                continue  # a copy that came through another group, or back from the layer
            self.recent[event_id] = None
            if len(self.recent) > RECENT_EVENTS:
                del self.recent[next(iter(self.recent))]
            envs.append(Envelope.from_message(item))
        if not envs:
            return
        hub = catchup_hub()
        written = max(env.created_at for env in envs)
        if written > hub.checked_at:
            # Written after the last access check: wait for a fresh one (one query for the
            # whole process), so a user deactivated or stripped of a role before the events
            # were written never receives them. If it fails, catch-up sends them later.
            # (The writer waits for this too, unless the query would need its thread.)
            if served is not None and reads_share_the_sync_thread():
                served.set()
            try:
                await hub.access_checked_after(written)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "access re-check failed; leaving events %s to catch-up",
                    [env.event_id for env in envs],
                )
                return
        for i, conn in enumerate(list(self.members), start=1):
            for env in envs:
                step = conn.push_live(env)
                if step is not None:
                    await step  # sends at once: nothing in it waits (see push_live)
            if i % YIELD_EVERY == 0:
                if served is not None:
                    served.set()
                # Let the event loop run other work between slices: with thousands of
                # connections an event takes a while to offer. (The frames themselves are
                # written as they are sent, escashop/twisted_writes.py; a socket with data
                # still queued writes on the loop's next turn.)
                await asyncio.sleep(0)


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
