"""How the load test spreads its writes over several processes (``--balance``)."""

from __future__ import annotations

from realtime.loadtest.runner import Balancer


def test_writes_go_round_robin_or_to_the_least_busy_process():
    turn = Balancer(["a", "b", "c"], "round-robin")
    assert [turn.pick() for _ in range(4)] == ["a", "b", "c", "a"]
    least = Balancer(["a", "b", "c"], "least-busy")
    assert [least.pick() for _ in range(3)] == ["a", "b", "c"]  # ties: in turn
    least.done("b")
    assert least.pick() == "b"  # the only one with nothing in flight
    least.done("a")
    least.done("c")
    assert least.in_flight == {"a": 0, "b": 1, "c": 0}
    assert [least.pick(), least.pick()] == ["c", "a"]  # the turn has moved on to "c"
    assert least.in_flight == {"a": 1, "b": 1, "c": 1}
