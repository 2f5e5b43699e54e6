"""Authentication of /ws/: header, query and first frame; every refusal and its close code."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

import realtime.consumers
from realtime.choices import CloseCode

from .conftest import access_token, db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("via", ["header", "query", "frame"])
async def test_each_way_of_authenticating_answers_authenticated(clients, cashier, via):
    token = await db(access_token)(cashier)
    client = await clients.open(token=token, via=via)
    frame = await client.receive()
    assert frame["type"] == "authenticated"
    assert frame["user"] == {
        "id": cashier.pk,
        "username": "carla",
        "display_name": "Carla Cruz",
        "roles": ["cashier"],
    }
    expires = dt.datetime.fromisoformat(frame["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - dt.datetime.now(dt.UTC) <= timedelta(minutes=15)
    assert frame["expires_at"].endswith("Z")
    await client.subscribe("payment_status")  # and the connection is usable


async def _refresh(user) -> str:
    return str(await db(RefreshToken.for_user)(user))


async def _tampered(user) -> str:
    token = await db(access_token)(user)
    head, payload, signature = token.split(".")
    return ".".join(
        [head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
    )


async def _expired(user) -> str:
    return await db(access_token)(user, lifetime=-timedelta(seconds=5))


@pytest.mark.parametrize("via", ["header", "query", "frame"])
@pytest.mark.parametrize(
    "make_token", [_refresh, _tampered, _expired], ids=["refresh", "tampered", "expired"]
)
async def test_bad_tokens_close_4401(clients, sales, via, make_token):
    client = await clients.open(token=await make_token(sales), via=via)
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED


async def test_garbage_and_foreign_scheme_close_4401(clients):
    client = await clients.open(token="not-a-jwt", via="query")
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED
    client = await clients.open(token="", via="query")  # offered, and empty: not "none"
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED
    client = await clients.open(headers=[(b"authorization", b"Token c2FtOnB3")])
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED


async def test_a_browsers_basic_credentials_for_a_proxy_are_looked_past(clients, sales):
    # A staging site behind a proxy's basic auth: the browser sends those credentials with
    # the handshake by itself; the page then authenticates with its first frame.
    basic = [(b"authorization", b"Basic c2FtOnB3")]
    client = await clients.open(user=sales, via="frame", headers=basic)
    assert (await client.subscribe("transactions"))["type"] == "subscribed"


async def test_inactive_user_closes_4401(clients, inactive):
    client = await clients.open(token=await db(access_token)(inactive), via="frame")
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED


async def test_user_without_role_closes_4403(clients, nobody):
    client = await clients.open(token=await db(access_token)(nobody))
    assert await client.receive_close() == CloseCode.FORBIDDEN


async def test_no_authentication_in_time_closes_4408(clients, monkeypatch):
    monkeypatch.setattr(realtime.consumers, "AUTH_TIMEOUT_SECONDS", 0.3)
    client = await clients.open()
    await client.roundtrip()  # ping is answered before authentication
    assert await client.receive_close(timeout=3) == CloseCode.AUTH_TIMEOUT


async def test_requests_before_authentication_are_forbidden(clients, admin_user):
    client = await clients.open()
    await client.send({"type": "subscribe", "topic": "payment_status"})
    assert await client.receive() == {
        "type": "error",
        "code": "forbidden",
        "message": "Authenticate first.",
    }
    await client.send({"type": "authenticate", "token": await db(access_token)(admin_user)})
    assert (await client.receive())["type"] == "authenticated"
    await client.subscribe("payment_status")


async def test_expiry_closes_4401(clients, admin_user):
    # exp is whole seconds (rounded down): a 3 s token lives 2 to 3 s, time enough for the
    # authenticated frame even on a busy machine.
    token = await db(access_token)(admin_user, lifetime=timedelta(seconds=3))
    client = await clients.open(token=token)
    assert (await client.receive())["type"] == "authenticated"
    assert await client.receive_close(timeout=6) == CloseCode.UNAUTHENTICATED


async def test_reauthenticating_extends_the_connection(clients, admin_user):
    short = await db(access_token)(admin_user, lifetime=timedelta(seconds=3))
    client = await clients.open(token=short)
    first = await client.receive()
    await client.send({"type": "authenticate", "token": await db(access_token)(admin_user)})
    second = await client.receive()
    assert second["type"] == "authenticated"
    assert second["expires_at"] > first["expires_at"]
    await client.nothing(3.5)  # past the first token's expiry: still open
    await client.roundtrip()


async def test_reauthenticating_as_someone_else_is_refused(clients, admin_user, sales):
    client = await clients.open(user=sales)
    await client.send({"type": "authenticate", "token": await db(access_token)(admin_user)})
    frame = await client.receive()
    assert frame["type"] == "error" and frame["code"] == "forbidden"
    await client.roundtrip()


async def test_reauthenticating_with_a_bad_token_closes_4401(clients, sales):
    client = await clients.open(user=sales)
    await client.send({"type": "authenticate", "token": await _expired(sales)})
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED


@pytest.mark.parametrize("token", ["\ud800", "ey\u00e9.x.y"], ids=["surrogate", "not-ascii"])
async def test_a_token_that_is_not_ascii_closes_4401_not_1011(clients, sales, token):
    """PyJWT raised UnicodeEncodeError on a lone surrogate: a server fault (1011, with a
    traceback logged), after which the client would keep retrying."""
    client = await clients.open(token=token, via="frame")
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED
    client = await clients.open(user=sales)
    await client.send({"type": "authenticate", "token": token})
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED


async def test_foreign_browser_origin_is_refused_own_origin_accepted(admin_user):
    from channels.testing import WebsocketCommunicator

    from realtime.routing import websocket_application

    foreign = WebsocketCommunicator(
        websocket_application, "/ws/", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await foreign.connect()
    assert not connected
    own = WebsocketCommunicator(
        websocket_application, "/ws/", headers=[(b"origin", b"http://localhost:8000")]
    )
    connected, _ = await own.connect()
    assert connected
    await own.disconnect()


async def test_reauthenticating_picks_up_new_roles(clients, sales, sales2, make_transaction):
    from django.contrib.auth.models import Group, User

    client = await clients.open(user=sales)
    await client.subscribe("transactions")
    await db(make_transaction)("100.00", created_by=sales2)  # the cashiers' queue: not for sales
    await client.nothing(0.6)

    def make_cashier():
        sales.groups.add(Group.objects.get(name="cashier"))
        return access_token(User.objects.get(pk=sales.pk))

    await client.send({"type": "authenticate", "token": await db(make_cashier)()})
    assert (await client.receive())["user"]["roles"] == ["cashier", "sales"]
    queued = await db(make_transaction)("100.00", created_by=sales2)
    (frame,) = await client.receive_events(1)
    assert frame["data"]["transactionId"] == queued.pk


async def test_a_token_made_before_a_password_change_closes_4401(clients, sales):
    from escashop.auth_api import LoginSerializer

    token = str((await db(LoginSerializer.get_token)(sales)).access_token)

    def change_password():
        sales.set_password("another-password-789")
        sales.save()

    await db(change_password)()
    client = await clients.open(token=token, via="frame")
    assert await client.receive_close() == CloseCode.UNAUTHENTICATED
