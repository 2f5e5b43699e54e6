"""SPEC section 5 (websocket protocol): the three ways to authenticate, the `authenticated`
frame, every close code, error frames, aliases, ping, subscribe/unsubscribe."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

import jwt
import pytest
import websockets

from .harness import expect_close, recv, recv_text, send, ws_open

pytestmark = pytest.mark.integration


def mint(server, user: str, *, seconds: float) -> str:
    """An access token for `user` that expires in `seconds`, signed like the server's own
    (the operator knows DJANGO_SECRET_KEY; simplejwt's default HS256 claims)."""
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + int(seconds),
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(server.user_ids[user]),
    }
    return jwt.encode(claims, server.env["DJANGO_SECRET_KEY"], algorithm="HS256")


def _check_authenticated(server, frame: dict, user: str) -> None:
    assert frame["type"] == "authenticated", frame
    assert set(frame) == {"type", "user", "expires_at"}, frame
    assert frame["user"]["id"] == server.user_ids[user]
    assert frame["user"]["username"] == user
    expires = dt.datetime.fromisoformat(frame["expires_at"].replace("Z", "+00:00"))
    assert expires.tzinfo is not None
    exp = jwt.decode(server.access(user), options={"verify_signature": False})["exp"]
    assert abs(expires.timestamp() - exp) < 1.5, (frame["expires_at"], exp)


