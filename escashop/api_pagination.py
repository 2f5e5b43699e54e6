"""Page-number pagination with a client-chosen page size that is capped."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


def _whole_number(raw: str) -> int | None:
    """``raw`` as a whole number of 1 or more (ASCII digits only), else None."""
    if raw.isascii() and raw.isdigit() and int(raw) >= 1:
        return int(raw)
    return None


class CappedPageNumberPagination(PageNumberPagination):
    """``?page=N&page_size=M``: 50 a page unless asked, never more than 200.

    DRF reads a ``page_size`` that is no number (or 0) as the default and a ``page`` that is
    no number as a missing page (404); here both are a 400 naming the parameter, as for
    any other bad query value. A page past the last is still DRF's 404 ``Invalid page.``
    An empty value (``?page=``) is as if the parameter were absent, as for every parameter.
    """

    page_size_query_param = "page_size"
    page_size_query_description = "Items a page (default 50, at most 200; more is read as 200)."
    max_page_size = 200

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        size = _whole_number(raw)
        if size is None:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return min(size, self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param, "")
        if raw == "" or raw in self.last_page_strings:
            return super().get_page_number(request, paginator)
        if _whole_number(raw) is None:
            raise ValidationError({self.page_query_param: ["A page number: 1 or more."]})
        return raw

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            # No "maximum": more than 200 is read as 200, not refused.
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {
                    "anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "enum": sorted(self.last_page_strings)},
                    ]
                }
                parameter["description"] = "A page number: 1 or more, or `last`."
        return parameters
