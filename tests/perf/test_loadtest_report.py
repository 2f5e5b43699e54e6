"""The load test's verdict and figures: a run with failed writes, or with no write at all,
never passes; frames per second cover the span the frames took; a request that timed out
does not leave its connection unusable."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from dataclasses import replace

import pytest

from realtime.loadtest.api import ApiSession, Credentials
from realtime.loadtest.config import LoadConfig
from realtime.loadtest.report import Report
from realtime.loadtest.stats import Delivery


def report(**changes) -> Report:
    who = Credentials("w", "p")
    config = LoadConfig(
        base_url="http://127.0.0.1:1", creator=who, writer=who, watchers=[who], clients=2,
        settlements=10,
    )  # fmt: skip
    every = Delivery(expected=20, delivered=20, lost=0, duplicated=0, latencies_ms=[1.0])
    return Report(
        **{
            "config": config, "connected": 2, "still_connected": 2, "connect_seconds": 0.1,
            "connect_failures": Counter(), "write_seconds": 1.0, "delivery_seconds": 1.0,
            "settlements_ok": 10, "write_errors": {}, "first_errors": [], "delivery": every,
            "out_of_order": 0, "baseline": None, "after_connect": None, "cpu_start": None,
            "cpu_end": None, **changes,
        }
    )  # fmt: skip


def test_a_clean_run_passes():
    assert report().ok


def test_figures_not_measured_say_why_instead_of_nan():
    nothing = Delivery(expected=0, delivered=0, lost=0, duplicated=0, latencies_ms=[])
    table = report(delivery=nothing, settlements_ok=0).table()
    assert "nan" not in table
    assert "not measured (no --server-pid)" in table
    assert "none (no frame delivered)" in table


def test_the_idle_cpu_line_says_which_option_was_missing():
    hold_without_pid = report(config=replace(report().config, hold=5.0)).table()
    assert "not measured (no --server-pid)" in hold_without_pid.split("server CPU idle")[1]
    assert "not measured (no --hold)" in report().table()


def test_a_server_that_ended_during_the_run_fails_it_and_says_so():
    gone = report(servers_gone=[4242])
    assert not gone.ok
    table = gone.table()
    assert "process 4242 ended during the run" in table
    assert "nan" not in table


@pytest.mark.parametrize(
    "changes",
    [
        {"write_errors": {"HTTP 429": 3}},  # some writes failed
        {
            "settlements_ok": 0,  # every write failed: nothing could be lost
            "write_errors": {"TimeoutError": 10},
            "delivery": Delivery(expected=0, delivered=0, lost=0, duplicated=0, latencies_ms=[]),
        },
        {
            "settlements_ok": 0,  # no error recorded, yet nothing written
            "delivery": Delivery(expected=0, delivered=0, lost=0, duplicated=0, latencies_ms=[]),
        },
    ],
)
def test_failed_or_missing_writes_fail_the_run(changes):
    assert not report(**changes).ok


def test_frames_per_second_cover_the_time_the_frames_took():
    # 20 frames written in 1 s but arriving over 4 s: 5 a second, not 20.
    assert report(delivery_seconds=4.0).as_dict()["frames_per_s"] == pytest.approx(5.0)


def test_the_table_says_when_the_slowest_frame_was_posted():
    slow = Delivery(
        expected=2, delivered=2, lost=0, duplicated=0, latencies_ms=[1.0, 900.5],
        slowest_started=105.25,
    )  # fmt: skip
    ran = report(delivery=slow, writes_started=100.0)
    assert ran.as_dict()["slowest_post_at_s"] == pytest.approx(5.25)
    assert "slowest frame        900.5 ms, its POST at t=5.2s" in ran.table()
    # No frame (idle connections only): no slowest one.
    idle = report(delivery=Delivery(expected=0, delivered=0, lost=0, duplicated=0, latencies_ms=[]))
    assert "slowest frame        none" in idle.table()


def test_a_timed_out_request_leaves_the_session_usable():
    """A server that answers the first request late and the second at once."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        first, _ = listener.accept()
        first.recv(65536)  # never answered: the client times out
        second, _ = listener.accept()
        second.recv(65536)
        body = b'{"ok": true}'
        second.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        second.close()
        first.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    session = ApiSession(f"http://127.0.0.1:{port}", timeout=0.3)
    with pytest.raises(TimeoutError):
        session.request("GET", "/slow/")
    assert session.request("GET", "/fast/") == {"ok": True}
    server.join(timeout=5)
    listener.close()
