"""The relay hands events on strictly in id order: one that arrives ahead of a lower id
waits for it, or for a log read that shows the lower id does not exist (ids commit in id
order, so by then it never will). No database here: the log read is stood in for."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from realtime import relay as relay_module
from realtime.delivery import SENT_CATCHUP, SENT_GAP, SENT_LIVE, Envelope
from realtime.relay import LiveRelay
from transactions.selectors import Audience


def _env(event_id: int) -> Envelope:
    return Envelope(
        event_id=event_id,
        topic="payment_status",
        transaction_id=1,
        previous_event_id=None,
        audience=Audience(sales_agent_ids=frozenset(), cashier_ids=frozenset(), cashier_pool=False),
        frame=f'{{"event_id": {event_id}}}',
        created_at=0.0,  # older than any access check: offered without waiting for one
    )


class Connection:
    def __init__(self) -> None:
        self.offered: list[tuple[int, object]] = []

    def push_live(self, env: Envelope, counter) -> None:
        self.offered.append((env.event_id, counter))


@pytest.fixture
async def relay(monkeypatch):
    loop = asyncio.get_running_loop()
    relay = LiveRelay(loop, layer=None)
    relay.next_id, relay.released, relay.known_through = 11, 10, 10
    relay.conn = Connection()
    relay.members[relay.conn] = None
    relay.reads = []

    async def read_log(counter=SENT_CATCHUP) -> None:  # LiveRelay.catch_up, on the log given
        relay.reads.append(relay.next_id - 1)
        rows = [_env(i) for i in relay.log if i >= relay.next_id]
        await relay.accept(rows, counter=counter, known_through=max(relay.log, default=0))

    relay.log = []
    monkeypatch.setattr(relay, "catch_up", read_log)
    return relay


def _ids(relay) -> list[int]:
    return [event_id for event_id, _ in relay.conn.offered]


async def test_events_in_order_go_out_at_once(relay):
    await relay.accept([_env(11), _env(12)], counter=SENT_LIVE)
    await relay.accept([_env(13)], counter=SENT_LIVE)
    assert _ids(relay) == [11, 12, 13]
    assert relay.released == 13 and not relay.pending


async def test_an_event_ahead_of_a_lower_id_waits_for_it(relay, monkeypatch):
    monkeypatch.setattr(relay_module, "GAP_WAIT_SECONDS", 5.0)  # the lower one comes first
    await relay.accept([_env(13)], counter=SENT_LIVE)
    await relay.accept([_env(12)], counter=SENT_LIVE)
    assert _ids(relay) == []
    await relay.accept([_env(11)], counter=SENT_LIVE)
    assert _ids(relay) == [11, 12, 13]
    assert relay.reads == []


async def test_a_missing_id_is_read_from_the_log_after_a_short_wait(relay):
    relay.log = [11, 13]  # 12 was rolled back: never committed, not in the log
    await relay.accept([_env(13)], counter=SENT_LIVE)
    assert _ids(relay) == []
    await asyncio.sleep(relay_module.GAP_WAIT_SECONDS + 0.05)
    assert relay.reads == [10]
    # Counted as a gap's read, not as the hub's catch-up (which means messages went missing).
    assert relay.conn.offered == [(11, SENT_GAP), (13, SENT_LIVE)]
    assert relay.next_id == 14 and not relay.pending


async def test_copies_and_old_events_are_dropped(relay):
    await relay.accept([_env(11), _env(12)], counter=SENT_LIVE)
    await relay.accept([_env(12), _env(9), _env(11)], counter=SENT_CATCHUP)
    await relay.accept([_env(13), _env(13)], counter=SENT_LIVE)
    assert _ids(relay) == [11, 12, 13]


async def test_a_writer_clock_running_ahead_holds_nothing_up(relay, monkeypatch):
    from realtime.delivery import catchup_hub

    hub = catchup_hub()
    asked = []

    async def check(moment: float) -> None:
        asked.append(moment)
        hub.checked_at = time.time()

    monkeypatch.setattr(hub, "access_checked_after", check)
    ahead = dataclasses.replace(_env(11), created_at=time.time() + 3600)
    await relay.accept([ahead], counter=SENT_LIVE)
    assert _ids(relay) == [11]
    assert asked and asked[0] <= time.time()  # a check begun now, not in an hour


async def test_events_wait_in_order_while_the_access_check_fails(relay, monkeypatch):
    from realtime.delivery import catchup_hub

    hub = catchup_hub()
    failing = True

    async def check(moment: float) -> None:
        if failing:
            raise RuntimeError("database down")
        hub.checked_at = moment

    monkeypatch.setattr(hub, "access_checked_after", check)
    monkeypatch.setattr(relay_module, "GAP_WAIT_SECONDS", 5.0)
    late = [dataclasses.replace(_env(i), created_at=1e12) for i in (11, 12)]
    await relay.accept(late, counter=SENT_LIVE)
    assert _ids(relay) == [] and sorted(relay.pending) == [11, 12] and relay.next_id == 11
    failing = False
    await relay.accept([], counter=SENT_CATCHUP)  # the hub's next round
    assert _ids(relay) == [11, 12]


async def test_floors_stay_while_an_event_waits_for_the_connection():
    # An event queued behind a subscribe's replay is popped by the connection's drain task,
    # which then waits for the lock; the hub's round, running just as the replay lets go,
    # must not raise the floor above it (the event would be dropped as history).
    from types import SimpleNamespace

    from realtime.delivery import ConnectionDelivery, TopicState
    from transactions.choices import Role

    sent = []

    async def send(text: str) -> None:
        sent.append(text)

    conn = ConnectionDelivery(user=SimpleNamespace(pk=1), roles=frozenset({Role.ADMIN}), send=send)
    conn.topics["payment_status"] = TopicState(floor=10, replaying=False)
    await conn.lock.acquire()  # a subscribe's replay of another topic
    assert conn.push_live(_env(11), SENT_LIVE) is None  # queued behind it
    await asyncio.sleep(0)  # the drain task takes it and waits for the lock
    conn.lock.release()
    conn.advance(20)  # the hub's round, before the drain task runs again
    await asyncio.sleep(0.05)
    assert sent == [_env(11).frame]


async def test_events_beyond_the_pending_bound_are_read_from_the_log_again(relay, monkeypatch):
    """While a lower id is missing (or the access check fails), at most MAX_PENDING events
    wait in memory; the highest beyond it are dropped, not lost: the log still has them."""
    monkeypatch.setattr(relay_module, "MAX_PENDING", 3)
    monkeypatch.setattr(relay_module, "GAP_WAIT_SECONDS", 5.0)
    await relay.accept([_env(i) for i in range(12, 18)], counter=SENT_LIVE)
    assert sorted(relay.pending) == [12, 13, 14] and _ids(relay) == []
    await relay.accept([_env(11)], counter=SENT_LIVE)  # four waiting: 14 dropped as well
    assert _ids(relay) == [11, 12, 13]
    relay.log = list(range(11, 18))
    await relay.catch_up()  # the hub's round, or the next gap read: 14-16 fit, 17 dropped
    await relay.catch_up()
    assert _ids(relay) == list(range(11, 18))


async def test_dropping_beyond_the_bound_forgets_that_a_log_read_saw_those_ids(relay, monkeypatch):
    """A log read that found 12-17 (11 never committed) marks ids up to 17 as known; once
    15-17 are dropped they must be read again, not skipped as ids that do not exist."""
    monkeypatch.setattr(relay_module, "MAX_PENDING", 3)
    await relay.accept([_env(i) for i in range(12, 18)], counter=SENT_CATCHUP, known_through=17)
    assert _ids(relay) == [12, 13, 14] and relay.next_id == 15
    relay.log = list(range(12, 18))
    await relay.catch_up()
    assert _ids(relay) == list(range(12, 18))
