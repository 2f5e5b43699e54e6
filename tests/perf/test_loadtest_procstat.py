"""Server cost is read from /proc: resident memory and CPU time that grow with real work."""

from __future__ import annotations

import os
import sys
import time

import pytest

from realtime.loadtest.procstat import proc_sample

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
