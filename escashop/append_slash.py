"""Django's CommonMiddleware, with the missing-slash redirect kept safe for writes."""

from __future__ import annotations

from django.http import HttpResponsePermanentRedirect
from django.middleware.common import CommonMiddleware
from django.utils.http import escape_leading_slashes


class PermanentRedirectKeepingMethod(HttpResponsePermanentRedirect):
    """308: the client repeats the same method, with the same body, at the new URL."""

    status_code = 308


class AppendSlashMiddleware(CommonMiddleware):
    """``POST /api/transactions`` is redirected with a 308 to ``/api/transactions/``.

    Django answers a 301, which clients follow with a GET (a sale posted there was never
    created, and the client saw the list instead), and with debug on it raises an error
    for DELETE, POST, PUT and PATCH (a 500) because of that. A 308 keeps the method and body,
    so every method gets the redirect.
    """

    response_redirect_class = PermanentRedirectKeepingMethod

    def get_full_path_with_slash(self, request) -> str:
        # Django's, without the debug-mode error (the body is not lost with a 308).
        return escape_leading_slashes(request.get_full_path(force_append_slash=True))
