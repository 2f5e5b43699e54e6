"""The load test's arrival stamps: taken when a frame's bytes reach the client connection, one
per message and in message order, before the client library and the watcher handle them."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from realtime.loadtest.watchers import StampedConnection, Watcher


def test_every_message_gets_the_time_its_bytes_arrived_in_order():
    sent: list[float] = []

    async def handler(ws):
        for i in range(4):
            sent.append(time.monotonic())
            await ws.send(json.dumps({"n": i}))
            await asyncio.sleep(0.02 if i == 1 else 0)  # two bursts of two
        await ws.wait_closed()

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}", create_connection=StampedConnection) as ws:
                await asyncio.sleep(0.05)  # all four are in before the first is read
                got = []
                for _ in range(4):
                    message, stamp = await asyncio.wait_for(ws.recv_stamped(), 5)
                    got.append((json.loads(message)["n"], stamp, time.monotonic()))
                assert not ws.stamps  # exactly one stamp per message
                return got

    got = asyncio.run(main())
    assert [n for n, _, _ in got] == [0, 1, 2, 3]
    for (_, stamp, read), sent_at in zip(got, sent, strict=True):
        # After the server sent it, and before the client read it.
        assert sent_at <= stamp <= read
    assert got[2][1] - got[1][1] >= 0.015  # the second burst arrived later
    assert got[0][2] - got[0][1] >= 0.04  # read after the 50 ms pause: the stamp is the arrival


def test_the_time_a_frame_was_decoded_is_kept_beside_its_arrival():
    w = Watcher(index=0, url="ws://127.0.0.1:1/ws/", token="t", origin="http://127.0.0.1")
    frame = {"type": "payment_status_updated", "event_id": 5, "data": {"settlement": {"id": 7}}}
    arrived = time.monotonic() - 0.003
    before = time.monotonic()
    w.record_frame(json.dumps(frame), arrived)
    assert w.arrivals == {7: [arrived]}
    assert list(w.decoded) == [7] and before <= w.decoded[7][0] <= time.monotonic()
