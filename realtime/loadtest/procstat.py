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


class ProcessGone(LookupError):
    """A server pid has no /proc entry any more: the process ended during the run."""


def proc_sample(pids: list[int]) -> ProcSample | None:
    """Read every pid's RSS and CPU time; None when no pid was given."""
    if not pids:
        return None
    rss = 0
    cpu = 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            raise ProcessGone(pid) from None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) * 1024
                break
        else:  # a zombie: ended, not yet reaped by its parent
            raise ProcessGone(pid)
        # The command name (field 2) may hold spaces; fields after its ")" are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        cpu += (utime + stime) / CLOCK_TICKS
    return ProcSample(rss_bytes=rss, cpu_seconds=cpu)


def listening_ports(pid: int) -> set[int] | None:
    """The TCP ports ``pid`` listens on (IPv4 and IPv6), from /proc/net and its open files;
    None when its open files cannot be read (another user's process, say)."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile (the listing's own, for one)
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXADDR:HEXPORT; state 0A is LISTEN; field 9 the inode.
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
