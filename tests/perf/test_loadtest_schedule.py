"""The load test at a fixed rate measures from when each write was due, too: a stall of the
server holds up the writes queued behind it, and timing them only from when they finally
went out would hide it (coordinated omission)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from realtime.loadtest.api import Credentials
from realtime.loadtest.config import LoadConfig
from realtime.loadtest.runner import Runner
from realtime.loadtest.stats import delivery

STALL_SECONDS = 0.5


class StallingSession:
    """Answers each settlement at once, but the second one only after a stall."""

    ids = itertools.count(1)
    lock = threading.Lock()

    def settlement_create(self, *, transaction_id: int, amount: str, idempotency_key: str):
        started = time.monotonic()
        with self.lock:
            settlement_id = next(self.ids)
        if settlement_id == 2:
            time.sleep(STALL_SECONDS)
        return settlement_id, started


def test_writes_held_up_behind_a_stall_are_timed_from_when_they_were_due():
    who = Credentials("w", "p")
    config = LoadConfig(
        base_url="http://127.0.0.1:1", creator=who, writer=who, watchers=[who],
        rate=20, settlements=12, in_flight=1,
    )  # fmt: skip
    runner = Runner(config, log=lambda _line: None)
    runner.transaction_ids = [1]
    session = StallingSession()
    runner._session = lambda _url: session

    async def write() -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            await runner.write_phase(pool, [])

    asyncio.run(write())
    assert len(runner.sent_at) == 12
    late = {i: runner.sent_at[i] - runner.due_at[i] for i in runner.sent_at}
    assert late[1] < 0.05 and late[2] < 0.05  # on time; the second then stalls
    assert late[3] > 0.35  # due 50 ms after the second, sent after its 500 ms stall
    # Every frame one millisecond after its POST: from the POST, the stall does not show.
    arrivals = {i: [sent + 0.001] for i, sent in runner.sent_at.items()}
    from_post = delivery(runner.sent_at, [arrivals])
    from_due = delivery(runner.due_at, [arrivals])
    assert from_post.latency(100) < 5
    assert from_due.latency(100) > 350
    assert from_due.latency(50) >= from_post.latency(50)


class StallingEverySession:
    """Answers each settlement after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def settlement_create(self, *, transaction_id: int, amount: str, idempotency_key: str):
        started = time.monotonic()
        with self.lock:
            settlement_id = next(self.ids)
        if settlement_id == 3:
            time.sleep(self.delay)
        return settlement_id, started


def _timed_run(rate: float, duration: float, session) -> tuple[Runner, float]:
    who = Credentials("w", "p")
    config = LoadConfig(
        base_url="http://127.0.0.1:1", creator=who, writer=who, watchers=[who],
        rate=rate, duration=duration, in_flight=1,
    )  # fmt: skip
    runner = Runner(config, log=lambda _line: None)
    runner.transaction_ids = [1]
    runner._session = lambda _url: session

    async def write() -> float:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return await runner.write_phase(pool, [])

    return runner, asyncio.run(write())


def test_writes_due_before_the_end_are_sent_even_when_a_stall_holds_them_past_it():
    """The deadline was checked against the clock after a stall: the writes it held up
    past the end of the run were never sent, and the run passed without them."""
    # 20/s for 0.5 s: 10 writes due (at 0, 50, ..., 450 ms); the third stalls 0.6 s.
    runner, _seconds = _timed_run(20, 0.5, StallingEverySession(0.6))
    assert len(runner.sent_at) == 10
    late = max(runner.sent_at[i] - runner.due_at[i] for i in runner.sent_at)
    assert late > 0.4  # the ones behind the stall went out late, timed from when due


def test_a_slow_rate_writes_for_the_duration_no_longer_no_shorter():
    """At 0.1/s for 2 s, the loop slept until the second write was due (10 s) first; then it
    ended at the one write sent, and reported it as "100 a second"."""
    runner, seconds = _timed_run(0.1, 2.0, StallingEverySession(0.0))
    assert len(runner.sent_at) == 1
    assert 1.9 < seconds < 3.0
