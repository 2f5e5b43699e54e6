"""/metrics: Prometheus text exposition of the real-time metrics an operator scrapes."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from realtime.metrics import FRAMES_SENT, HEALTH_CHECK_FAILURES, WS_CONNECTIONS
from tests.support.fresh_python import manage


def _samples(client) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.content.decode())
        for s in family.samples
    }


def test_metrics_expose_the_realtime_families_and_process_stats(client):
    WS_CONNECTIONS.labels(role="admin").inc()
    try:
        names = {name for name, _ in _samples(client)}
    finally:
        WS_CONNECTIONS.labels(role="admin").dec()
    assert "escashop_ws_connections" in names
    assert "process_resident_memory_bytes" in names
    assert "process_cpu_seconds_total" in names


def test_metrics_move_with_what_the_process_does(client):
    key = ("escashop_ws_event_frames_sent_total", (("path", "catchup"),))
    before = _samples(client).get(key, 0.0)
    FRAMES_SENT.labels(path="catchup").inc(3)
    assert _samples(client)[key] == before + 3


@pytest.mark.django_db
def test_failed_health_checks_are_counted(client, settings, closed_port):
    key = ("escashop_health_check_failures_total", (("check", "channel_layer"),))
    before = HEALTH_CHECK_FAILURES.labels(check="channel_layer")._value.get()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{closed_port}/0"]},
        }
    }
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["database"]["ok"] is True
    assert _samples(client)[key] == before + 1


def test_every_labelled_series_exists_from_the_start():
    """A series that first appears at 1 hides that first failure or event from increase()
    and rate(): each known label is exported at 0 by a process that has done nothing yet."""
    code = (
        "from django.test import Client\n"
        "from prometheus_client.parser import text_string_to_metric_families as parse\n"
        "text = Client().get('/metrics').content.decode()\n"
        "for family in parse(text):\n"
        "    for s in family.samples:\n"
        "        if s.name.startswith('escashop_') and s.labels and not s.name.endswith(\n"
        "            ('_created', '_bucket')):\n"
        "            print(s.name, *sorted(s.labels.values()), s.value)\n"
    )
    result = manage("shell", "-c", code, DJANGO_DEBUG="1", DJANGO_ALLOWED_HOSTS="testserver")
    assert result.returncode == 0, result.stderr
    printed = set(result.stdout.splitlines())
    for line in [
        "escashop_health_check_failures_total database 0.0",
        "escashop_health_check_failures_total channel_layer 0.0",
        "escashop_events_written_total payment_status_updated 0.0",
        "escashop_events_written_total transaction_updated 0.0",
        "escashop_ws_connections admin 0.0",
        "escashop_ws_connections cashier 0.0",
        "escashop_ws_connections sales 0.0",
        "escashop_ws_connections none 0.0",
    ]:
        assert line in printed, (line, sorted(printed))
