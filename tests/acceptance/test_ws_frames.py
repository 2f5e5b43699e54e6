"""SPEC section 5, server -> client: the exact `payment_status_updated` and
`transaction_updated` frames, JSON number formatting, `since` replay."""

from __future__ import annotations

import re

import pytest

from .wsutil import CATCHUP_ROUND, Watcher, kinds

pytestmark = pytest.mark.integration

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
PSU_KEYS = {
    "transactionId", "or_number", "customer_id", "payment_status", "previous_status",
    "amount", "paid_amount", "balance_amount", "sales_agent_id", "cashier_id", "settlement",
    "updatedBy", "timestamp",
}  # fmt: skip


def _compact(text: str) -> str:
    return re.sub(r'\s+(?=(?:[^"]*"[^"]*")*[^"]*$)', "", text)


async def test_payment_status_updated_frame(server):
    w = await Watcher(server, "acc_admin").open()
    txn = server.transaction(user="acc_sales", amount="1500.00")
    s = server.settle(txn["id"], "1000.00", user="acc_cashier").json
    frame = await w.wait_for(
        lambda f: f["type"] == "payment_status_updated" and f["data"]["transactionId"] == txn["id"]
    )
    assert set(frame) == {"type", "event_id", "data"}, frame
    assert isinstance(frame["event_id"], int)
    data = frame["data"]
    assert set(data) == PSU_KEYS, set(data) ^ PSU_KEYS
    assert data["or_number"] == txn["or_number"]
    assert data["customer_id"] == txn["customer"]
    assert (data["payment_status"], data["previous_status"]) == ("partial", "unpaid")
    assert data["sales_agent_id"] == server.user_ids["acc_sales"]
    assert data["cashier_id"] == server.user_ids["acc_cashier"]
    assert data["settlement"] == {
        "id": s["id"], "amount": 1000.0, "payment_mode": "cash",
        "cashier_id": server.user_ids["acc_cashier"], "voided": False,
    }  # fmt: skip
    assert data["updatedBy"] == "Maria Santos"
    assert TIMESTAMP.match(data["timestamp"]), data["timestamp"]
    raw = _compact(w.raw_about(txn["id"], "payment_status_updated")[0])
    for literal in ('"amount":1500.00', '"paid_amount":1000.00', '"balance_amount":500.00',
                    '"amount":1000.00'):  # fmt: skip
        assert literal in raw, (literal, raw)
    assert '"1500.00"' not in raw and "1500.0," not in raw
    await w.close()


async def test_updated_by_is_username_without_full_name_and_void_frame(server):
    w = await Watcher(server, "acc_admin").open()
    txn = server.transaction(user="acc_sales", amount="200.00")
    s = server.settle(txn["id"], "200.00", user="acc_cashier2").json
    first = await w.wait_for(
        lambda f: f["type"] == "payment_status_updated" and f["data"]["transactionId"] == txn["id"]
    )
    assert first["data"]["updatedBy"] == "acc_cashier2"
    assert (first["data"]["payment_status"], first["data"]["previous_status"]) == (
        "paid", "unpaid")  # fmt: skip
    assert '"balance_amount":0.00' in _compact(w.raw_about(txn["id"], "payment_status_updated")[0])
    server.post(f"/api/settlements/{s['id']}/void/", {"reason": "dup"}, user="acc_admin")
    void = await w.wait_for(
        lambda f: (
            f["type"] == "payment_status_updated"
            and f["data"]["transactionId"] == txn["id"]
            and f["event_id"] > first["event_id"]
        )
    )
    d = void["data"]
    assert (d["payment_status"], d["previous_status"]) == ("unpaid", "paid")
    assert d["settlement"]["id"] == s["id"] and d["settlement"]["voided"] is True
    assert d["updatedBy"] == "Ada Admin"
    assert d["paid_amount"] == 0 and d["balance_amount"] == 200
    await w.close()


async def test_amount_correction_frame_has_no_settlement(server):
    w = await Watcher(server, "acc_admin").open()
    txn = server.transaction(user="acc_sales", amount="300.00")
    server.patch(f"/api/transactions/{txn['id']}/", {"amount": "250.50"}, user="acc_admin")
    frame = await w.wait_for(
        lambda f: f["type"] == "payment_status_updated" and f["data"]["transactionId"] == txn["id"]
    )
    assert frame["data"]["settlement"] is None
    assert frame["data"]["cashier_id"] is None
    assert (frame["data"]["payment_status"], frame["data"]["previous_status"]) == (
        "unpaid", "unpaid")  # fmt: skip
    raw = _compact(w.raw_about(txn["id"], "payment_status_updated")[0])
    assert '"amount":250.50' in raw and '"balance_amount":250.50' in raw, raw
    await w.close()


