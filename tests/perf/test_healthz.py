"""/healthz: 200 when the database and the channel layer answer, 503 naming the one that does
not, within bounded time even when a dependency hangs instead of refusing."""

from __future__ import annotations

import time

import pytest
from django.db import connections

from escashop.ops import HEALTH_TIMEOUT

pytestmark = pytest.mark.django_db


def _redis_layer(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
        }
    }


def test_healthz_is_ok_when_database_and_channel_layer_answer(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True
    assert "no-cache" in resp["Cache-Control"] or "max-age=0" in resp["Cache-Control"]


def test_healthz_names_a_refused_channel_layer(client, settings, closed_port, caplog):
    settings.CHANNEL_LAYERS = _redis_layer(closed_port)
    resp = client.get("/healthz")
    # Logged once as the check's warning, not again as an ERROR for the 503 itself.
    assert [r.levelname for r in caplog.records if r.name == "escashop.ops"] == ["WARNING"]
    assert not [r for r in caplog.records if r.name == "django.request"]
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is False
    assert str(closed_port) not in resp.content.decode()  # no connection details leak


def test_healthz_answers_in_bounded_time_when_redis_hangs(client, settings, silent_port):
    settings.CHANNEL_LAYERS = _redis_layer(silent_port)
    started = time.monotonic()
    resp = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert resp.status_code == 503
    assert resp.json()["checks"]["channel_layer"] == {
        "ok": False,
        "error": f"timed out after {HEALTH_TIMEOUT:g}s",
    }
    assert elapsed < HEALTH_TIMEOUT + 1.5


@pytest.mark.parametrize("port_fixture", ["closed_port", "silent_port"])
def test_healthz_names_an_unreachable_database(
    client, settings, monkeypatch, request, port_fixture
):
    port = request.getfixturevalue(port_fixture)
    unreachable = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "escashop",
        "USER": "postgres",
        "PASSWORD": "not-shown-anywhere",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    # Only the probe's fresh connection reads this; the test's own connection is already open.
    unreachable = connections.configure_settings({"default": unreachable})["default"]
    monkeypatch.setitem(settings.DATABASES, "default", unreachable)
    started = time.monotonic()
    resp = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert resp.status_code == 503
    body = resp.json()
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["channel_layer"]["ok"] is True
    assert "not-shown-anywhere" not in resp.content.decode()
    assert elapsed < HEALTH_TIMEOUT + 1.5


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_ops_endpoints_answer_a_direct_request_to_a_port(client, settings, path):
    # Production settings: the shop's host name only, HTTPS redirect on. A load balancer or
    # Prometheus asks the daphne port by its own address, over plain HTTP.
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    resp = client.get(path, HTTP_HOST="10.0.0.5:8001")
    assert resp.status_code == 200
    # Anything else is still refused for that host, and redirected for the shop's own.
    assert client.get("/api/auth/me/", HTTP_HOST="10.0.0.5:8001").status_code == 400
    assert client.get("/", HTTP_HOST="shop.example.com").status_code == 301


def test_callers_within_a_second_share_one_round_of_checks(client, monkeypatch):
    """Anyone who reaches a daphne port, or several balancers polling, cost a process at most
    one database connection a second for it: answers are reused for HEALTH_REUSE_SECONDS."""
    from escashop import ops

    # callers arriving meanwhile wait for this round
    rounds = _counted_probe(monkeypatch, seconds=0.2)
    assert _at_once(client, 8) == [200] * 8
    assert len(rounds) == 1
    time.sleep(ops.HEALTH_REUSE_SECONDS)
    assert client.get("/healthz").status_code == 200
    assert len(rounds) == 2


def test_callers_waiting_on_a_slow_round_take_its_answer(client, monkeypatch):
    """A hung dependency makes a round last up to HEALTH_TIMEOUT, longer than an answer is
    reused: the callers that waited for it must take it, not each run another in turn
    (the fourth caller then waited four rounds)."""
    from escashop import ops

    rounds = _counted_probe(monkeypatch, seconds=ops.HEALTH_REUSE_SECONDS + 0.3)
    assert _at_once(client, 4, apart=0.05) == [200] * 4
    assert len(rounds) == 1


def _counted_probe(monkeypatch, *, seconds: float) -> list[float]:
    """The database check made to take ``seconds``; the list of when each round began."""
    from escashop import ops

    rounds: list[float] = []
    real = ops._database_probe

    def counted() -> None:
        rounds.append(time.monotonic())
        time.sleep(seconds)
        real()

    monkeypatch.setattr(ops, "_database_probe", counted)
    return rounds


def _at_once(client, callers: int, *, apart: float = 0.0) -> list[int]:
    """``callers`` threads asking /healthz, started ``apart`` seconds apart; their statuses."""
    import threading

    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(client.get("/healthz").status_code))
        for _ in range(callers)
    ]
    for thread in threads:
        thread.start()
        time.sleep(apart)
    for thread in threads:
        thread.join(15)
    return answers
