"""The load test's bookkeeping: frames matched to settlements by id, with lost, duplicated and
out-of-order frames counted, and latency measured from just before each POST."""

from __future__ import annotations

import json
import math

from realtime.loadtest.stats import delivery, percentile
from realtime.loadtest.watchers import Watcher


def frame(event_id: int, txn: int, settlement_id: int | None) -> str:
    settlement = None if settlement_id is None else {"id": settlement_id, "amount": 1.0}
    return json.dumps(
        {
            "type": "payment_status_updated",
            "event_id": event_id,
            "data": {"transactionId": txn, "settlement": settlement, "paid_amount": 2.0},
        }
    )


def watcher() -> Watcher:
    return Watcher(index=0, url="ws://127.0.0.1:1/ws/", token="t", origin="http://127.0.0.1")


def test_frames_are_matched_by_settlement_id_and_latency_runs_from_the_post():
    a, b = watcher(), watcher()
    a.record_frame(frame(10, 1, 100), 1.004)
    a.record_frame(frame(11, 2, 101), 2.010)
    b.record_frame(frame(10, 1, 100), 1.008)
    b.record_frame(frame(11, 2, 101), 2.020)
    result = delivery({100: 1.000, 101: 2.000}, [a.arrivals, b.arrivals])
    assert (result.expected, result.delivered, result.lost, result.duplicated) == (4, 4, 0, 0)
    assert [round(x, 3) for x in result.latencies_ms] == [4.0, 8.0, 10.0, 20.0]
    assert round(result.latency(50), 3) == 8.0
    assert round(result.latency(100), 3) == 20.0


def test_the_slowest_frame_is_traced_to_its_post():
    a, b = watcher(), watcher()
    a.record_frame(frame(10, 1, 100), 1.004)
    a.record_frame(frame(11, 2, 101), 2.010)
    b.record_frame(frame(10, 1, 100), 1.300)  # 300 ms: the slowest, of the POST at 1.000
    b.record_frame(frame(11, 2, 101), 2.020)
    result = delivery({100: 1.000, 101: 2.000}, [a.arrivals, b.arrivals])
    assert result.slowest_started == 1.000
    assert delivery({100: 1.0}, [watcher().arrivals]).slowest_started is None


def test_a_missing_frame_is_lost_and_a_second_copy_is_a_duplicate():
    a = watcher()
    a.record_frame(frame(10, 1, 100), 1.0)
    a.record_frame(frame(10, 1, 100), 1.5)  # the same event again
    result = delivery({100: 0.9, 101: 0.9}, [a.arrivals])
    assert (result.lost, result.duplicated, result.delivered) == (1, 1, 1)


def test_frames_of_other_settlements_and_non_event_frames_are_ignored():
    a = watcher()
    a.record_frame(frame(9, 1, 99), 1.0)  # not written by this run
    a.record_frame(frame(10, 1, None), 1.0)  # an event not caused by a settlement
    a.record_frame(json.dumps({"type": "pong"}), 1.0)
    result = delivery({100: 0.5}, [a.arrivals])
    assert (result.expected, result.lost, result.duplicated) == (1, 1, 0)
    assert a.frames == 2


def test_an_event_arriving_after_a_higher_id_is_out_of_order():
    a = watcher()
    a.record_frame(frame(12, 1, 100), 1.0)
    a.record_frame(frame(11, 1, 101), 1.1)  # same transaction, backwards
    a.record_frame(frame(5, 2, 102), 1.2)  # another transaction's, below both
    a.record_frame(frame(13, 2, 103), 1.3)  # above every one so far: in order
    assert a.out_of_order == 2


def test_a_second_copy_of_the_newest_event_is_a_duplicate_not_out_of_order():
    a = watcher()
    for event_id, settlement_id in ((1, 100), (2, 101), (2, 101)):
        a.record_frame(frame(event_id, 1, settlement_id), 1.0)
    result = delivery({100: 0.5, 101: 0.5}, [a.arrivals])
    assert (result.duplicated, a.out_of_order) == (1, 0)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))
