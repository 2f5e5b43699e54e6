"""``scripts/bench``, the documented way to reproduce docs/performance.md, runs end to end.

A short light-load run on a database of its own: the script creates and migrates it, starts
daphne, runs the load test and records the figures as a JSON line.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.support.daphne import free_port
from tests.support.services import require_postgres, require_redis

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_database_url():
    require_postgres()
    url = urlsplit(os.environ["DATABASE_URL"])
    name = f"escashop_bench_test_{os.getpid()}"
    admin = url._replace(path="/postgres").geturl()
    yield url._replace(path=f"/{name}").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _bench(*args: str, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(ROOT / "scripts" / "bench"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _bench_env(bench_database_url, tmp_path, port: int) -> dict:
    return {
        **os.environ,
        "BENCH_DATABASE_URL": bench_database_url,
        "BENCH_PORT": str(port),
        "BENCH_DURATION": "2",
        "BENCH_OUT": str(tmp_path),
        # The suite's interpreter is the project's; the script's venv check reuses it.
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }


def test_bench_light_run_records_its_figures(bench_database_url, tmp_path):
    redis_url = require_redis()
    port = free_port()
    env = {**_bench_env(bench_database_url, tmp_path, port), "BENCH_REDIS_URL": redis_url}
    done = _bench("light", env=env)
    assert "action-to-screen ms" in done.stdout
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1
    run = json.loads(lines[0])
    assert (run["scenario"], run["layer"]) == ("light", "pubsub")
    figures = run["figures"]
    assert figures["ok"] is True
    assert figures["settlements_ok"] >= 20
    assert (
        figures["frames_delivered"] == figures["frames_expected"] == 10 * figures["settlements_ok"]
    )
    assert figures["lost"] == figures["duplicated"] == 0
    assert figures["server_cpu_us_per_frame"] > 0
    # The daphne it started is gone: nothing listens on its port any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_bench_compare_alternates_two_versions_and_reports_each_pair(bench_database_url, tmp_path):
    """``scripts/bench compare REF PAIRS ...``: REF's code from a git worktree and this
    tree's, PAIRS times, the order swapped every pair, and the difference of each pair of
    runs (here REF is this very commit). A scenario of several runs ("light 2") is matched
    run by run with the other side's, never with its own side's next run."""
    redis_url = require_redis()
    env = {
        **_bench_env(bench_database_url, tmp_path, free_port()),
        "BENCH_REDIS_URL": redis_url,
        "BENCH_DURATION": "1",
    }
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    worktree = tmp_path / f"compare-{head}"
    try:
        done = _bench("compare", "HEAD", "2", "light", "2", env=env)
        assert (worktree / "scripts" / "bench").exists()
        runs = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
        assert [run["scenario"] for run in runs] == ["light"] * 8
        checkouts = [Path(run["checkout"]).resolve() for run in runs]
        ref, tree = worktree.resolve(), Path(ROOT).resolve()
        # REF first, then this tree first; two runs per invocation.
        assert checkouts == [ref, ref, tree, tree, tree, tree, ref, ref]
        assert runs[0]["commit"] == head  # the worktree: REF exactly
        assert runs[2]["commit"].startswith(head)  # this tree (+changes when modified)
        assert all(run["figures"]["ok"] for run in runs)
        # Committed, REF's loadtest is this tree's; with uncommitted changes to it, REF's may
        # predate "latency_decoded_ms", and then both sides are compared by that measure.
        old = any("latency_decoded_ms" not in run["figures"] for run in runs)
        assert ("==> 4 pairs, p50 ms until decoded:" if old else "==> 4 pairs, p50 ms:") in (
            done.stdout
        )
        measure = "latency_decoded_ms" if old else "latency_ms"
        p50 = [run["figures"].get(measure, run["figures"]["latency_ms"])["p50"] for run in runs]
        # This tree's minus REF's, the i-th run of one invocation against the i-th of the other.
        differences = [p50[2] - p50[0], p50[3] - p50[1], p50[4] - p50[6], p50[5] - p50[7]]
        for difference in differences:
            assert f"{difference:+8.2f}" in done.stdout
        assert f"median difference {statistics.median(differences):+.2f}" in done.stdout
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True
        )


@pytest.mark.parametrize("runs", ["0", "-2", "abc", "1x"])
def test_a_bad_run_count_is_refused_with_the_usage(runs, tmp_path):
    """``light 0`` ran nothing and passed; ``light abc`` failed with a bash error."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "light", runs],
        cwd=ROOT,
        env={**os.environ, "BENCH_OUT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "scripts/bench light [RUNS]" in done.stdout
    assert "unbound variable" not in done.stderr
