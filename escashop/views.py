"""The shop page: one HTML shell; everything on it comes from the REST API and the websocket.

The page holds no data and no business rules. Staff log in on it with the API's JWT
endpoints, the transactions they may see come from ``/api/transactions/`` (the one
visibility policy), and ``/ws/`` keeps them live. See docs/shop-ui.md.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_safe

#: Only our own scripts, styles and connections (``'self'`` covers ws:/wss: to this host).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@require_safe
def shop(request: HttpRequest) -> HttpResponse:
    response = render(request, "shop/index.html", {"time_zone": settings.TIME_ZONE})
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # The shell is tiny; never let a cache serve a page that points at old module versions.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 for a request it refused as suspicious (too many query parameters or
    form fields, a Host it does not serve): JSON under /api/, Django's own page elsewhere."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        detail = f"More than {limit} query parameters or form fields."
    elif isinstance(exception, DisallowedHost):
        detail = "This host name is not served here."
    else:
        detail = "Bad request."
    return JsonResponse({"detail": detail}, status=400)
