"""Prometheus metrics of the real-time path (one registry per process; scrape each process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from transactions.choices import Role

from .choices import FrameType

WS_CONNECTIONS = Gauge(
    "escashop_ws_connections", "Open authenticated websocket connections, by role.", ["role"]
)
EVENTS_WRITTEN = Counter(
    "escashop_events_written_total", "Payment events written to the log.", ["frame_type"]
)
CHANNEL_LAYER_SEND_FAILURES = Counter(
    "escashop_channel_layer_send_failures_total",
    "group_send calls that failed after commit (clients then get the event from the log).",
)
FOREIGN_MESSAGES = Counter(
    "escashop_channel_layer_foreign_messages_total",
    "Channel-layer messages dropped as another deployment's (same Redis and channel prefix).",
)
FRAMES_SENT = Counter(
    "escashop_ws_event_frames_sent_total",
    "Event frames sent to websocket clients, by how they were found.",
    # live: from the channel layer; gap: read from the log while a lower id's message was
    # late; catchup: read by the once-a-second round; replay: asked for with ``since``.
    ["path"],
)
DELIVERY_LAG = Histogram(
    "escashop_event_delivery_lag_seconds",
    "From the event's creation to its frame being sent to a client (replays not counted).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HEALTH_CHECK_FAILURES = Counter(
    "escashop_health_check_failures_total",
    "/healthz checks that failed or timed out, by dependency.",
    ["check"],  # database | channel_layer
)

# Every series exists from the start at 0: Prometheus's increase() and rate() see the first
# failure or event of a process only as a step from a sample it already had.
for _role in [*Role.values, "none"]:
    WS_CONNECTIONS.labels(role=_role)
for _frame_type in FrameType.values:
    EVENTS_WRITTEN.labels(frame_type=_frame_type)
for _check in ("database", "channel_layer"):
    HEALTH_CHECK_FAILURES.labels(check=_check)
