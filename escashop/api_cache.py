"""API answers are never stored by a browser or a proxy.

They hold customers' names and contacts and what each paid; a shared counter PC's browser
cache would otherwise keep them after the user logged out. Django's ``never_cache`` headers
on every ``/api/`` response that did not set its own ``Cache-Control``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

API_PREFIX = "/api/"


class ApiNoStoreMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(API_PREFIX) and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
