"""SPEC section 6: a connected client receives every event it may see exactly once, in
order, even while Redis restarts (the suite runs its own redis-server, so it may)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.services import skip_or_fail

from .wsutil import Watcher, kinds

pytestmark = pytest.mark.integration


async def test_events_survive_a_redis_restart(server, private_redis):
    if private_redis is None:
        skip_or_fail("needs redis-server on PATH to restart a private Redis")
    w = await Watcher(server, "acc_admin").open()
    txn = server.transaction(user="acc_sales", amount="300.00")
    tid = txn["id"]
    assert server.settle(tid, "100.00").status == 201
    await w.wait_for(lambda f: f["type"] == "payment_status_updated"
                     and f["data"].get("transactionId") == tid)  # fmt: skip
    private_redis.stop()
    try:
        # Writes do not depend on Redis; their events are in the log.
        r = await asyncio.to_thread(server.settle, tid, "100.00")
        assert r.status == 201, r
    finally:
        private_redis.start()
    await asyncio.sleep(1.0)
    assert (await asyncio.to_thread(server.settle, tid, "100.00")).status == 201
    await w.wait_for(lambda f: f["type"] == "payment_status_updated"
                     and f["data"].get("transactionId") == tid
                     and f["data"]["payment_status"] == "paid", timeout=20)  # fmt: skip
    await w.drain(quiet=1.0)
    psu = w.about(tid, "payment_status_updated")
    assert [f["data"]["paid_amount"] for f in psu] == [100, 200, 300]
    assert kinds(w.about(tid, "transaction_updated")) == [
        "tu:transaction_created", *["tu:payment_settlement_created"] * 3]  # fmt: skip
    ids = [f["event_id"] for _, f in w.frames]
    assert len(ids) == len(set(ids))
    # A new connection after the restart works as usual.
    w2 = await Watcher(server, "acc_admin").open()
    t2 = server.transaction(user="acc_sales", amount="10.00")
    server.settle(t2["id"], "10.00")
    await w2.wait_for(lambda f: f["type"] == "payment_status_updated"
                      and f["data"].get("transactionId") == t2["id"])  # fmt: skip
    await w.close()
    await w2.close()
