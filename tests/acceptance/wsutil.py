"""Helpers for event tests: a watcher subscribed to both topics that keeps raw frames."""

from __future__ import annotations

import json
import time

from websockets.exceptions import ConnectionClosed

from .harness import Server, recv, recv_text, send, ws_open

#: Quiet long enough to see a duplicate: the server's catch-up reads the log once a second,
#: and a copy it sends comes after the live one.
CATCHUP_ROUND = 2.5


class Watcher:
    """One user's connection subscribed to `topics`; `frames` are (raw text, decoded)."""

    def __init__(self, server: Server, user: str) -> None:
        self.server = server
        self.user = user
        self.ws = None
        self.frames: list[tuple[str, dict]] = []
        self.last_event_id: dict[str, int] = {}
        #: Event frames that arrived before a `subscribed` (SPEC: `subscribed` comes first).
        self.early: list[dict] = []

    async def open(
        self, topics=("payment_status", "transactions"), since: int | None = None
    ) -> Watcher:
        token = self.server.access(self.user)
        self.ws = await ws_open(self.server, headers={"Authorization": f"Bearer {token}"})
        assert (await recv(self.ws))["type"] == "authenticated"
        for topic in topics:
            req = {"type": "subscribe", "topic": topic}
            if since is not None:
                req["since"] = since
            await send(self.ws, req)
            # Replayed events may follow `subscribed`; keep them.
            while True:
                text = await recv_text(self.ws)
                frame = json.loads(text)
                if frame["type"] == "subscribed":
                    assert frame["topic"] == topic, frame
                    self.last_event_id[topic] = frame["last_event_id"]
                    break
                self.frames.append((text, frame))
                self.early.append(frame)
        return self

    async def drain(self, *, quiet: float = 1.0, limit: float = 8.0) -> list[tuple[str, dict]]:
        """Collect until nothing arrives for `quiet` seconds; returns the new frames."""
        new: list[tuple[str, dict]] = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                text = await recv_text(self.ws, min(quiet, max(0.01, deadline - time.monotonic())))
            except (TimeoutError, ConnectionClosed):  # a closed socket has nothing more
                break
            pair = (text, json.loads(text))
            new.append(pair)
            self.frames.append(pair)
        return new

    async def wait_for(self, pred, *, timeout: float = 6.0) -> dict:
        """Collect until a frame satisfies `pred` (which sees the decoded frame)."""
        for _, frame in self.frames:
            if pred(frame):
                return frame
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                text = await recv_text(self.ws, max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            frame = json.loads(text)
            self.frames.append((text, frame))
            if pred(frame):
                return frame
        raise AssertionError(f"{self.user}: no matching frame in {timeout}s; got {self.frames}")

    def about(self, tid: int, frame_type: str | None = None) -> list[dict]:
        return [
            f
            for _, f in self.frames
            if f.get("data", {}).get("transactionId") == tid
            and (frame_type is None or f["type"] == frame_type)
        ]

    def raw_about(self, tid: int, frame_type: str) -> list[str]:
        return [
            t
            for t, f in self.frames
            if f.get("data", {}).get("transactionId") == tid and f["type"] == frame_type
        ]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def kinds(frames: list[dict]) -> list[str]:
    """`payment_status_updated` or `transaction_updated:<data.type>` for each frame."""
    return [
        f["type"] if f["type"] != "transaction_updated" else f"tu:{f['data']['type']}"
        for f in frames
    ]
