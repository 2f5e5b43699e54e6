"""Helpers for integration tests against a running daphne: a websocket client and writers."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect

from payments.services import settlement_record
from tests.support.services import skip_or_fail


class LiveClient:
    def __init__(self, ws) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, user) -> LiveClient:
        token = str(AccessToken.for_user(user))
        ws = await connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
        )
        client = cls(ws)
        assert (await client.receive())["type"] == "authenticated"
        return client

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def receive(self, timeout: float = 10.0) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def subscribe(self, topic: str, since: int | None = None) -> dict:
        frame = {"type": "subscribe", "topic": topic}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        reply = await self.receive()
        assert reply["type"] == "subscribed", reply
        return reply

    async def collect(self, count: int, *, within: float) -> list[dict]:
        """Exactly ``count`` event frames within ``within`` seconds (fails otherwise)."""
        deadline = time.monotonic() + within
        frames = []
        while len(frames) < count:
            remaining = deadline - time.monotonic()
            try:
                assert remaining > 0
                frames.append(await self.receive(timeout=remaining))
            except (AssertionError, TimeoutError):
                ids = sorted(f.get("event_id", 0) for f in frames)
                raise AssertionError(
                    f"got {len(frames)} of {count} frames in {within}s: {ids}"
                ) from None
        return frames

    async def quiet(self, seconds: float) -> None:
        """Nothing more arrives for ``seconds`` (a duplicate would)."""
        try:
            frame = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame: {frame}")

    async def close(self) -> None:
        await self.ws.close()


def pay_concurrently(payments: list[tuple], *, threads: int = 10) -> list:
    """Record (transaction, amount, recorded_by) settlements from ``threads`` threads."""

    def one(job):
        txn, amount, user = job
        try:
            return settlement_record(
                transaction=txn, amount=amount, payment_mode="cash", recorded_by=user
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, payments))


def require_restartable_redis() -> None:
    """``redis_stop``/``redis_start`` act on the Redis at 127.0.0.1:6379 with this machine's
    binaries: anything else would stop nothing and prove nothing (or leave a stray server)."""
    from django.conf import settings

    url = urlsplit(getattr(settings, "REDIS_URL", "") or "")
    if url.hostname not in ("127.0.0.1", "localhost") or (url.port or 6379) != 6379:
        skip_or_fail(f"restarts the Redis at 127.0.0.1:6379, and REDIS_URL is {url.geturl()!r}")
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            skip_or_fail(f"restarts Redis with {tool}, which is not on PATH")


def redis_stop() -> None:
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True, timeout=10
    )


def redis_start(*, wait: float = 10.0) -> None:
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        capture_output=True,
        timeout=10,
        check=False,
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        ping = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, text=True, timeout=5
        )
        if ping.stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    raise RuntimeError("Redis did not answer PING after restarting")


async def relay_with_core_layer(event) -> None:
    """Relay a logged event the way a writer configured with RedisChannelLayer would
    (``realtime.events`` does it with the project's own layer, here pub/sub)."""
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    from realtime.events import channel_message
    from realtime.groups import EVENTS_GROUP

    layer = RedisChannelLayer(
        hosts=[settings.REDIS_URL], prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    )
    try:
        await layer.group_send(EVENTS_GROUP, channel_message([event]))
    finally:
        await layer.close_pools()
