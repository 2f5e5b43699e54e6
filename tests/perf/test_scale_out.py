"""Scale-out: two daphne processes on one Redis and one PostgreSQL. A client on each receives
every event exactly once, in id order, whichever process took the write."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from tests.support.daphne import DaphneServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SETTLEMENTS = 24


def _post_settlement(base_url: str, token: str, transaction_id: int) -> int:
    req = urllib.request.Request(
        f"{base_url}/api/transactions/{transaction_id}/settlements/",
        data=json.dumps({"amount": "10.00", "payment_mode": "cash"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        assert resp.status == 201
        return json.loads(resp.read())["id"]


async def _subscribe(ws_url: str, origin: str, token: str):
    from websockets.asyncio.client import connect

    ws = await connect(ws_url, origin=origin, open_timeout=10)
    await ws.send(json.dumps({"type": "authenticate", "token": token}))
    await ws.send(json.dumps({"type": "subscribe", "topic": "payment_status"}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == "subscribed":
            return ws
    raise AssertionError("no subscribed frame within 10 s")


async def _collect(ws, count: int, seconds: float) -> list[dict]:
    """Event frames until ``count`` arrived (then 2.5 s more: a duplicate from a catch-up
    round, once a second in the daphne processes, would be in by then)."""
    frames: list[dict] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        except TimeoutError:
            break
        if frame["type"] == "payment_status_updated":
            frames.append(frame)
            if len(frames) == count:
                deadline = min(deadline, time.monotonic() + 2.5)
    return frames


def test_a_client_on_each_of_two_processes_gets_every_event_once(
    daphne_server, admin_user, cashier, make_transaction
):
    second = DaphneServer().start()
    try:
        txns = [make_transaction("100000.00") for _ in range(4)]
        admin_token = str(AccessToken.for_user(admin_user))
        cashier_token = str(AccessToken.for_user(cashier))
        servers = [daphne_server, second]

        async def scenario():
            origin = daphne_server.base_url
            on_first = await _subscribe(daphne_server.ws_url, origin, admin_token)
            on_second = await _subscribe(second.ws_url, origin, cashier_token)
            written = []
            for n in range(SETTLEMENTS):  # alternate the process that takes the write
                server = servers[n % 2]
                txn = txns[n % len(txns)]
                written.append(
                    await asyncio.to_thread(
                        _post_settlement, server.base_url, cashier_token, txn.pk
                    )
                )
            got = await asyncio.gather(
                _collect(on_first, SETTLEMENTS, 20), _collect(on_second, SETTLEMENTS, 20)
            )
            await on_first.close()
            await on_second.close()
            return written, got

        written, got = asyncio.run(scenario())
    finally:
        second.stop()

    for frames in got:
        ids = [f["data"]["settlement"]["id"] for f in frames]
        assert sorted(ids) == sorted(written)  # each event exactly once
        event_ids = [f["event_id"] for f in frames]
        assert event_ids == sorted(event_ids)  # in id order, across transactions
        for txn in txns:
            mine = [f["event_id"] for f in frames if f["data"]["transactionId"] == txn.pk]
            assert mine == sorted(mine)
            assert len(mine) == SETTLEMENTS // len(txns)
