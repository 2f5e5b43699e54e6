"""Access is re-checked on open connections (SPEC 2, 3, 5): the per-process hub reads every
local user's ``is_active`` and roles once a round; a user deactivated is closed 4401, one
left without a role 4403, and one who lost a role stops receiving that role's events."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.contrib.auth.models import Group, User

from escashop.auth_api import LoginSerializer
from realtime import delivery
from realtime.choices import CloseCode
from transactions.choices import Role

from .conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


async def _watch(clients, user):
    client = await clients.open(user=user)
    await client.subscribe("transactions")
    return client


def _deactivate(user) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def _drop_group(user, name: str) -> None:
    user.groups.remove(Group.objects.get(name=name))


def _add_group(user, name: str) -> None:
    user.groups.add(Group.objects.get_or_create(name=name)[0])


async def test_user_deactivated_while_connected_is_closed_4401(clients, cashier, make_transaction):
    client = await _watch(clients, cashier)
    await db(make_transaction)("10.00")  # the cashiers' queue: this cashier sees it
    assert (await client.receive())["type"] == "transaction_updated"
    await db(_deactivate)(cashier)
    assert await client.receive_close(timeout=3.0) == CloseCode.UNAUTHENTICATED
    await db(make_transaction)("11.00")
    await client.nothing(0.5)


async def test_user_left_without_a_role_is_closed_4403(clients, cashier, make_transaction):
    client = await _watch(clients, cashier)
    await db(_drop_group)(cashier, "cashier")
    assert await client.receive_close(timeout=3.0) == CloseCode.FORBIDDEN
    await db(make_transaction)("12.00")
    await client.nothing(0.5)


async def test_role_removed_while_connected_stops_that_roles_events(
    clients, sales, sales2, make_transaction
):
    await db(_add_group)(sales2, "cashier")
    client = await _watch(clients, sales2)
    pool = await db(make_transaction)("10.00", created_by=sales)
    frame = await client.receive()
    assert frame["data"]["transactionId"] == pool.pk  # a cashier sees the queue
    await db(_drop_group)(sales2, "cashier")
    await client.nothing(1.0)  # several re-check rounds (0.2 s each in tests)
    await db(make_transaction)("11.00", created_by=sales)  # the queue: no longer theirs
    own = await db(make_transaction)("12.00", created_by=sales2)
    frame = await client.receive()
    assert frame["data"]["transactionId"] == own.pk  # still a sales agent: still connected
    await client.nothing(0.6)


async def test_user_deactivated_before_subscribing_is_closed_4401(clients, cashier):
    client = await clients.open(user=cashier)
    await db(_deactivate)(cashier)
    await client.send({"type": "subscribe", "topic": "transactions", "since": 0})
    assert await client.receive_close(timeout=3.0) == CloseCode.UNAUTHENTICATED


@pytest.mark.parametrize("change", ["deactivate", "drop-role"])
async def test_an_event_written_after_an_access_change_never_reaches_that_user(
    clients, cashier, admin_user, make_transaction, settings, change
):
    # No round falls in between (60 s apart): the check made for the event itself, started
    # by the writer with the event's INSERT (realtime.delivery.access_check_due), catches it.
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    client = await _watch(clients, cashier)
    admin = await _watch(clients, admin_user)
    await db(make_transaction)("10.00")  # the cashiers' queue: this cashier sees it
    assert (await client.receive())["type"] == "transaction_updated"
    assert (await admin.receive())["type"] == "transaction_updated"
    if change == "deactivate":
        await db(_deactivate)(cashier)
    else:
        await db(_drop_group)(cashier, "cashier")
    txn = await db(make_transaction)("11.00")
    frame = await admin.receive()  # the event went out live to who may see it ...
    assert frame["data"]["transactionId"] == txn.pk
    closed = await client.receive_close(timeout=3.0)  # ... and this user is closed instead
    expected = CloseCode.UNAUTHENTICATED if change == "deactivate" else CloseCode.FORBIDDEN
    assert closed == expected


@pytest.mark.parametrize("change", ["deactivate", "drop-role"])
async def test_a_replay_sends_nothing_written_after_an_access_change(
    clients, cashier, make_transaction, monkeypatch, change
):
    """Each page of a replay checks access itself, after it was read (the hub's re-check,
    which the connection joins before its replay, may act on the change first)."""
    before = await db(make_transaction)("10.00")  # the cashiers' queue: this cashier sees it
    real, written = delivery.payment_events_replay, []

    def replay_page(user, **kwargs):
        if not written:  # between the subscribe's own access check and the page's read
            if change == "deactivate":
                _deactivate(cashier)
            else:
                _drop_group(cashier, "cashier")
            written.append(make_transaction("11.00"))
        return real(user, **kwargs)

    monkeypatch.setattr(delivery, "payment_events_replay", replay_page)
    client = await clients.open(user=cashier)
    await client.send({"type": "subscribe", "topic": "transactions", "since": 0})
    assert (await client.receive())["type"] == "subscribed"
    frames = []
    while (output := await client.communicator.receive_output(3.0))["type"] == "websocket.send":
        frames.append(json.loads(output["text"]))
    expected = CloseCode.UNAUTHENTICATED if change == "deactivate" else CloseCode.FORBIDDEN
    assert output.get("code") == expected
    for _ in range(50):  # the hub may have closed the socket while the page was being read
        if written:
            break
        await asyncio.sleep(0.1)
    assert written
    assert all(f["data"]["transactionId"] != written[0].pk for f in frames), frames
    assert {f["data"]["transactionId"] for f in frames} <= {before.pk}


@pytest.fixture
def hub_checks(monkeypatch) -> list[int]:
    """One item per access check the hub runs itself (CatchupHub._recheck_access)."""
    checks: list[int] = []
    real = delivery.CatchupHub._recheck_access

    async def counted(self):
        checks.append(1)
        await real(self)

    monkeypatch.setattr(delivery.CatchupHub, "_recheck_access", counted)
    return checks


async def test_the_writers_own_check_covers_its_events(
    clients, cashier, make_transaction, settings, hub_checks
):
    """The process that writes an event reads its sockets' users' access with the event's
    INSERT (realtime.delivery.access_check_due): its sockets get the frame without the hub
    running a check of its own."""
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    client = await _watch(clients, cashier)
    txn = await db(make_transaction)("10.00")
    frame = await client.receive()
    assert frame["data"]["transactionId"] == txn.pk
    assert hub_checks == []


async def test_a_process_with_many_sockets_leaves_the_check_to_the_hub(
    clients, cashier, make_transaction, settings, monkeypatch, hub_checks
):
    """Beyond WRITER_CHECK_MAX_CONNECTIONS a write does not read every socket's user: its
    events wait for the hub's check, which concurrent writes share."""
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    monkeypatch.setattr(delivery, "WRITER_CHECK_MAX_CONNECTIONS", 1)
    client = await _watch(clients, cashier)
    await _watch(clients, cashier)
    txn = await db(make_transaction)("10.00")
    assert (await client.receive())["data"]["transactionId"] == txn.pk
    assert hub_checks  # the relay had the hub check before it sent the frame


