"""Keeping Redis trouble away from writes and websocket connections.

What channels-redis does when Redis goes away (read from its source, 4.3):

- ``RedisPubSubChannelLayer`` (the default): ``receive`` reads a local queue and never fails;
  its background reader logs, sleeps and reconnects, and redis-py re-subscribes the channels
  it had subscribed. ``new_channel``, ``group_add`` and ``group_discard`` SUBSCRIBE or
  UNSUBSCRIBE and raise ``ConnectionError``; messages published meanwhile are lost.
- ``RedisChannelLayer``: ``receive`` raises (which would end the consumer), every call
  raises, and group memberships live in Redis, so a restart without persistence forgets them.
- redis-py retries a refused connection with backoff for several seconds before raising.

So: every layer call made for a websocket goes through ``ResilientLayer`` (never raises, keeps
failed group joins to retry), every send goes through a timeout, and ``LAYER_BREAKER`` stops
a process from queueing calls against a Redis that is known to be down. Nothing is lost by
skipping a send: each process re-reads the event log (``realtime.delivery``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid

logger = logging.getLogger(__name__)

#: Longest a single channel-layer call may take before it counts as failed.
CALL_TIMEOUT_SECONDS = 2.0


class CircuitBreaker:
    """After a failure, refuse calls for ``cooldown`` seconds, then let one probe through."""

    def __init__(self, *, cooldown: float = 2.0) -> None:
        self.cooldown = cooldown
        self._retry_at = 0.0
        self._lock = threading.Lock()  # on_commit senders run in several threads
        self.failures = 0  # consecutive; 0 when the last call succeeded

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if self.failures == 0 or now >= self._retry_at:
                if self.failures:
                    self._retry_at = now + self.cooldown  # one probe per cooldown
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self.failures = 0

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            self._retry_at = time.monotonic() + self.cooldown

    @property
    def is_open(self) -> bool:
        return self.failures > 0


#: One per process: shared by the on-commit sender and every websocket connection.
LAYER_BREAKER = CircuitBreaker()
_membership_loss = threading.Event()


def consume_membership_loss() -> bool:
    """Whether a receive failed since the last call: Redis may have lost group memberships."""
    lost = _membership_loss.is_set()
    _membership_loss.clear()
    return lost


class ResilientLayer:
    """A channel layer as one consumer sees it, minus the exceptions (see module docstring).

    Failed ``group_add`` calls are remembered in ``pending`` and retried by ``rejoin``, which
    the catch-up task calls; ``receive`` retries with backoff instead of raising.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.pending: set[tuple[str, str]] = set()
        self.joined: set[tuple[str, str]] = set()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def _call(self, coro) -> bool:
        try:
            await asyncio.wait_for(coro, CALL_TIMEOUT_SECONDS)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except TimeoutError:
            # Slow, not necessarily down (a busy loop stretches every round trip): retry
            # later, but do not stop this process's sends for it.
            logger.info("channel layer call timed out; will retry")
            return False
        except BaseException as exc:  # ConnectionError, redis errors
            LAYER_BREAKER.failure()
            logger.warning("channel layer call failed: %r", exc)
            return False
        LAYER_BREAKER.success()
        return True

    async def new_channel(self, prefix: str = "specific.") -> str:
        try:
            return await asyncio.wait_for(self.inner.new_channel(), CALL_TIMEOUT_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Only the pub/sub layer touches Redis here. Its receive() creates the local
            # queue on first use, so a name of our own works once Redis is back.
            LAYER_BREAKER.failure()
            logger.warning("new_channel failed, continuing with a local name: %r", exc)
            return f"{getattr(self.inner, 'prefix', '')}{prefix}{uuid.uuid4().hex}"

    async def receive(self, channel: str) -> dict:
        delay = 0.5
        while True:
            try:
                return await self.inner.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                LAYER_BREAKER.failure()
                _membership_loss.set()
                logger.warning("channel layer receive failed, retrying: %r", exc)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)

    async def group_add(self, group: str, channel: str) -> None:
        key = (group, channel)
        self.joined.add(key)
        if not LAYER_BREAKER.allow() or not await self._call(self.inner.group_add(*key)):
            self.pending.add(key)
        else:
            self.pending.discard(key)

    async def group_discard(self, group: str, channel: str) -> None:
        key = (group, channel)
        self.joined.discard(key)
        self.pending.discard(key)
        if LAYER_BREAKER.allow():
            await self._call(self.inner.group_discard(*key))

    def mark_all_pending(self) -> None:
        """Redis may have forgotten every membership (RedisChannelLayer after a restart)."""
        self.pending |= self.joined

    async def rejoin(self) -> bool:
        """Retry the pending joins; False (and the rest left pending) at the first failure."""
        for key in list(self.pending):
            if key not in self.joined:
                self.pending.discard(key)
                continue
            if not LAYER_BREAKER.allow() or not await self._call(self.inner.group_add(*key)):
                return False
            self.pending.discard(key)
        return True
