"""The end-of-run figures and the one table ``manage.py loadtest`` prints."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from .config import LoadConfig
from .procstat import ProcSample
from .stats import Delivery, per_unit


@dataclass
class Report:
    config: LoadConfig
    connected: int
    still_connected: int
    connect_seconds: float
    connect_failures: Counter
    write_seconds: float
    #: From the first write to the last first arrival of a frame (at least write_seconds).
    delivery_seconds: float
    settlements_ok: int
    write_errors: dict[str, int]
    first_errors: list[str]
    delivery: Delivery
    out_of_order: int
    baseline: ProcSample | None
    after_connect: ProcSample | None
    cpu_start: ProcSample | None
    cpu_end: ProcSample | None
    invariant_problems: list[str] = field(default_factory=list)
    #: CPU time of the load generator itself while writing and draining (it shares the box).
    generator_cpu_seconds: float = 0.0
    measured_seconds: float = 0.0  # writing plus draining: the span the CPU figures cover
    #: Server CPU (% of one core) while the connections were held idle (``--hold``).
    idle_cpu_percent: float | None = None
    #: The same frames timed until the watcher had decoded them (the latency as measured
    #: until 2026-11-29; ``realtime.loadtest.watchers``).
    decoded: Delivery | None = None
    #: When (monotonic) the writing began, t=0 of the progress lines.
    writes_started: float | None = None
    #: The same frames timed from when each write was due by the schedule (``--rate``)
    #: rather than from when it went out: a stall of the server holds up the writes queued
    #: behind it, whose own latency alone would hide it (coordinated omission).
    from_due: Delivery | None = None
    #: Server processes (--server-pid) that ended during the run: their figures are gone.
    servers_gone: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every write succeeded (and some were made, if writing was asked for); no frame
        lost, duplicated or out of order; every client stayed; invariants hold."""
        return (
            not self.write_errors
            and (self.settlements_ok > 0 or not self.config.writes)
            and self.delivery.lost == 0
            and self.delivery.duplicated == 0
            and self.out_of_order == 0
            and self.connected == self.config.clients
            and self.still_connected == self.connected
            and not self.invariant_problems
            and not self.servers_gone
        )

    @property
    def rss_kib_per_connection(self) -> float:
        if self.baseline is None or self.after_connect is None:
            return math.nan
        grown = self.after_connect.rss_bytes - self.baseline.rss_bytes
        return per_unit(grown / 1024, self.connected)

    @property
    def slowest_post_at_s(self) -> float:
        """When the POST of the slowest frame was sent, in seconds on the progress lines'
        clock: a pause of the box shows as a tail at one moment and a gap in those lines."""
        started = self.delivery.slowest_started
        if started is None or self.writes_started is None:
            return math.nan
        return started - self.writes_started

    @property
    def cpu_us_per_frame(self) -> float:
        if self.cpu_start is None or self.cpu_end is None:
            return math.nan
        used = self.cpu_end.cpu_seconds - self.cpu_start.cpu_seconds
        return per_unit(used, self.delivery.delivered, 1e6)

    def as_dict(self) -> dict:
        d = self.delivery
        return {
            "clients": self.config.clients,
            "connected": self.connected,
            "still_connected": self.still_connected,
            "settlements_ok": self.settlements_ok,
            "write_errors": self.write_errors,
            "settlements_per_s": self.settlements_ok / max(self.write_seconds, 1e-9),
            "frames_expected": d.expected,
            "frames_delivered": d.delivered,
            "frames_per_s": d.delivered / max(self.delivery_seconds, 1e-9),
            "lost": d.lost,
            "duplicated": d.duplicated,
            "out_of_order": self.out_of_order,
            "latency_ms": _latency_figures(d),
            "latency_decoded_ms": _latency_figures(self.decoded),
            "latency_from_due_ms": _latency_figures(self.from_due),
            "slowest_post_at_s": self.slowest_post_at_s,
            "server_rss_kib_per_connection": self.rss_kib_per_connection,
            "server_rss_mib": (
                self.after_connect.rss_bytes / 2**20 if self.after_connect else math.nan
            ),
            "server_cpu_us_per_frame": self.cpu_us_per_frame,
            "server_idle_cpu_percent": self.idle_cpu_percent,
            "generator_cpu_percent": 100
            * self.generator_cpu_seconds
            / max(self.measured_seconds, 1e-9),
            "invariant_problems": self.invariant_problems,
            "servers_gone": self.servers_gone,
            "ok": self.ok,
        }

    def _unmeasured(self, figure: float) -> str | None:
        """Why a server figure is missing (NaN), or None when it is there."""
        if not math.isnan(figure):
            return None
        if not self.config.server_pids:
            return "not measured (no --server-pid)"
        if self.servers_gone:
            return "not measured (a server process ended during the run)"
        return "not measured (no client connected, or no frame delivered)"

    def _idle_cpu_row(self) -> str:
        if self.idle_cpu_percent is not None:
            return f"{self.idle_cpu_percent:.1f}% of one core while the connections were idle"
        if not self.config.hold:
            return "not measured (no --hold)"
        return self._unmeasured(math.nan)

    def table(self) -> str:
        d = self.as_dict()
        cfg = self.config
        rows = [
            (
                "websocket clients",
                f"{self.connected}/{cfg.clients} subscribed in "
                f"{self.connect_seconds:.1f}s, {self.still_connected} still connected at the end",
            ),
            (
                "settlements",
                f"{self.settlements_ok} ok in {self.write_seconds:.1f}s "
                f"({d['settlements_per_s']:.1f}/s; target rate {cfg.rate:g}/s, "
                f"{cfg.in_flight} in flight, {cfg.transactions} transactions)",
            ),
            ("write errors", ", ".join(f"{k}: {v}" for k, v in self.write_errors.items()) or "0"),
            ("action-to-screen ms", _latency_row(d["latency_ms"])),
            ("  until decoded ms", _latency_row(d["latency_decoded_ms"])),
            ("  from when due ms", _latency_row(d["latency_from_due_ms"])),
            ("slowest frame", _slowest_row(d["latency_ms"]["max"], d["slowest_post_at_s"])),
            (
                "frames delivered",
                f"{d['frames_delivered']} of {d['frames_expected']} ({d['frames_per_s']:.0f}/s)",
            ),
            ("lost / duplicated", f"{d['lost']} / {d['duplicated']}"),
            ("out of order", str(self.out_of_order)),
            (
                "server RSS",
                self._unmeasured(d["server_rss_kib_per_connection"])
                or f"{d['server_rss_mib']:.1f} MiB after connecting, "
                f"{d['server_rss_kib_per_connection']:.1f} KiB per connection",
            ),
            (
                "server CPU",
                self._unmeasured(d["server_cpu_us_per_frame"])
                or f"{d['server_cpu_us_per_frame']:.0f} µs per delivered frame "
                f"(= {d['server_cpu_us_per_frame']:.0f} ms per 1,000 frames)",
            ),
            (
                "server CPU idle",
                self._idle_cpu_row(),
            ),
            (
                "load generator",
                f"{d['generator_cpu_percent']:.0f}% of one core while writing and draining "
                "(near 100%: the generator, not the server, limits latency)",
            ),
            (
                "invariants",
                "ok" if not self.invariant_problems else f"{len(self.invariant_problems)} violated",
            ),
            ("result", "PASS" if self.ok else "FAIL"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
        for reason, count in self.connect_failures.most_common(5):
            lines.append(f"{'client failure'.ljust(width)}  {count} x {reason}")
        for problem in self.invariant_problems[:5]:
            lines.append(f"{'invariant'.ljust(width)}  {problem}")
        for error in self.first_errors:
            lines.append(f"{'first errors'.ljust(width)}  {error}")
        for pid in self.servers_gone:
            lines.append(f"{'server gone'.ljust(width)}  process {pid} ended during the run")
        rule = "-" * max(len(line) for line in lines)
        return "\n".join([rule, *lines, rule])


def _latency_figures(delivery: Delivery | None) -> dict[str, float]:
    """The latency percentiles of the report (NaN when there is nothing to measure)."""
    return {
        name: delivery.latency(q) if delivery else math.nan
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
    }


def _slowest_row(latency_ms: float, post_at_s: float) -> str:
    if math.isnan(latency_ms) or math.isnan(post_at_s):
        return "none"
    return f"{latency_ms:.1f} ms, its POST at t={post_at_s:.1f}s"


def _latency_row(figures: dict[str, float]) -> str:
    if all(math.isnan(v) for v in figures.values()):
        return "none (no frame delivered)"
    return "  ".join(f"{name} {value:.1f}" for name, value in figures.items())
