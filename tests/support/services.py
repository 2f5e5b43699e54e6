"""Skip-or-fail for tests that need a real service (PostgreSQL, Redis, Chromium).

On a developer's machine such a test skips with the reason; with
ESCASHOP_REQUIRE_SERVICES=1 (set by .ci/run) it fails instead, so CI can never go green
by skipping the tests that matter.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.db import connection

REQUIRED = os.environ.get("ESCASHOP_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (ESCASHOP_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(reason)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail(
            "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/escashop"
        )


def require_redis() -> str:
    """The Redis URL the project is configured with, after checking Redis answers."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        skip_or_fail("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"needs Redis at {url}, which does not answer: {exc}")
    return url


def require_chromium() -> str:
    path = os.environ.get("ESCASHOP_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.exists(path) or shutil.which(path)):
        skip_or_fail(f"needs Chromium at {path} (Debian: apt-get install chromium)")
    return path
