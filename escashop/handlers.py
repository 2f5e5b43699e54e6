"""Django's ASGI handler with its middleware chain built once, for sync code.

Under ASGI Django builds the middleware chain in async mode, adapting at every boundary.
WhiteNoise is sync-only, so a request went loop → thread (Security, WhiteNoise) → loop
(``async_to_sync``) → and then one ``sync_to_async`` thread hop for each ``process_request``
and ``process_response`` of the ``MiddlewareMixin`` middleware below it, and one more for
the (sync, DRF) view: about a dozen hops, measured at ~6 ms of CPU per request on top of
the view's own work (``docs/performance.md``). Every view here is sync, so the chain is
built in sync mode and the whole request, middleware and view, runs in one hop to the
request's worker thread, as under WSGI. Request parsing, the request signals and the
response streaming stay Django's own ASGI code.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        # thread_sensitive: the request's own thread (Django's ThreadSensitiveContext per
        # request), where its database connection is opened and, at request_finished, closed.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
