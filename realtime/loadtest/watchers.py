"""Websocket watchers: authenticate with a first frame, subscribe, timestamp every event frame.

A watcher stores, per settlement id, the monotonic arrival time of each frame naming it (a
list, so a duplicate shows up as a second entry), and counts frames whose ``event_id`` is
not above the previous one's (the server sends each connection its events in id order).
It parses nothing else.

**Arrival** is when the event loop hands the frame's bytes to the client's connection
(``StampedConnection``), before the ``websockets`` library parses and queues them and this
code decodes them: one process plays every screen here, so a later client's frame also
waits for the earlier ones' handling, which separate screens would not. When the frame was
decoded here (the arrival as measured until 2026-11-29) is kept too, in ``decoded``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.frames import DATA_OPCODES, Frame

EVENT_FRAME = "payment_status_updated"


class StampedConnection(ClientConnection):
    """A client connection that notes, for every message, the monotonic time its last bytes
    reached the connection (``data_received``), in message order: ``stamps``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stamps: collections.deque[float] = collections.deque()
        self._received_at = 0.0

    def data_received(self, data: bytes) -> None:
        self._received_at = time.monotonic()
        super().data_received(data)

    def process_event(self, event) -> None:
        # A message is complete with its final frame (``fin``), fragmented or not.
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES and event.fin:
            self.stamps.append(self._received_at)
        super().process_event(event)

    async def recv_stamped(self) -> tuple[str | bytes, float]:
        """The next message and when its bytes arrived."""
        message = await self.recv()
        return message, self.stamps.popleft()


@dataclass
class Watcher:
    """One websocket client. ``arrivals[settlement_id]`` lists arrival times of its frames,
    ``decoded[settlement_id]`` the times this code had them decoded."""

    index: int
    url: str
    token: str
    origin: str
    arrivals: dict[int, list[float]] = field(default_factory=dict)
    decoded: dict[int, list[float]] = field(default_factory=dict)
    last_event_id: int = 0
    out_of_order: int = 0
    frames: int = 0
    connected: bool = False
    subscribed_at: float | None = None
    close_code: int | None = None
    error: str | None = None
    _ws: object = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, *, open_timeout: float) -> None:
        """Connect, authenticate, subscribe, then record frames until closed."""
        try:
            async with connect(
                self.url,
                origin=self.origin,
                compression=None,
                open_timeout=open_timeout,
                max_queue=None,
                ping_interval=20,
                ping_timeout=60,
                create_connection=StampedConnection,
            ) as ws:
                self._ws = ws
                await ws.send(json.dumps({"type": "authenticate", "token": self.token}))
                await self._expect(ws, "authenticated", open_timeout)
                await ws.send(json.dumps({"type": "subscribe", "topic": "payment_status"}))
                await self._expect(ws, "subscribed", open_timeout)
                self.connected = True
                self.subscribed_at = time.monotonic()
                self._ready.set()
                while True:
                    message, arrived = await ws.recv_stamped()
                    self.record_frame(message, arrived, decoded=time.monotonic())
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
            if exc.rcvd is None:
                self.error = "connection closed without a close frame"
        except (OSError, TimeoutError, ValueError, RuntimeError, WebSocketException) as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self.connected = False
            self._ready.set()

    async def _expect(self, ws, frame_type: str, timeout: float) -> None:
        while True:
            raw, _ = await asyncio.wait_for(ws.recv_stamped(), timeout)
            frame = json.loads(raw)
            if frame.get("type") == frame_type:
                return
            if frame.get("type") == "error":
                raise RuntimeError(f"server error frame: {frame}")

    def record_frame(
        self, message: str | bytes, arrived: float, decoded: float | None = None
    ) -> None:
        """Note one frame: ``arrived`` when its bytes came, ``decoded`` when ``websockets``
        handed it over (before it is parsed here, as the latency was measured until
        2026-11-29; default: now)."""
        if decoded is None:
            decoded = time.monotonic()
        frame = json.loads(message)
        if frame.get("type") != EVENT_FRAME:
            return
        self.frames += 1
        data = frame["data"]
        event_id = frame["event_id"]
        if event_id < self.last_event_id:  # a second copy of the newest is a duplicate only
            self.out_of_order += 1
        self.last_event_id = max(self.last_event_id, event_id)
        settlement = data.get("settlement")
        if settlement is not None:
            self.arrivals.setdefault(settlement["id"], []).append(arrived)
            self.decoded.setdefault(settlement["id"], []).append(decoded)

    async def wait_ready(self) -> bool:
        await self._ready.wait()
        return self.connected

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()


async def open_watchers(
    watchers: list[Watcher], *, concurrency: int, open_timeout: float
) -> list[asyncio.Task]:
    """Start every watcher, at most ``concurrency`` handshakes at a time; wait until each is
    subscribed or failed. Returns the tasks that keep them reading."""
    gate = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task] = []

    async def start(watcher: Watcher) -> None:
        async with gate:
            tasks.append(asyncio.create_task(watcher.run(open_timeout=open_timeout)))
            await watcher.wait_ready()

    await asyncio.gather(*(start(w) for w in watchers))
    return tasks
