"""Run a snippet in a fresh interpreter with the project's settings: for what importing a
module does to the process (the ASGI module's gc freeze and Twisted change), which the test
process, having imported it long ago, cannot show; and ``manage.py`` under an environment of
the test's choosing, for what settings do with it at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fresh_python(code: str) -> str:
    """``code``'s standard output; fails the test if it exits with an error."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "escashop.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``manage.py args`` with this process's environment minus the project's own variables
    (``DJANGO_*``, ``ESCASHOP_*``, ``DATABASE_URL``), plus ``env``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "ESCASHOP_"))
    }
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
