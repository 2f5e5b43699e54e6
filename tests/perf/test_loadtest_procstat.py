"""Server cost is read from /proc: resident memory and CPU time that grow with real work."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtime.loadtest.procstat import ProcessGone, listening_ports, proc_sample

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_proc_sample_sees_memory_and_cpu_of_a_process():
    before = proc_sample([os.getpid()])
    ballast = bytearray(32 * 2**20)
    for i in range(0, len(ballast), 4096):  # touch every page so it becomes resident
        ballast[i] = 1
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # bounded busy loop: 0.3 s of CPU
        pass
    after = proc_sample([os.getpid()])
    assert after.rss_bytes - before.rss_bytes >= 24 * 2**20
    assert after.cpu_seconds - before.cpu_seconds >= 0.2
    del ballast


def test_several_pids_are_summed_and_none_means_not_measured():
    one = proc_sample([os.getpid()])
    two = proc_sample([os.getpid(), os.getpid()])
    assert two.rss_bytes >= 2 * one.rss_bytes * 0.9
    assert proc_sample([]) is None


def test_a_process_that_ended_is_named_not_an_os_error():
    """A server that died mid-run was reported as "cannot reach ...: No such file"."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    with pytest.raises(ProcessGone) as gone:
        proc_sample([proc.pid])
    assert gone.value.args == (proc.pid,)


def test_a_process_ended_but_not_yet_reaped_is_gone_too():
    """A zombie still has /proc/<pid>/status, without VmRSS: it read as 0 bytes."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while "State:\tZ" not in Path(f"/proc/{proc.pid}/status").read_text():
            assert time.monotonic() < deadline, "the child did not end"
            time.sleep(0.02)
        with pytest.raises(ProcessGone):
            proc_sample([proc.pid])
    finally:
        proc.wait(timeout=30)


def test_the_ports_a_process_listens_on():
    with socket.socket() as listening, socket.socket() as bound_only:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        bound_only.bind(("127.0.0.1", 0))
        ports = listening_ports(os.getpid())
        assert listening.getsockname()[1] in ports
        assert bound_only.getsockname()[1] not in ports
