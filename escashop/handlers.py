"""Django's ASGI handler with its middleware chain built once, for sync code.

Under ASGI Django builds the middleware chain in async mode, adapting at every boundary.
WhiteNoise is sync-only, so a request went loop → thread (Security, WhiteNoise) → loop
(``async_to_sync``) → and then one ``sync_to_async`` thread hop for each ``process_request``
and ``process_response`` of the ``MiddlewareMixin`` middleware below it, and one more for
the (sync, DRF) view: about a dozen hops, measured at ~6 ms of CPU per request on top of
the view's own work (``docs/performance.md``). Every view here is sync, so the chain is
built in sync mode and the whole request, middleware and view, runs in one hop to the
request's worker thread, as under WSGI. Request parsing, the request signals and the
response streaming stay Django's own ASGI code. Request threads are reused, not started
for each request (``__call__``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections

#: Idle request threads kept for the next requests; more are made while more requests run
#: at once, and those beyond this many are let go when their request ends.
MAX_IDLE_REQUEST_THREADS = 32


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)
        self._idle_threads: list[ThreadPoolExecutor] = []

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

    async def get_response_async(self, request):
        # thread_sensitive: the request's own thread (Django's ThreadSensitiveContext per
        # request), where its database connection is opened and, at request_finished, closed.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
