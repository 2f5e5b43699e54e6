"""Run a snippet in a fresh interpreter with the project's settings: for what importing a
module does to the process (the ASGI module's gc freeze and Twisted change), which the test
process, having imported it long ago, cannot show."""

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
