"""SPEC section 6 (delivery guarantees), observed from websocket clients: exactly one
`payment_status_updated` per change, `transaction_updated` for every change, id order,
audience = who could see the transaction before or after, reconnect with `since`."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from .harness import recv_text, send
from .wsutil import CATCHUP_ROUND, Watcher, kinds

pytestmark = pytest.mark.integration


def _by_topic(frames: list[dict]) -> tuple[list[dict], list[dict]]:
    psu = [f for f in frames if f["type"] == "payment_status_updated"]
    tu = [f for f in frames if f["type"] == "transaction_updated"]
    return psu, tu


async def test_exactly_one_event_per_change(server):
    w = await Watcher(server, "acc_admin").open()
    txn = server.transaction(user="acc_sales", amount="1000.00")
    tid = txn["id"]
    assert server.settle(tid, "100.00", user="acc_cashier").status == 201
    assert server.patch(f"/api/transactions/{tid}/", {"cashier": server.user_ids["acc_cashier2"]},
                        user="acc_admin").status == 200  # fmt: skip
    assert (
        server.patch(f"/api/transactions/{tid}/", {"amount": "1000.00"}, user="acc_admin").status
        == 200
    )  # fmt: skip  (no change)
    assert server.patch(f"/api/transactions/{tid}/", {"amount": "2000.00"},
                        user="acc_admin").status == 200  # fmt: skip
    s2 = server.settle(tid, "50.00", user="acc_cashier2").json
    assert server.post(f"/api/settlements/{s2['id']}/void/", {"reason": "x"},
                       user="acc_admin").status == 200  # fmt: skip
    # Refused writes roll back and emit nothing.
    assert server.settle(tid, "999999.00", user="acc_cashier2").status == 400
    assert server.post(f"/api/settlements/{s2['id']}/void/", {"reason": "again"},
                       user="acc_admin").status in (400, 409)  # fmt: skip
    assert server.patch(f"/api/transactions/{tid}/", {"amount": "1.00"},
                        user="acc_admin").status == 400  # fmt: skip
    await w.drain(quiet=1.2)
    psu, tu = _by_topic(w.about(tid))
    assert [(f["data"]["payment_status"], f["data"]["previous_status"], f["data"]["paid_amount"])
            for f in psu] == [
        ("partial", "unpaid", 100), ("partial", "partial", 100),
        ("partial", "partial", 150), ("partial", "partial", 100),
    ], psu  # fmt: skip
    assert kinds(tu)[:3] == [
        "tu:transaction_created", "tu:payment_settlement_created", "tu:transaction_updated",
    ], kinds(tu)  # fmt: skip
    assert kinds(tu)[4] == "tu:payment_settlement_created", kinds(tu)
    assert len(tu) == 6, kinds(tu)
    for frames in (psu, tu):
        ids = [f["event_id"] for f in frames]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
    await w.close()


async def test_create_and_delete_emit_only_transaction_updated(server):
    w = await Watcher(server, "acc_admin").open()
    txn = server.transaction(user="acc_sales")
    assert server.delete(f"/api/transactions/{txn['id']}/", user="acc_admin").status == 204
    await w.wait_for(lambda f: f["data"].get("transactionId") == txn["id"]
                     and f["data"].get("type") == "transaction_deleted")  # fmt: skip
    await w.drain(quiet=CATCHUP_ROUND)
    assert kinds(w.about(txn["id"])) == ["tu:transaction_created", "tu:transaction_deleted"]
    await w.close()


async def test_audience_is_who_could_see_before_or_after(server):
    users = ["acc_admin", "acc_super", "acc_sales", "acc_sales2", "acc_cashier",
             "acc_cashier2", "acc_multi"]  # fmt: skip
    watchers = {u: await Watcher(server, u).open() for u in users}
    txn = server.transaction(user="acc_sales", amount="300.00")
    tid = txn["id"]
    server.settle(tid, "100.00", user="acc_cashier")  # leaves the queue: cashier2 sees this one
    server.settle(tid, "100.00", user="acc_cashier")  # ... but not this one
    await watchers["acc_admin"].wait_for(
        lambda f: f["type"] == "payment_status_updated" and f["data"].get("transactionId") == tid
        and f["data"]["paid_amount"] == 200)  # fmt: skip
    await asyncio.sleep(CATCHUP_ROUND)  # a duplicate from the catch-up would be in by now
    for w in watchers.values():
        await w.drain(quiet=0.3, limit=3)
    seen = {u: kinds(w.about(tid)) for u, w in watchers.items()}
    everything = seen["acc_admin"]
    assert sorted(everything) == sorted(
        ["tu:transaction_created"] + ["payment_status_updated", "tu:payment_settlement_created"] * 2
    ), everything
    assert seen["acc_super"] == everything
    assert seen["acc_sales"] == everything
    assert seen["acc_cashier"] == everything
    assert seen["acc_sales2"] == []
    assert sorted(seen["acc_cashier2"]) == sorted(
        ["tu:transaction_created", "payment_status_updated", "tu:payment_settlement_created"]
    ), seen["acc_cashier2"]
    assert sorted(seen["acc_multi"]) == sorted(seen["acc_cashier2"]), seen["acc_multi"]
    for w in watchers.values():
        await w.close()


async def test_concurrent_settlements_arrive_once_each_in_commit_order(server):
    w = await Watcher(server, "acc_sales").open()
    txn = server.transaction(user="acc_sales", amount="100.00")
    tid = txn["id"]

    def pay(_: int) -> int:
        return server.settle(tid, "10.00", user="acc_cashier").status

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = await asyncio.to_thread(lambda: list(pool.map(pay, range(11))))
    assert sorted(statuses) == [201] * 10 + [400], statuses  # none lost, none overpays
    await w.wait_for(lambda f: f["type"] == "payment_status_updated"
                     and f["data"].get("transactionId") == tid
                     and f["data"]["payment_status"] == "paid")  # fmt: skip
    await w.drain(quiet=CATCHUP_ROUND)
    psu, tu = _by_topic(w.about(tid))
    assert [f["data"]["paid_amount"] for f in psu] == [10 * i for i in range(1, 11)]
    assert [f["data"]["transaction"]["paid_amount"] for f in tu[1:]] == [
        f"{10 * i}.00" for i in range(1, 11)]  # fmt: skip
    for frames in (psu, tu):
        ids = [f["event_id"] for f in frames]
        assert ids == sorted(ids) and len(ids) == len(set(ids))
    await w.close()


async def test_reconnect_with_since_loses_and_repeats_nothing(server):
    steady = await Watcher(server, "acc_admin").open()
    txn = server.transaction(user="acc_sales", amount="1000.00")
    tid = txn["id"]
    flaky = await Watcher(server, "acc_sales").open(topics=("payment_status",))

    def pay_all() -> None:
        for _ in range(12):
            assert server.settle(tid, "10.00", user="acc_cashier").status == 201

    writer = asyncio.create_task(asyncio.to_thread(pay_all))
    got: list[dict] = []
    while len(got) < 3:
        frame = json.loads(await recv_text(flaky.ws, 8))
        if frame.get("data", {}).get("transactionId") == tid:
            got.append(frame)
    await flaky.close()
    await asyncio.sleep(0.5)  # events keep committing while the client is away
    again = await Watcher(server, "acc_sales").open(
        topics=("payment_status",), since=got[-1]["event_id"]
    )
    await asyncio.wait_for(writer, 30)
    await again.wait_for(lambda f: f.get("data", {}).get("transactionId") == tid
                         and f["data"]["paid_amount"] == 120, timeout=8)  # fmt: skip
    await again.drain(quiet=CATCHUP_ROUND)
    got += again.about(tid)
    await steady.wait_for(lambda f: f["type"] == "payment_status_updated"
                          and f["data"].get("transactionId") == tid
                          and f["data"]["paid_amount"] == 120)  # fmt: skip
    expected = [f["event_id"] for f in steady.about(tid, "payment_status_updated")]
    assert [f["event_id"] for f in got] == expected
    assert [f["data"]["paid_amount"] for f in got] == [10 * i for i in range(1, 13)]
    await steady.close()
    await again.close()


async def test_unsubscribe_stops_the_topic(server):
    w = await Watcher(server, "acc_admin").open()
    await send(w.ws, {"type": "unsubscribe", "topic": "payment_status"})
    await w.drain(quiet=0.3)
    txn = server.transaction(user="acc_sales")
    server.settle(txn["id"], "10.00")
    await w.wait_for(lambda f: f["data"].get("transactionId") == txn["id"]
                     and f["data"].get("type") == "payment_settlement_created")  # fmt: skip
    await w.drain(quiet=CATCHUP_ROUND)
    assert kinds(w.about(txn["id"])) == [
        "tu:transaction_created", "tu:payment_settlement_created"]  # fmt: skip
    await w.close()


async def test_websocket_and_polling_serve_the_same_frames(server):
    w = await Watcher(server, "acc_admin").open()
    start = w.last_event_id["payment_status"]
    txn = server.transaction(user="acc_sales", amount="75.50")
    server.settle(txn["id"], "25.25")
    await w.wait_for(lambda f: f["type"] == "payment_status_updated"
                     and f["data"].get("transactionId") == txn["id"])  # fmt: skip
    await w.drain(quiet=1.5)  # the poll endpoint hands out events about a second after commit
    ws_raw = sorted(w.raw_about(txn["id"], "payment_status_updated")
                    + w.raw_about(txn["id"], "transaction_updated"))  # fmt: skip
    body = server.get(f"/api/payment-events/?after={start}&limit=500", user="acc_admin").text
    polled = [e for e in json.loads(body)["events"] if e["data"].get("transactionId") == txn["id"]]
    assert len(polled) == len(ws_raw) == 3
    compact = re.sub(r"\s", "", body)
    for raw in ws_raw:
        assert re.sub(r"\s", "", raw) in compact, raw


async def test_reassignment_audience_and_replay_follow_the_policy(server):
    """The reassignment is seen by the old and the new cashier; what follows only by the new
    one; a replay with `since` applies the same fixed audience; sales2 never sees any."""
    users = ["acc_cashier", "acc_cashier2", "acc_sales", "acc_sales2"]
    watchers = {u: await Watcher(server, u).open() for u in users}
    mark = watchers["acc_cashier"].last_event_id["payment_status"]
    txn = server.transaction(user="acc_sales", amount="100.00")
    tid = txn["id"]
    server.settle(tid, "10.00", user="acc_cashier")
    server.patch(f"/api/transactions/{tid}/", {"cashier": server.user_ids["acc_cashier2"]},
                 user="acc_admin")  # fmt: skip
    server.settle(tid, "10.00", user="acc_cashier2")
    server.post(f"/api/settlements/{server.settle(tid, '5.00', user='acc_admin').json['id']}/void/",
                {"reason": "x"}, user="acc_admin")  # fmt: skip
    await watchers["acc_sales"].wait_for(
        lambda f: f["type"] == "payment_status_updated" and f["data"].get("transactionId") == tid
        and f["data"]["settlement"]["voided"])  # fmt: skip
    await asyncio.sleep(CATCHUP_ROUND)  # a duplicate from the catch-up would be in by now
    for w in watchers.values():
        await w.drain(quiet=0.3, limit=3)
    live = {u: [f["event_id"] for f in w.about(tid)] for u, w in watchers.items()}
    everything = live["acc_sales"]
    assert len(everything) == 1 + 2 + 1 + 2 + 2 + 2, kinds(watchers["acc_sales"].about(tid))
    got = kinds(watchers["acc_cashier"].about(tid))
    assert got.count("tu:transaction_updated") == 1, got  # the reassignment, as old cashier
    assert len(got) == 4, got  # created, settlement x2 frames, reassignment
    assert live["acc_cashier2"] == everything  # queue, then reassigned to them
    assert live["acc_sales2"] == []
    for w in watchers.values():
        await w.close()
    # Replays apply the audience fixed in the log.
    for user in users:
        r = await Watcher(server, user).open(since=mark)
        await r.drain(quiet=CATCHUP_ROUND)
        # Per topic in order; the two topics' replays interleave.
        for topic_type in ("payment_status_updated", "transaction_updated"):
            replayed = [f["event_id"] for f in r.about(tid, topic_type)]
            assert replayed == sorted(replayed), (user, replayed)
        assert sorted(f["event_id"] for f in r.about(tid)) == sorted(live[user]), user
        await r.close()
