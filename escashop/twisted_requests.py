"""Daphne's requests leave a POST's body to Django: Twisted no longer parses it first.

Twisted's ``http.Request`` parses every POST that has a body and a ``Content-Type``, unless
told not to: it reads the header with the ``email`` package (70 µs a request on the twelfth
machine of ``docs/performance.md``, JSON included) and, for a form
(``application/x-www-form-urlencoded`` or ``multipart/form-data``), the whole body into
``request.args``. Daphne never reads ``args``: it hands the raw body to the ASGI app, where
Django and DRF parse it, with Django's limits (``DATA_UPLOAD_MAX_NUMBER_FIELDS`` and the
like), which Twisted's parse does not have. So that parse was wasted on every payment, and
a form was parsed twice.

``install()`` also names status 429 ("Too Many Requests", RFC 6585), which Twisted's table
lacks: a throttled login's status line read "429 Unknown Status".

``install()`` gives daphne's factory a request class that passes Twisted's own switch,
``parsePOSTFormSubmission=False``. A malformed multipart body is then refused by Django (400,
as before, when Twisted refused it itself). ``install()`` refuses, and says so, when daphne
or Twisted is not shaped as this was written for (daphne 4.2, Twisted 26.10, both pinned).
"""

from __future__ import annotations

import inspect
import logging

from daphne import http_protocol
from twisted.web import http

logger = logging.getLogger(__name__)

_daphne_request = http_protocol.WebRequest


class BodyLeftToDjango(_daphne_request):
    """Daphne's request, with Twisted's parse of form bodies switched off."""

    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)


def supported() -> bool:
    """Whether Twisted has the switch and daphne builds its requests by the module's name."""
    return (
        "parsePOSTFormSubmission" in inspect.signature(http.Request.__init__).parameters
        and "WebRequest" in http_protocol.HTTPFactory.buildProtocol.__code__.co_names
    )


def install() -> bool:
    """Make daphne's HTTP requests leave their bodies to Django (idempotent)."""
    http.RESPONSES.setdefault(429, b"Too Many Requests")
    if http_protocol.WebRequest is BodyLeftToDjango:
        return True
    if not supported():
        logger.warning("daphne or Twisted is not as expected: Twisted still parses form bodies")
        return False
    http_protocol.WebRequest = BodyLeftToDjango
    return True


def uninstall() -> None:
    """Back to daphne's own request class (for tests)."""
    http_protocol.WebRequest = _daphne_request
