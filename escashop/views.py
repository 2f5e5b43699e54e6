"""The shop page (issue 5 fills it in)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def shop(request: HttpRequest) -> HttpResponse:
    return HttpResponse("EscaShop payments: the shop page is coming.", content_type="text/plain")