async def test_authenticate_by_header(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_sales')}"})
    _check_authenticated(server, await recv(ws), "acc_sales")
    await send(ws, {"type": "subscribe", "topic": "payment_status"})
    assert (await recv(ws))["type"] == "subscribed"
    await ws.close()


async def test_authenticate_by_query(server):
    ws = await ws_open(server, query=f"?token={server.access('acc_cashier')}")
    _check_authenticated(server, await recv(ws), "acc_cashier")
    await ws.close()


async def test_authenticate_by_first_frame(server):
    ws = await ws_open(server)
    await send(ws, {"type": "authenticate", "token": server.access("acc_admin")})
    frame = await recv(ws)
    _check_authenticated(server, frame, "acc_admin")
    assert frame["user"]["roles"] == ["admin"]
    await ws.close()


@pytest.mark.parametrize("how", ["header", "query", "frame"])
@pytest.mark.parametrize("what", ["refresh", "garbage", "expired"])
async def test_bad_token_closes_4401(server, how, what):
    token = {
        "refresh": server.refresh("acc_admin"),
        "garbage": "not-a-token",
        "expired": mint(server, "acc_admin", seconds=-60),
    }[what]
    if how == "header":
        ws = await ws_open(server, headers={"Authorization": f"Bearer {token}"})
    elif how == "query":
        ws = await ws_open(server, query=f"?token={token}")
    else:
        ws = await ws_open(server)
        await send(ws, {"type": "authenticate", "token": token})
    assert await expect_close(ws) == 4401


async def test_inactive_user_closes_4401(server):
    token = mint(server, "acc_inactive", seconds=300)
    ws = await ws_open(server, headers={"Authorization": f"Bearer {token}"})
    assert await expect_close(ws) == 4401
    ws = await ws_open(server)
    await send(ws, {"type": "authenticate", "token": token})
    assert await expect_close(ws) == 4401


@pytest.mark.parametrize("how", ["header", "frame"])
async def test_no_role_closes_4403(server, how):
    token = server.access("acc_nobody")
    if how == "header":
        ws = await ws_open(server, headers={"Authorization": f"Bearer {token}"})
    else:
        ws = await ws_open(server)
        await send(ws, {"type": "authenticate", "token": token})
    assert await expect_close(ws) == 4403


async def test_superuser_may_use_the_websocket(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_super')}"})
    frame = await recv(ws)
    assert frame["type"] == "authenticated"
    assert "admin" in frame["user"]["roles"], frame
    await ws.close()


async def test_expiry_closes_4401_unless_extended(server):
    """A token that expires closes the socket with 4401; a fresh token for the same user
    sent as `authenticate` extends it."""

    async def lapsing() -> int | None:
        ws = await ws_open(server)
        await send(ws, {"type": "authenticate", "token": mint(server, "acc_cashier", seconds=3)})
        assert (await recv(ws))["type"] == "authenticated"
        started = time.monotonic()
        code = await expect_close(ws, timeout=7)
        assert time.monotonic() - started > 1.0
        return code

    async def extended() -> None:
        ws = await ws_open(server)
        await send(ws, {"type": "authenticate", "token": mint(server, "acc_cashier", seconds=3)})
        assert (await recv(ws))["type"] == "authenticated"
        await asyncio.sleep(1)
        await send(ws, {"type": "authenticate", "token": server.access("acc_cashier")})
        frame = await recv(ws)
        assert frame["type"] == "authenticated", frame
        assert frame["expires_at"] > dt.datetime.now(dt.UTC).isoformat()[:16]
        await asyncio.sleep(4)
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        await ws.close()

    code, _ = await asyncio.gather(lapsing(), extended())
    assert code == 4401


async def test_no_authentication_within_10s_closes_4408(server):
    async def silent() -> tuple[int | None, float]:
        ws = await ws_open(server)
        started = time.monotonic()
        # Pings are allowed before authenticating, but do not count as authentication.
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        return await expect_close(ws, timeout=14), time.monotonic() - started

    async def authenticated_by_frame() -> None:
        ws = await ws_open(server)
        await send(ws, {"type": "authenticate", "token": server.access("acc_sales")})
        assert (await recv(ws))["type"] == "authenticated"
        await asyncio.sleep(11.5)
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        await ws.close()

    (code, elapsed), _ = await asyncio.gather(silent(), authenticated_by_frame())
    assert code == 4408
    assert 9.0 <= elapsed <= 13.0, elapsed


async def test_more_than_100_frames_in_10s_closes_4429(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_admin')}"})
    assert (await recv(ws))["type"] == "authenticated"
    for _ in range(100):
        await send(ws, {"type": "ping"})
    pongs = 0
    for _ in range(100):
        assert await recv(ws) == {"type": "pong"}
        pongs += 1
    assert pongs == 100  # 100 frames are within the limit
    try:
        for _ in range(5):
            await send(ws, {"type": "ping"})
    except websockets.ConnectionClosed:
        pass
    assert await expect_close(ws) == 4429


async def test_non_json_closes_4400(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_admin')}"})
    assert (await recv(ws))["type"] == "authenticated"
    await ws.send("this is not json")
    assert await expect_close(ws) == 4400


async def test_binary_frame_closes_4400(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_admin')}"})
    assert (await recv(ws))["type"] == "authenticated"
    await ws.send(b'{"type":"ping"}')
    assert await expect_close(ws) == 4400


async def test_oversized_frame_closes_4400_and_64kib_is_fine(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_admin')}"})
    assert (await recv(ws))["type"] == "authenticated"
    base = len(json.dumps({"type": "ping", "pad": ""}))
    exact = json.dumps({"type": "ping", "pad": "x" * (64 * 1024 - base)})
    assert len(exact.encode()) == 64 * 1024
    await ws.send(exact)
    assert await recv(ws) == {"type": "pong"}
    await ws.send(json.dumps({"type": "ping", "pad": "x" * (64 * 1024)}))
    assert await expect_close(ws) == 4400


async def test_repeated_errors_close_4400(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_admin')}"})
    assert (await recv(ws))["type"] == "authenticated"
    errors = 0
    code = None
    for _ in range(60):
        try:
            await send(ws, {"type": "nonsense"})
            frame = await recv(ws)
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            break
        assert frame["type"] == "error", frame
        errors += 1
    assert code == 4400, (code, errors)
    assert errors >= 3  # a few mistakes are tolerated


async def test_error_frames_keep_the_connection_open(server):
    ws = await ws_open(server)
    # Before authenticating, subscribing is refused with `forbidden`.
    await send(ws, {"type": "subscribe", "topic": "payment_status"})
    frame = await recv(ws)
    assert frame["type"] == "error" and frame["code"] == "forbidden", frame
    await send(ws, {"type": "authenticate", "token": server.access("acc_admin")})
    assert (await recv(ws))["type"] == "authenticated"
    cases = [
        ({"type": "subscribe"}, "bad_request"),
        ({"type": "subscribe", "topic": 5}, "bad_request"),
        ({"type": "subscribe", "topic": "payment_status", "since": "x"}, "bad_request"),
        ({"type": "subscribe", "topic": "payment_status", "since": -1}, "bad_request"),
        ({"no": "type"}, "bad_request"),
        ({"type": "launch_missiles"}, "unknown_type"),
        ({"type": "subscribe", "topic": "weather"}, "unknown_topic"),
        ({"type": "unsubscribe", "topic": "weather"}, "unknown_topic"),
    ]
    for request, code in cases:
        await send(ws, request)
        frame = await recv(ws)
        assert frame["type"] == "error", (request, frame)
        assert frame["code"] == code, (request, frame)
        assert isinstance(frame["message"], str) and frame["message"], frame
        assert set(frame) == {"type", "code", "message"}, frame
    await send(ws, {"type": "ping"})
    assert await recv(ws) == {"type": "pong"}
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "topic"),
    [
        ({"type": "subscribe", "topic": "payment_status"}, "payment_status"),
        ({"type": "subscribe", "topic": "transactions"}, "transactions"),
        ({"type": "subscribe:payment_status"}, "payment_status"),
        ({"type": "subscribe:transactions"}, "transactions"),
    ],
)
async def test_subscribed_frame(server, frame, topic):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_sales')}"})
    assert (await recv(ws))["type"] == "authenticated"
    await send(ws, frame)
    text = await recv_text(ws)
    got = json.loads(text)
    assert got["type"] == "subscribed" and got["topic"] == topic, got
    assert set(got) == {"type", "topic", "last_event_id"}, got
    assert isinstance(got["last_event_id"], int) and got["last_event_id"] >= 0
    await ws.close()


async def test_since_in_the_future_or_pruned_asks_for_resync(server):
    ws = await ws_open(server, headers={"Authorization": f"Bearer {server.access('acc_admin')}"})
    assert (await recv(ws))["type"] == "authenticated"
    await send(ws, {"type": "subscribe", "topic": "payment_status", "since": 10**12})
    frame = await recv(ws)
    assert frame == {"type": "resync_required", "topic": "payment_status"}, frame
    # The client then subscribes without `since`.
    await send(ws, {"type": "subscribe", "topic": "payment_status"})
    assert (await recv(ws))["type"] == "subscribed"
    await ws.close()


async def test_foreign_origin_is_refused(server):
    token = server.access("acc_admin")
    try:
        ws = await ws_open(
            server, headers={"Origin": "http://evil.example", "Authorization": f"Bearer {token}"}
        )
    except (websockets.InvalidStatus, websockets.InvalidHandshake):
        return  # refused at the handshake
    try:
        frame = await recv(ws, timeout=3)
    except websockets.ConnectionClosed:
        return
    raise AssertionError(f"a foreign origin got {frame}")


async def test_same_origin_is_allowed(server):
    ws = await ws_open(
        server,
        headers={
            "Origin": server.base_url,
            "Authorization": f"Bearer {server.access('acc_admin')}",
        },
    )
    assert (await recv(ws))["type"] == "authenticated"
    await ws.close()
