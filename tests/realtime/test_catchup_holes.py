"""The per-process catch-up: ids can commit out of order, so a missing id is asked for again
until it commits or its grace period ends; meanwhile the settled watermark stays below it."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from realtime.delivery import CatchupHub


def _rows(*ids: int) -> list:
    return [SimpleNamespace(pk=i) for i in ids]


def _hub() -> CatchupHub:
    hub = CatchupHub(asyncio.new_event_loop())
    hub.max_seen = 10
    hub.settled = 10
    return hub


def test_a_missing_id_is_remembered_and_holds_the_watermark():
    hub = _hub()
    hub._account(_rows(11, 13, 14))
    assert hub.holes.keys() == {12}
    assert hub.max_seen == 14
    assert hub.settled == 11
    hub._account(_rows(12, 15))
    assert hub.holes == {}
    assert hub.settled == 15


def test_a_hole_is_given_up_after_the_grace_period(settings):
    settings.ESCASHOP_CATCHUP_GRACE_SECONDS = 0.05
    hub = _hub()
    hub._account(_rows(12))
    assert hub.holes.keys() == {11}
    time.sleep(0.1)
    hub._account([])
    assert hub.holes == {}  # a rolled-back write never commits: do not wait forever
    assert hub.settled == 12


def test_holes_are_bounded():
    hub = _hub()
    hub._account(_rows(10 + 5000))
    assert len(hub.holes) <= 1000
    assert hub.max_seen == 5010
