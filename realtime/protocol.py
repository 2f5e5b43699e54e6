"""The client side of the websocket protocol (SPEC section 5): parsing requests and limits.

``parse_request`` turns a decoded JSON value into a ``Request`` or raises ``FrameError``
(answered with an ``error`` frame, the connection stays open). Non-JSON and oversized frames
are the consumer's business (they close with 4400). The limits are per connection.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from .choices import Topic

#: Largest client frame accepted, in bytes of UTF-8 (SPEC: 64 KiB).
MAX_FRAME_BYTES = 64 * 1024
#: More than RATE_LIMIT_FRAMES frames within RATE_LIMIT_SECONDS closes with 4429.
RATE_LIMIT_FRAMES = 100
RATE_LIMIT_SECONDS = 10.0
#: More than ERROR_LIMIT error frames within ERROR_WINDOW_SECONDS closes with 4400.
ERROR_LIMIT = 10
ERROR_WINDOW_SECONDS = 60.0
#: Time allowed for the first ``authenticate`` frame when the handshake carried no token.
AUTH_TIMEOUT_SECONDS = 10.0

ALIASES = {
    "subscribe:payment_status": Topic.PAYMENT_STATUS,
    "subscribe:transactions": Topic.TRANSACTIONS,
}


class FrameError(Exception):
    """A JSON frame that is not a valid request; ``code`` is the error frame's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Request:
    """One client request: ``kind`` is authenticate | subscribe | unsubscribe | ping."""

    kind: str
    topic: Topic | None = None
    since: int | None = None
    token: str | None = None


def frame_too_big(text: str) -> bool:
    """Whether a text frame exceeds MAX_FRAME_BYTES, without encoding short frames."""
    if len(text) > MAX_FRAME_BYTES:
        return True
    if len(text) * 4 <= MAX_FRAME_BYTES:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES


def _topic(value: object) -> Topic:
    if not isinstance(value, str):
        raise FrameError("bad_request", '"topic" must be a string.')
    try:
        return Topic(value)
    except ValueError:
        raise FrameError(
            "unknown_topic", f"Unknown topic; use one of: {', '.join(Topic.values)}."
        ) from None


def _since(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FrameError("bad_request", '"since" must be a non-negative integer event id.')
    return value


def parse_request(content: object) -> Request:
    if not isinstance(content, dict):
        raise FrameError("bad_request", "A frame must be a JSON object with a type.")
    kind = content.get("type")
    if not isinstance(kind, str):
        raise FrameError("bad_request", 'A frame needs a string "type".')
    if kind == "ping":
        return Request(kind="ping")
    if kind == "authenticate":
        token = content.get("token")
        if not isinstance(token, str) or not token:
            raise FrameError("bad_request", '"authenticate" needs a string "token".')
        return Request(kind="authenticate", token=token)
    if kind in ALIASES:
        return Request(kind="subscribe", topic=ALIASES[kind], since=_since(content.get("since")))
    if kind == "subscribe":
        if "topic" not in content:
            raise FrameError("bad_request", '"subscribe" needs a "topic".')
        return Request(
            kind="subscribe", topic=_topic(content["topic"]), since=_since(content.get("since"))
        )
    if kind == "unsubscribe":
        if "topic" not in content:
            raise FrameError("bad_request", '"unsubscribe" needs a "topic".')
        return Request(kind="unsubscribe", topic=_topic(content["topic"]))
    raise FrameError("unknown_type", "Unknown frame type.")


class SlidingWindow:
    """Counts events in the last ``seconds``; ``hit()`` says whether ``limit`` is exceeded."""

    __slots__ = ("limit", "seconds", "times")

    def __init__(self, *, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.times: deque[float] = deque(maxlen=limit + 1)

    def hit(self) -> bool:
        now = time.monotonic()
        self.times.append(now)
        return len(self.times) > self.limit and now - self.times[0] < self.seconds


def error_frame(code: str, message: str) -> dict:
    return {"type": "error", "code": code, "message": message}
