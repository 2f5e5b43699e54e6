"""Turn raw timestamps into the figures the report shows (pure functions, unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100); NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How the written settlements reached the watchers."""

    expected: int  # frames that should have arrived: settlements x watchers that see them
    delivered: int  # distinct (settlement, watcher) pairs that arrived
    lost: int
    duplicated: int  # arrivals beyond the first of a (settlement, watcher) pair
    latencies_ms: list[float]  # one per delivered pair, ascending
    #: When (monotonic) the POST of the slowest delivered pair started; None when none.
    slowest_started: float | None = None

    def latency(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def delivery(
    sent_at: Mapping[int, float], arrivals_per_watcher: Iterable[Mapping[int, list[float]]]
) -> Delivery:
    """Match every written settlement (id -> monotonic time before its POST) with each
    watcher's arrivals of it. Frames about settlements this run did not write are ignored."""
    expected = delivered = duplicated = 0
    latencies: list[float] = []
    slowest_ms, slowest_started = -math.inf, None
    for arrivals in arrivals_per_watcher:
        expected += len(sent_at)
        for settlement_id, started in sent_at.items():
            times = arrivals.get(settlement_id)
            if not times:
                continue
            delivered += 1
            duplicated += len(times) - 1
            latency_ms = (min(times) - started) * 1000
            latencies.append(latency_ms)
            if latency_ms > slowest_ms:
                slowest_ms, slowest_started = latency_ms, started
    latencies.sort()
    return Delivery(
        expected=expected,
        delivered=delivered,
        lost=expected - delivered,
        duplicated=duplicated,
        latencies_ms=latencies,
        slowest_started=slowest_started,
    )


def per_unit(amount: float | None, count: int, unit: float = 1.0) -> float:
    """``amount`` per ``unit`` of ``count`` (NaN when unknown or nothing counted)."""
    if amount is None or count <= 0:
        return math.nan
    return amount / count * unit
