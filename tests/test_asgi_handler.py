"""The project's ASGI handler: Django's request handling, with the middleware chain run in
one hop to the request's thread (``escashop/handlers.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.testing import HttpCommunicator
from django.core.signals import request_finished, request_started

from escashop.asgi import application, django_asgi_app
from escashop.handlers import RequestSlots
from tests.support.services import require_postgres

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_middleware_chain_is_built_for_sync_code():
    assert not asyncio.iscoroutinefunction(django_asgi_app._middleware_chain)


async def test_requests_pass_through_every_middleware_and_the_view():
    communicator = HttpCommunicator(
        application, "GET", "/api/auth/me/", headers=[(b"host", b"localhost")]
    )
    response = await communicator.get_response()
    assert response["status"] == 401  # DRF's view ran and refused the missing token
    headers = {k.decode().lower(): v.decode() for k, v in response["headers"]}
    assert headers["x-frame-options"] == "DENY"  # XFrameOptionsMiddleware (innermost)
    assert headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware (outermost)
    assert "detail" in json.loads(response["body"])


def _wrong_login(username: str) -> HttpCommunicator:
    """A JSON POST to the login view with a wrong password (the view reads the database)."""
    body = json.dumps({"username": username, "password": "wrong"}).encode()
    return HttpCommunicator(
        application,
        "POST",
        "/api/auth/token/",
        body=body,
        headers=[
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"host", b"localhost"),
        ],
    )


async def test_a_post_with_a_body_reaches_the_view(admin_user):
    communicator = _wrong_login("admin")
    response = await communicator.get_response()
    assert response["status"] == 401
    assert "No active account" in json.loads(response["body"])["detail"]


async def _login_attempt() -> int:
    communicator = _wrong_login("ada")
    status = (await communicator.get_response())["status"]
    await communicator.wait()  # the request's end (request_finished) comes after the body
    return status


async def test_request_threads_are_reused_not_started_for_each_request(admin_user):
    idle = django_asgi_app._idle_threads
    idle.clear()
    assert await _login_attempt() == 401  # reads the database on the request's thread
    (first,) = idle
    assert await _login_attempt() == 401  # the same thread again, its connection usable
    assert idle == [first]
    # Requests at the same time each have a thread to themselves; all are kept afterwards.
    statuses = await asyncio.gather(*(_login_attempt() for _ in range(3)))
    assert statuses == [401, 401, 401]
    assert first in idle and 1 <= len(idle) <= 3 and len(set(map(id, idle))) == len(idle)


class _CountingExecutor(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


async def test_a_request_runs_its_signals_and_view_in_one_hop_to_its_thread(admin_user):
    idle = django_asgi_app._idle_threads
    idle.clear()
    executor = _CountingExecutor()
    idle.append(executor)  # the next request's thread
    seen: list[tuple[str, int]] = []

    def started(**kwargs):
        seen.append(("started", threading.get_ident()))

    def finished(**kwargs):
        seen.append(("finished", threading.get_ident()))

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        assert await _login_attempt() == 401  # the view reads the database
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert executor.submitted == 1  # Django's own handler: three
    assert [name for name, _ in seen] == ["started", "finished"]
    assert seen[0][1] == seen[1][1] != threading.get_ident()
    idle.remove(executor)  # kept for the next request, which must not find it shut down
    executor.shutdown()


def _holds_a_connection() -> bool:
    from django.db import connections

    return any(connections[alias].connection is not None for alias in connections)


@pytest.mark.integration
async def test_a_request_cut_short_leaves_no_connection_on_its_kept_thread(admin_user):
    # PostgreSQL: SQLite's in-memory test database keeps its one connection open anyway.
    require_postgres()
    idle = django_asgi_app._idle_threads
    idle.clear()
    communicator = _wrong_login("ada")
    assert (await communicator.get_response())["status"] == 401
    communicator.future.cancel()  # gone before request_finished closed the connection
    with contextlib.suppress(asyncio.CancelledError):
        await communicator.future
    (thread,) = idle
    assert not await asyncio.wrap_future(thread.submit(_holds_a_connection))


@contextlib.contextmanager
def _slots(limit: int):
    saved = django_asgi_app.slots
    django_asgi_app.slots = RequestSlots(limit)
    try:
        yield
    finally:
        django_asgi_app.slots = saved


def _get(path: str) -> HttpCommunicator:
    return HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost")])


async def _until(condition, what: str) -> None:
    for _ in range(500):  # at most 5 s
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_at_most_the_limit_of_requests_run_their_sync_code_at_once():
    release = threading.Event()
    lock = threading.Lock()
    running = {"now": 0, "most": 0, "started": 0}

    def started(**kwargs):  # on the request's thread, inside its slot
        with lock:
            running["now"] += 1
            running["started"] += 1
            running["most"] = max(running["most"], running["now"])
        release.wait(5)
        with lock:
            running["now"] -= 1

    request_started.connect(started)
    try:
        with _slots(2):
            requests = [
                asyncio.ensure_future(_get("/api/auth/me/").get_response()) for _ in range(4)
            ]
            await _until(lambda: running["started"] == 2, "two requests in their slots")
            await asyncio.sleep(0.2)  # the other two had time to start, were they let in
            assert running["started"] == 2 and not any(r.done() for r in requests)
            release.set()
            responses = await asyncio.wait_for(asyncio.gather(*requests), 10)
    finally:
        release.set()
        request_started.disconnect(started)
    assert [r["status"] for r in responses] == [401] * 4  # every queued request was served
    assert running["most"] == 2 and running["started"] == 4


async def test_health_and_metrics_skip_the_queue_for_a_slot():
    release = threading.Event()
    blocked = threading.Event()

    def started(scope, **kwargs):
        if scope["path"] == "/api/auth/me/":
            blocked.set()
            release.wait(5)

    request_started.connect(started)
    try:
        with _slots(1):
            busy = asyncio.ensure_future(_get("/api/auth/me/").get_response())
            await _until(blocked.is_set, "the one slot taken")
            metrics = await asyncio.wait_for(_get("/metrics").get_response(), 5)
            health = await asyncio.wait_for(_get("/healthz").get_response(), 5)
            queued = asyncio.ensure_future(_get("/api/auth/me/").get_response())
            await asyncio.sleep(0.2)
            assert not queued.done()  # an API request does wait for the slot
            release.set()
            assert (await asyncio.wait_for(busy, 5))["status"] == 401
            assert (await asyncio.wait_for(queued, 5))["status"] == 401
    finally:
        release.set()
        request_started.disconnect(started)
    assert metrics["status"] == 200 and b"escashop_" in metrics["body"]
    assert health["status"] in (200, 503) and b"database" in health["body"]


def test_the_default_limit_and_no_limit():
    from django.conf import settings

    assert django_asgi_app.slots.limit == settings.ESCASHOP_REQUEST_CONCURRENCY == 2
    assert RequestSlots(0).for_path("/api/transactions/") is None


async def test_the_slots_are_one_semaphore_per_loop_and_none_for_the_ops_paths():
    slots = RequestSlots(3)
    assert slots.for_path("/healthz") is None and slots.for_path("/metrics") is None
    first = slots.for_path("/api/transactions/")
    assert first is slots.for_path("/admin/")
    for _ in range(3):
        await asyncio.wait_for(first.acquire(), 1)  # three slots free
    assert first.locked()  # and no fourth