@pytest.mark.parametrize("change", ["deactivate", "drop-role"])
async def test_an_event_that_comes_without_the_writers_check_waits_for_the_hubs(
    clients, cashier, admin_user, make_transaction, settings, monkeypatch, change
):
    """As an event written by another process arrives: the relay has access checked itself
    before it sends it."""
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    client = await _watch(clients, cashier)
    admin = await _watch(clients, admin_user)
    monkeypatch.setattr(delivery, "access_check_due", lambda loop, written: None)
    if change == "deactivate":
        await db(_deactivate)(cashier)
    else:
        await db(_drop_group)(cashier, "cashier")
    txn = await db(make_transaction)("11.00")
    frame = await admin.receive()
    assert frame["data"]["transactionId"] == txn.pk
    expected = CloseCode.UNAUTHENTICATED if change == "deactivate" else CloseCode.FORBIDDEN
    assert await client.receive_close(timeout=3.0) == expected


def test_an_older_access_read_is_not_applied_over_a_newer_one(cashier):
    """A writer's check and the hub's may overlap: whichever began later decides."""
    conn = delivery.ConnectionDelivery(
        user=cashier, roles=frozenset({Role.CASHIER, Role.SALES}), send=lambda text: None
    )
    hub = delivery.CatchupHub(loop=None)
    newer = delivery.AccessRead(
        started=20.0, conns=(conn,), roles={cashier.pk: frozenset({Role.SALES})}
    )
    older = delivery.AccessRead(
        started=10.0, conns=(conn,), roles={cashier.pk: frozenset({Role.CASHIER, Role.SALES})}
    )
    hub.access_read(newer)
    assert conn.roles == {Role.SALES}
    hub.access_read(older)  # finished later, read earlier: the cashier role is gone
    assert conn.roles == {Role.SALES}
    assert hub.checked_at == 20.0


