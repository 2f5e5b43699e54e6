"""Operations endpoints: ``/healthz`` for load balancers, ``/metrics`` for Prometheus.

``/healthz`` answers 200 when this process can reach the database and the channel layer,
503 naming the check that failed otherwise, always within about ``HEALTH_TIMEOUT`` seconds:
a load balancer must get an answer quickly even when a dependency hangs rather than refuses.
An answer is reused for ``HEALTH_REUSE_SECONDS``, so asking often costs nothing more.
Neither endpoint shows a token, a password or a connection string (only exception class
names; the full error goes to the log, which never holds credentials either).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import threading
import time
import uuid

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.db.utils import load_backend
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from realtime.metrics import HEALTH_CHECK_FAILURES

logger = logging.getLogger(__name__)

#: Seconds each check may take; both run at once, so the endpoint answers within about this.
HEALTH_TIMEOUT = 2.0

#: A group nobody joins: sending to it exercises the layer's backend without reaching anyone.
HEALTH_GROUP = "escashop.healthz"

#: Seconds an answer is reused: however many ask at once (several balancers, or anyone who
#: reaches a daphne port), a process opens at most one database connection a second for it.
HEALTH_REUSE_SECONDS = 1.0


class _HealthAnswers:
    """The last answer, with when its checks began and ended. A caller takes it when it
    ended after the caller arrived (the caller waited for that round: a round under way is
    never followed by another for those waiting on it, however slow it was) or began less
    than ``HEALTH_REUSE_SECONDS`` ago; otherwise it runs a round. So no caller waits longer
    than about two rounds, each bounded by ``HEALTH_TIMEOUT``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = self.ended = -math.inf
        self.answer: tuple[dict, bool] | None = None

    def get(self) -> tuple[dict, bool]:
        arrived = time.monotonic()
        with self.lock:
            fresh = time.monotonic() - self.started < HEALTH_REUSE_SECONDS
            if self.answer is None or not (fresh or self.ended >= arrived):
                started = time.monotonic()
                self.answer = async_to_sync(_checks)()
                self.started, self.ended = started, time.monotonic()
            return self.answer

    def forget(self) -> None:
        with self.lock:
            self.answer = None


HEALTH_ANSWERS = _HealthAnswers()


def _database_probe() -> None:
    """Run ``SELECT 1`` on a fresh connection with short timeouts, then close it.

    A fresh connection (not this thread's pooled one) proves new connections can be made, and
    lets us set a connect and statement timeout without touching the application's settings.
    """
    raw = copy.deepcopy(settings.DATABASES["default"])
    options = raw.setdefault("OPTIONS", {})
    options.pop("pool", None)  # a one-off connection, never a pool
    timeout = max(1, int(HEALTH_TIMEOUT))
    if raw["ENGINE"] == "django.db.backends.postgresql":
        options["connect_timeout"] = timeout
        options["options"] = f"-c statement_timeout={timeout * 1000}"
    elif raw["ENGINE"] == "django.db.backends.sqlite3":
        options["timeout"] = timeout
    configured = connections.configure_settings({"default": raw})["default"]
    wrapper = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, "healthz")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()


async def _channel_layer_probe() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    await layer.group_send(HEALTH_GROUP, {"type": "healthz.ping", "id": uuid.uuid4().hex})


async def _timed(name: str, probe) -> dict:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout=HEALTH_TIMEOUT)
    except TimeoutError:
        error = f"timed out after {HEALTH_TIMEOUT:g}s"
        logger.warning("healthz: %s check %s", name, error)
    except Exception as exc:  # any failure of a dependency is a failed check, not a 500
        error = type(exc).__name__
        # One line per record: psycopg's messages span several.
        logger.warning("healthz: %s check failed: %s: %s", name, error, " ".join(str(exc).split()))
    else:
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    HEALTH_CHECK_FAILURES.labels(check=name).inc()
    return {"ok": False, "error": error}


async def _checks() -> tuple[dict, bool]:
    database, channel_layer = await asyncio.gather(
        _timed("database", sync_to_async(_database_probe, thread_sensitive=False)),
        _timed("channel_layer", _channel_layer_probe),
    )
    checks = {"database": database, "channel_layer": channel_layer}
    return checks, all(check["ok"] for check in checks.values())


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``{"status": "ok", ...}`` or 503 ``{"status": "unavailable", ...}`` with each check
    (at most ``HEALTH_REUSE_SECONDS`` old)."""
    checks, healthy = HEALTH_ANSWERS.get()
    response = JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
    # The failed check was logged as a warning, once per round (``_timed``): not again as
    # django.request's ERROR "Service Unavailable" for every balancer's every poll.
    response._has_been_logged = True
    return response


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this process's registry (scrape every daphne process)."""
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


class OpsEndpointsMiddleware:
    """``/healthz`` and ``/metrics`` for whoever asks a daphne port directly, first in the chain.

    A load balancer and Prometheus reach each process by its own address, which is not the
    shop's host name and not HTTPS: behind them, ``ALLOWED_HOSTS`` would answer 400 and
    ``DJANGO_HTTPS=1`` a redirect to the public site. These two answers build no URL from
    the Host header and carry nothing HTTPS protects, so they skip both; every other path
    goes through the whole chain as before. This is the one place they are routed.
    """

    VIEWS = {"/healthz": healthz, "/metrics": metrics}

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.VIEWS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return view(request)
