"""Page-number pagination with a client-chosen page size that is capped."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class CappedPageNumberPagination(PageNumberPagination):
    """``?page=N&page_size=M``: 50 a page unless asked, never more than 200."""

    page_size_query_param = "page_size"
    max_page_size = 200
