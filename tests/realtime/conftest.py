"""Websocket test kit: the in-memory channel layer, tokens for the cast, and a small client.

Unit tests drive the real ASGI websocket app (origin check, JWT middleware, consumer) with
``WebsocketCommunicator``; writes go through the real services in ``transaction=True``
tests, so ``on_commit`` really runs and the frames are the ones a browser would get.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from payments.services import settlement_record
from realtime.routing import websocket_application


@pytest.fixture(autouse=True)
def _in_memory_layer(request, settings):
    """Unit tests run on the in-memory layer (one process) whatever REDIS_URL says, and
    with a fast catch-up so tests of it stay short."""
    if "daphne_server" not in request.fixturenames:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ESCASHOP_CATCHUP_SECONDS = 0.2


def access_token(user, *, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


class Client:
    """A websocket client for tests: JSON frames in and out, bounded waits."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, frame: dict) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 2.0) -> dict:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        return json.loads(output["text"])

    async def receive_raw(self, timeout: float = 2.0) -> str:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        return output["text"]

    async def receive_close(self, timeout: float = 2.0) -> int:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.close", output
        return output.get("code")

    async def nothing(self, timeout: float = 0.3) -> None:
        assert await self.communicator.receive_nothing(timeout), "unexpected frame"

    async def receive_events(self, count: int, timeout: float = 3.0) -> list[dict]:
        frames = [await self.receive(timeout) for _ in range(count)]
        return frames

    async def roundtrip(self) -> None:
        """Ping and wait for the pong: everything sent before it has been received."""
        await self.send({"type": "ping"})
        assert await self.receive() == {"type": "pong"}

    async def subscribe(self, topic: str, since: int | None = None) -> dict:
        frame = {"type": "subscribe", "topic": topic}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        reply = await self.receive()
        assert reply["type"] == "subscribed", reply
        return reply

    async def close(self) -> None:
        await self.communicator.disconnect()


async def open_client(
    *,
    user=None,
    token: str | None = None,
    via: str = "header",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Client:
    """Connect; with a user (or token) authenticate by header, query or first frame and
    swallow the ``authenticated`` frame."""
    if user is not None and token is None:
        token = await database_sync_to_async(access_token)(user)
    path = "/ws/"
    headers = list(headers or [])
    if token is not None and via == "header":
        headers.append((b"authorization", f"Bearer {token}".encode()))
    elif token is not None and via == "query":
        path += f"?token={token}"
    communicator = WebsocketCommunicator(websocket_application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    client = Client(communicator)
    if token is not None and via == "frame":
        await client.send({"type": "authenticate", "token": token})
    if user is not None:
        frame = await client.receive()
        assert frame["type"] == "authenticated", frame
    return client


@pytest.fixture
async def clients():
    """Open clients through ``clients.open(...)``; all are closed at the end of the test."""

    class Opener:
        def __init__(self) -> None:
            self.opened: list[Client] = []

        async def open(self, **kwargs) -> Client:
            client = await open_client(**kwargs)
            self.opened.append(client)
            return client

    opener = Opener()
    yield opener
    for client in opener.opened:
        with contextlib.suppress(Exception):  # some were closed by the server already
            await asyncio.wait_for(client.close(), 5)
    # A database connection opened by a worker thread of this test's event loop can outlive
    # the thread, unreachable, until the cycle collector frees it; collect now, so that it
    # is closed before pytest-django drops the test database ("being accessed by other
    # users" otherwise, seen after tests whose access checks raced the test's end).
    gc.collect()


def db(func):
    """Run a service from an async test (its on_commit runs on this test's event loop)."""
    return database_sync_to_async(func)


async def pay(txn, cashier, amount="10.00"):
    """A cash settlement recorded by ``cashier`` through the real service."""
    return await db(settlement_record)(
        transaction=txn, amount=amount, payment_mode="cash", recorded_by=cashier
    )