async def test_transaction_updated_frames_for_each_type(server):
    w = await Watcher(server, "acc_admin").open(topics=("transactions",))
    txn = server.transaction(user="acc_sales", amount="100.00")
    tid = txn["id"]
    s = server.settle(tid, "40.00", user="acc_cashier").json
    server.patch(f"/api/transactions/{tid}/", {"cashier": server.user_ids["acc_cashier2"]},
                 user="acc_admin")  # fmt: skip
    server.post(f"/api/settlements/{s['id']}/void/", {"reason": "x"}, user="acc_admin")
    other = server.transaction(user="acc_sales", amount="5.00")
    server.delete(f"/api/transactions/{other['id']}/", user="acc_admin")
    await w.wait_for(lambda f: f["data"].get("transactionId") == other["id"]
                     and f["data"]["type"] == "transaction_deleted")  # fmt: skip
    frames = w.about(tid)
    assert all(f["type"] == "transaction_updated" for f in frames), frames
    got = kinds(frames)
    assert got[:3] == [
        "tu:transaction_created", "tu:payment_settlement_created", "tu:transaction_updated",
    ], got  # fmt: skip
    assert len(got) == 4 and got[3] in ("tu:payment_status_updated", "tu:transaction_updated"), got
    for f in frames + w.about(other["id"]):
        assert set(f) == {"type", "event_id", "data"}, f
        assert set(f["data"]) == {"type", "transactionId", "transaction", "settlement",
                                  "timestamp"}, f  # fmt: skip
        assert TIMESTAMP.match(f["data"]["timestamp"]), f
        rep = f["data"]["transaction"]
        assert rep["id"] == f["data"]["transactionId"]
        # The REST representation: money stays a two-place string here.
        assert isinstance(rep["amount"], str) and re.match(r"^\d+\.\d\d$", rep["amount"]), rep
    created, settled, reassigned, voided = frames
    assert created["data"]["settlement"] is None
    assert created["data"]["transaction"] == {
        **txn, "updated_at": created["data"]["transaction"]["updated_at"]}  # fmt: skip
    assert settled["data"]["settlement"]["id"] == s["id"]
    assert settled["data"]["settlement"]["amount"] == "40.00"
    assert settled["data"]["transaction"]["paid_amount"] == "40.00"
    assert settled["data"]["transaction"]["cashier"] == server.user_ids["acc_cashier"]
    assert reassigned["data"]["settlement"] is None
    assert reassigned["data"]["transaction"]["cashier"] == server.user_ids["acc_cashier2"]
    assert voided["data"]["transaction"]["paid_amount"] == "0.00"
    deleted = w.about(other["id"])
    assert kinds(deleted) == ["tu:transaction_created", "tu:transaction_deleted"]
    assert deleted[1]["data"]["transaction"]["id"] == other["id"]
    await w.close()


async def test_since_replays_missed_events_in_order(server):
    w = await Watcher(server, "acc_admin").open()
    mark = w.last_event_id["payment_status"]
    await w.close()
    txn = server.transaction(user="acc_sales", amount="300.00")
    for _ in range(3):
        assert server.settle(txn["id"], "100.00").status == 201
    w2 = await Watcher(server, "acc_admin").open(topics=("payment_status",), since=mark)
    assert w2.early == [], "replayed events must follow the subscribed frame"
    await w2.drain(quiet=CATCHUP_ROUND)
    replayed = w2.about(txn["id"])
    assert kinds(replayed) == ["payment_status_updated"] * 3, replayed
    assert [f["data"]["paid_amount"] for f in replayed] == [100, 200, 300]
    ids = [f["event_id"] for f in replayed]
    assert ids == sorted(ids) and ids[0] > mark
    assert w2.last_event_id["payment_status"] >= ids[-1]
    assert all(f["event_id"] > mark for _, f in w2.frames)
    # Live events follow the replay, nothing is repeated.
    server.patch(f"/api/transactions/{txn['id']}/", {"amount": "400.00"}, user="acc_admin")
    await w2.wait_for(lambda f: f["data"].get("transactionId") == txn["id"]
                      and f["data"]["amount"] == 400)  # fmt: skip
    await w2.drain(quiet=CATCHUP_ROUND)
    all_ids = [f["event_id"] for _, f in w2.frames]
    assert len(all_ids) == len(set(all_ids))
    await w2.close()
    # The transactions topic replays its own stream.
    w3 = await Watcher(server, "acc_admin").open(topics=("transactions",), since=mark)
    await w3.drain(quiet=CATCHUP_ROUND)
    got = kinds(w3.about(txn["id"]))
    assert got == [
        "tu:transaction_created", *["tu:payment_settlement_created"] * 3,
        "tu:payment_status_updated",  # the amount correction
    ], got  # fmt: skip
    await w3.close()
