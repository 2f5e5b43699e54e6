"""``scripts/bench``, the documented way to reproduce docs/performance.md, runs end to end.

A short light-load run on a database of its own: the script creates and migrates it, starts
daphne, runs the load test and records the figures as a JSON line.
"""

from __future__ import annotations

import json
import os
import socket
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


def test_bench_light_run_records_its_figures(bench_database_url, tmp_path):
    redis_url = require_redis()
    port = free_port()
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": bench_database_url,
        "BENCH_REDIS_URL": redis_url,
        "BENCH_PORT": str(port),
        "BENCH_DURATION": "2",
        "BENCH_OUT": str(tmp_path),
        # The suite's interpreter is the project's; the script's venv check reuses it.
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "light"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
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
