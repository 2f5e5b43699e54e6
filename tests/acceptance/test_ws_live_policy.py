"""SPEC sections 2, 3 and 5 on a live connection: "An inactive user can do nothing", "never
receives an event about it" — a user deactivated or stripped of a role while connected must
stop receiving events they may no longer see."""

from __future__ import annotations

import pytest

from .harness import expect_close
from .wsutil import Watcher

pytestmark = pytest.mark.integration


def _set(server, code: str) -> None:
    server.shell("from django.contrib.auth.models import Group, User\n" + code)


async def test_user_deactivated_while_connected_gets_nothing_more(server):
    _set(server, "User.objects.create_user('acc_live1', password='x-Acc-123456', is_active=True)"
         ".groups.add(Group.objects.get(name='cashier'))")  # fmt: skip

    r = server.login("acc_live1", "x-Acc-123456")
    assert r.status == 200, r
    server.tokens["acc_live1"] = r.json
    w = await Watcher(server, "acc_live1").open()
    _set(server, "User.objects.filter(username='acc_live1').update(is_active=False)")
    txn = server.transaction(user="acc_sales")  # in the cashiers' queue
    server.settle(txn["id"], "1.00", user="acc_admin")
    await w.drain(quiet=1.5, limit=4)
    assert w.about(txn["id"]) == [], [f["type"] for f in w.about(txn["id"])]
    assert w.ws.close_code in (None, 4401)
    await w.close()


async def test_role_removed_while_connected_gets_nothing_more(server):
    _set(server, "User.objects.create_user('acc_live2', password='x-Acc-123456')"
         ".groups.add(Group.objects.get(name='cashier'))")  # fmt: skip
    r = server.login("acc_live2", "x-Acc-123456")
    assert r.status == 200, r
    server.tokens["acc_live2"] = r.json
    w = await Watcher(server, "acc_live2").open()
    _set(server, "User.objects.get(username='acc_live2').groups.clear()")
    txn = server.transaction(user="acc_sales")  # in the cashiers' queue
    server.settle(txn["id"], "1.00", user="acc_admin")
    await w.drain(quiet=1.5, limit=4)
    assert w.about(txn["id"]) == [], [f["type"] for f in w.about(txn["id"])]
    assert w.ws.close_code in (None, 4401, 4403)
    await w.close()


async def test_token_of_a_deleted_user_closes_4401(server):
    _set(server, "User.objects.create_user('acc_live3', password='x-Acc-123456')"
         ".groups.add(Group.objects.get(name='sales'))")  # fmt: skip
    r = server.login("acc_live3", "x-Acc-123456")
    token = r.json["access"]
    _set(server, "User.objects.filter(username='acc_live3').delete()")
    from .harness import ws_open

    ws = await ws_open(server, headers={"Authorization": f"Bearer {token}"})
    assert await expect_close(ws) == 4401
    assert server.get("/api/auth/me/", token=token).status == 401
