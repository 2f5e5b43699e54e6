"""The ``id`` path converter: object ids in API URLs are ASCII digits without a leading zero.

Django's ``int`` converter (and DRF's default ``[^/.]+`` lookup, read with ``int()``) took
``07``, ``+7``, `` 7``, ``7%0A`` and Arabic-Indic digits for 7: one object under many URLs.
The OpenAPI schema shows the parameter as an integer of 1 or more
(``SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"]``).
"""

from __future__ import annotations

from django.urls import register_converter


class IdConverter:
    regex = "[1-9][0-9]*"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