def _login_token(user) -> str:
    """An access token as the login makes it now: with the user's password claim."""
    return str(LoginSerializer.get_token(User.objects.get(pk=user.pk)).access_token)


def _change_password(user, password: str) -> None:
    user = User.objects.get(pk=user.pk)
    user.set_password(password)
    user.save(update_fields=["password"])


async def test_a_password_change_closes_a_socket_opened_with_an_older_login(
    clients, cashier, make_transaction
):
    """The API refused the old tokens at once (401 password_changed) while a socket opened
    with one went on receiving every event until the token expired."""
    old = await clients.open(user=cashier, token=await db(_login_token)(cashier))
    await old.send({"type": "subscribe", "topic": "transactions"})
    assert (await old.receive())["type"] == "subscribed"
    await db(_change_password)(cashier, "a-new-password-123")
    assert await old.receive_close(timeout=3.0) == CloseCode.UNAUTHENTICATED
    # A login after the change opens a socket that stays open and gets the events.
    new = await clients.open(user=cashier, token=await db(_login_token)(cashier))
    await new.send({"type": "subscribe", "topic": "transactions"})
    assert (await new.receive())["type"] == "subscribed"
    txn = await db(make_transaction)("10.00")  # the cashiers' queue
    assert (await new.receive())["data"]["transactionId"] == txn.pk
    await old.nothing(0.3)


async def test_an_event_after_a_password_change_never_reaches_the_old_socket(
    clients, cashier, admin_user, make_transaction, settings
):
    # No hub round in between: the writer's own check, with the event's INSERT, catches it.
    settings.ESCASHOP_CATCHUP_SECONDS = 60
    client = await clients.open(user=cashier, token=await db(_login_token)(cashier))
    await client.send({"type": "subscribe", "topic": "transactions"})
    assert (await client.receive())["type"] == "subscribed"
    admin = await _watch(clients, admin_user)
    await db(_change_password)(cashier, "a-new-password-123")
    txn = await db(make_transaction)("11.00")
    assert (await admin.receive())["data"]["transactionId"] == txn.pk
    assert await client.receive_close(timeout=3.0) == CloseCode.UNAUTHENTICATED


async def test_a_subscribe_after_a_password_change_is_closed(clients, cashier):
    client = await clients.open(user=cashier, token=await db(_login_token)(cashier))
    await db(_change_password)(cashier, "a-new-password-123")
    await client.send({"type": "subscribe", "topic": "transactions", "since": 0})
    assert await client.receive_close(timeout=3.0) == CloseCode.UNAUTHENTICATED


async def test_a_token_made_without_the_claim_is_not_ended_by_a_password_change(
    clients, cashier, make_transaction
):
    """An operator's token (simplejwt's defaults, no claim) is not the login's: the API does
    not refuse it after a password change, and neither does the socket."""
    client = await _watch(clients, cashier)
    await db(_change_password)(cashier, "a-new-password-123")
    txn = await db(make_transaction)("12.00")
    assert (await client.receive())["data"]["transactionId"] == txn.pk
