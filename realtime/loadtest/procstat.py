"""Server-side cost from ``/proc/<pid>`` (Linux): resident memory and CPU time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcSample:
    """The summed RSS (bytes) and user+system CPU time (seconds) of some processes."""

    rss_bytes: int
    cpu_seconds: float


def proc_sample(pids: list[int]) -> ProcSample | None:
    """Read every pid's RSS and CPU time; None when no pid was given."""
    if not pids:
        return None
    rss = 0
    cpu = 0.0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) * 1024
                break
        stat = Path(f"/proc/{pid}/stat").read_text()
        # The command name (field 2) may hold spaces; fields after its ")" are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        cpu += (utime + stime) / CLOCK_TICKS
    return ProcSample(rss_bytes=rss, cpu_seconds=cpu)
