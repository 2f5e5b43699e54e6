"""Client frames: ping, aliases, error frames for bad requests, 4400 and 4429 closes."""

from __future__ import annotations

import json

import pytest

from realtime.choices import CloseCode
from realtime.protocol import MAX_FRAME_BYTES

pytestmark = pytest.mark.django_db(transaction=True)


async def test_ping_pong(clients, sales):
    client = await clients.open(user=sales)
    await client.send({"type": "ping"})
    assert await client.receive() == {"type": "pong"}


@pytest.mark.parametrize("topic", ["payment_status", "transactions"])
async def test_subscribe_aliases(clients, sales, topic):
    client = await clients.open(user=sales)
    await client.send({"type": f"subscribe:{topic}"})
    frame = await client.receive()
    assert frame == {"type": "subscribed", "topic": topic, "last_event_id": 0}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ([1, 2], "bad_request"),
        ("subscribe", "bad_request"),
        ({"topic": "payment_status"}, "bad_request"),
        ({"type": 7}, "bad_request"),
        ({"type": "subscribe"}, "bad_request"),
        ({"type": "subscribe", "topic": 3}, "bad_request"),
        ({"type": "subscribe", "topic": "payment_status", "since": -1}, "bad_request"),
        ({"type": "subscribe", "topic": "payment_status", "since": "41"}, "bad_request"),
        ({"type": "subscribe", "topic": "payment_status", "since": True}, "bad_request"),
        ({"type": "subscribe", "topic": "payment_status", "since": 4.5}, "bad_request"),
        ({"type": "unsubscribe"}, "bad_request"),
        ({"type": "authenticate"}, "bad_request"),
        ({"type": "authenticate", "token": 5}, "bad_request"),
        ({"type": "subscribe", "topic": "orders"}, "unknown_topic"),
        ({"type": "unsubscribe", "topic": "orders"}, "unknown_topic"),
        ({"type": "publish", "topic": "payment_status"}, "unknown_type"),
    ],
)
async def test_invalid_requests_get_an_error_frame_and_stay_open(clients, sales, frame, code):
    client = await clients.open(user=sales)
    await client.send(frame)
    reply = await client.receive()
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert isinstance(reply["message"], str) and reply["message"]
    await client.roundtrip()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{",
        '{"type": "ping"',
        "\x00",
        '{"type":"ping"}{"type":"ping"}',
        '{"type":"ping","x":NaN}',
        "-Infinity",
    ],
)
async def test_non_json_closes_4400(clients, sales, text):
    client = await clients.open(user=sales)
    await client.send_text(text)
    assert await client.receive_close() == CloseCode.PROTOCOL_ERROR


@pytest.mark.parametrize(
    "text",
    [
        "[" * 20000 + "]" * 20000,  # past the recursion limit
        '{"type":"ping","x":' + "[" * 3000 + "]" * 3000 + "}",
        '{"type":"subscribe","topic":"payment_status","since":'
        + "9" * 5000
        + "}",  # > 4,300 digits
    ],
    ids=["deep-array", "deep-object", "long-number"],
)
async def test_json_past_what_python_reads_is_an_error_frame_not_a_close(clients, sales, text):
    """SPEC section 5: JSON that is not a valid request gets an error frame and the
    connection stays open; only what is not JSON (or over 64 KiB) closes it."""
    client = await clients.open(user=sales)
    await client.send_text(text)
    reply = await client.receive()
    assert (reply["type"], reply["code"]) == ("error", "bad_request")
    await client.roundtrip()


async def test_binary_frame_closes_4400(clients, sales):
    client = await clients.open(user=sales)
    await client.communicator.send_to(bytes_data=b'{"type":"ping"}')
    assert await client.receive_close() == CloseCode.PROTOCOL_ERROR


def _padded_ping(size: int, char: str = "x") -> str:
    base = json.dumps({"type": "ping", "pad": ""})
    pad_chars = (size - len(base.encode())) // len(char.encode())
    return json.dumps({"type": "ping", "pad": char * pad_chars}, ensure_ascii=False)


async def test_a_64_kib_frame_is_fine_one_byte_more_closes_4400(clients, sales):
    client = await clients.open(user=sales)
    exact = _padded_ping(MAX_FRAME_BYTES)
    assert len(exact.encode()) == MAX_FRAME_BYTES
    await client.send_text(exact)
    assert await client.receive() == {"type": "pong"}
    await client.send_text(_padded_ping(MAX_FRAME_BYTES + 1))
    assert await client.receive_close() == CloseCode.PROTOCOL_ERROR


async def test_oversized_in_bytes_though_short_in_characters_closes_4400(clients, sales):
    client = await clients.open(user=sales)
    text = _padded_ping(MAX_FRAME_BYTES + 4, char="€")  # 3 bytes per character
    assert len(text) < MAX_FRAME_BYTES < len(text.encode())
    await client.send_text(text)
    assert await client.receive_close() == CloseCode.PROTOCOL_ERROR


async def test_more_than_100_frames_in_10_seconds_closes_4429(clients, sales):
    client = await clients.open(user=sales)
    for _ in range(100):
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
    await client.send({"type": "ping"})
    assert await client.receive_close() == CloseCode.RATE_LIMITED


async def test_repeated_errors_close_4400(clients, sales):
    client = await clients.open(user=sales)
    for _ in range(10):
        await client.send({"type": "nonsense"})
        assert (await client.receive())["code"] == "unknown_type"
    await client.send({"type": "nonsense"})
    assert await client.receive_close() == CloseCode.PROTOCOL_ERROR


async def test_unsubscribe_stops_a_topic(clients, admin_user, make_transaction):
    from .conftest import db

    client = await clients.open(user=admin_user)
    await client.subscribe("transactions")
    await client.send({"type": "unsubscribe", "topic": "transactions"})
    await client.send({"type": "unsubscribe", "topic": "payment_status"})  # not subscribed: no-op
    await client.roundtrip()
    await db(make_transaction)("100.00")
    await client.nothing(0.8)  # neither live nor by catch-up
    await client.roundtrip()
