"""SPEC sections 5 and 6: when `since` is older than the retained log the server answers
`resync_required`; the poll endpoint says the same. The log is aged by hand (as if 8 days had
passed) and pruned with the operator's command. Runs late (file name): it prunes the log."""

from __future__ import annotations

import json

import psycopg
import pytest

from .harness import manage, recv, send, ws_open

pytestmark = pytest.mark.integration


def _age_everything(server) -> None:
    url = server.env["DATABASE_URL"]
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute("UPDATE realtime_paymentevent SET created_at = created_at - interval '8 days'")


async def test_since_older_than_the_retained_log_gets_resync_required(server):
    txn = server.transaction(user="acc_sales")
    server.settle(txn["id"], "1.00")
    _age_everything(server)
    out = manage(server.env, "prune_payment_events")
    assert "Deleted" in out, out
    new = server.transaction(user="acc_sales")
    for topic in ("payment_status", "transactions"):
        ws = await ws_open(
            server, headers={"Authorization": f"Bearer {server.access('acc_admin')}"}
        )
        assert (await recv(ws))["type"] == "authenticated"
        await send(ws, {"type": "subscribe", "topic": topic, "since": 1})
        assert await recv(ws) == {"type": "resync_required", "topic": topic}
        await send(ws, {"type": "subscribe", "topic": topic})
        assert (await recv(ws))["type"] == "subscribed"
        await ws.close()
    r = server.get("/api/payment-events/?after=1", user="acc_admin")
    assert r.status == 200, r
    assert r.json.get("resync_required") is True, r
    assert json.loads(r.text)["events"] == []
    assert new["id"]
