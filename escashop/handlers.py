"""Django's ASGI handler with its middleware chain built once, for sync code.

Under ASGI Django builds the middleware chain in async mode, adapting at every boundary.
WhiteNoise is sync-only, so a request went loop → thread (Security, WhiteNoise) → loop
(``async_to_sync``) → and then one ``sync_to_async`` thread hop for each ``process_request``
and ``process_response`` of the ``MiddlewareMixin`` middleware below it, and one more for
the (sync, DRF) view: about a dozen hops, measured at ~6 ms of CPU per request on top of
the view's own work (``docs/performance.md``). Every view here is sync, so the chain is
built in sync mode and the whole request, with its signals, middleware and view, runs in
one hop to the request's worker thread, as under WSGI (``handle``). Reading the body,
building the request and sending the response stay Django's own ASGI code. Request
threads are reused, not started for each request (``__call__``), and at most
``ESCASHOP_REQUEST_CONCURRENCY`` requests run their sync code at once in a process
(``RequestSlots``).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections
from django.http import FileResponse
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix

from escashop.ops import OpsEndpointsMiddleware

#: Idle request threads kept for the next requests; more are made while more requests run
#: at once, and those beyond this many are let go when their request ends.
MAX_IDLE_REQUEST_THREADS = 32

#: Paths that skip the queue for a request slot: a load balancer's and Prometheus's
#: questions must be answered while the process is busy (routed in ``escashop/ops.py``).
UNQUEUED_PATHS = frozenset(OpsEndpointsMiddleware.VIEWS)


class RequestSlots:
    """At most ``limit`` requests running their sync code (middleware, view, signals) at
    once in this process; the others wait on the event loop, holding no thread, database
    connection or lock, and go in the order they came. ``limit`` 0: no limit.

    Python runs one thread at a time (the GIL). Requests beyond a couple in one process add
    no CPU, only threads handing the GIL back and forth at each database round trip, and
    longer waits for it while a transaction holds its locks (the event-order lock is held to
    COMMIT): under 16 settlements in flight over three processes, a limit of 2 took 7 % more
    writes a second than no limit in 6 of 6 pairs, about 5 % less server CPU per settlement,
    and a third of the time from POST to screen (``docs/performance.md``).
    A request waiting for a slot holds nothing, so slots cannot deadlock with the row locks;
    a slow request holds its slot until it ends, which is why the default is 2 and not 1.
    (A request cancelled while its sync code runs, which Django's handler does not do on
    its own, frees its slot while its thread finishes.) One semaphore per event loop (tests
    run several loops; daphne one).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._by_loop = weakref.WeakKeyDictionary()

    def for_path(self, path: str) -> asyncio.Semaphore | None:
        """The semaphore a request for ``path`` takes, or None when it takes none."""
        if not self.limit or path in UNQUEUED_PATHS:
            return None
        loop = asyncio.get_running_loop()
        slots = self._by_loop.get(loop)
        if slots is None:
            slots = self._by_loop[loop] = asyncio.Semaphore(self.limit)
        return slots


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)
        self._idle_threads: list[ThreadPoolExecutor] = []
        self.slots = RequestSlots(settings.ESCASHOP_REQUEST_CONCURRENCY)

    async def __call__(self, scope, receive, send):
        """Django's, with the request's thread taken from idle ones instead of started anew.

        Django runs each request's sync code on a thread of its own (a one-thread executor
        per request, in ``ThreadSensitiveContext``), started for the request and stopped
        after it: under load, starting it was a measurable share of the event loop's time.
        Here the one-thread executors are kept and reused (asgiref's ``executor=``); a
        request still has its thread to itself from start to end, and its database
        connection is still closed or returned to the pool at ``request_finished``.
        """
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self._idle_threads:
            executor = self._idle_threads.pop()
        else:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        finished = False
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
            finished = True
        finally:
            if not finished:
                # Cancelled (the client went away) or failed before ``request_finished``
                # closed the thread's database connections: close them now, after whatever
                # the thread is still doing, or the kept thread would hold one (and, with
                # the pool, keep it from other requests).
                executor.submit(close_old_connections)
            if len(self._idle_threads) < MAX_IDLE_REQUEST_THREADS:
                self._idle_threads.append(executor)
            else:
                executor.shutdown(wait=False)

    async def handle(self, scope, receive, send):
        """Django's ``handle`` (5.2), with the request's sync work in one hop to its thread.

        Django hops three times: ``request_started``'s receivers, the response, and
        ``response.close()`` (``request_finished``: the database connection is closed or
        goes back to the pool), each a thread-pool round trip with its tasks and futures on
        the event loop; and it runs a second task per request to notice a client that
        disconnects, which cannot stop a sync view anyway. Here the three run in one hop
        (``_respond``), and the response goes out once the view's thread is done with it.
        A streaming response (static files) is closed after it is sent, as Django does.
        The sync hop waits for one of the process's request slots (``RequestSlots``); reading
        the body and sending the response do not, so a slow client holds no slot.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            # thread_sensitive: the request's own thread (its ThreadSensitiveContext), where
            # its database connection is opened and, at request_finished, closed.
            respond = sync_to_async(self._respond, thread_sensitive=True)
            slots = self.slots.for_path(scope["path"].removeprefix(scope.get("root_path", "")))
            async with slots or contextlib.nullcontext():
                response = await respond(scope, body_file)
            await self.send_response(response, send)
            if response.streaming:
                await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope, body_file) -> HttpResponseBase:
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # the server chunks the rest
        if not response.streaming:
            response.close()  # request_finished, here on the request's thread
        return response
