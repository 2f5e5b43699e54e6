"""SPEC section 4: login is throttled per username and per client address, answering 429
with Retry-After. Runs last (file name): the address limit locks this client's logins for a
minute, and every other test logs in once, up front."""

from __future__ import annotations

import pytest

from .harness import PASSWORD

pytestmark = pytest.mark.integration


def test_failed_logins_lock_the_username(server):
    statuses = [server.login("acc_throttle", f"wrong-{i}").status for i in range(10)]
    assert statuses == [401] * 10, statuses
    r = server.login("acc_throttle", "wrong-again")
    assert r.status == 429, r
    assert int(r.headers["Retry-After"]) > 0, r.headers
    assert "detail" in r.json
    # Even the right password waits now; other usernames are not affected.
    assert server.login("acc_throttle", PASSWORD).status == 429
    assert server.login("acc_sales2").status == 200


def test_attempts_from_one_address_are_capped(server):
    statuses = []
    for _ in range(110):
        r = server.post("/api/auth/token/", {"username": "", "password": ""})
        statuses.append(r.status)
        if r.status == 429:
            break
    assert statuses[0] == 400, statuses[:3]
    assert statuses[-1] == 429, statuses
    assert len(statuses) <= 101, len(statuses)
    assert int(r.headers["Retry-After"]) > 0, r.headers
    assert server.login("acc_sales2").status == 429
