"""The REST API's filter backend: django-filter's, without its cost when nothing is asked.

With no query parameters every filter of the project's FilterSets is a no-op (an empty
value leaves the queryset as it is), so the answer is the view's queryset unchanged; yet
building the FilterSet (a deep copy of every filter), its form and the form's validation
cost more than the rest of ``GET /api/transactions/<id>/`` (which runs the filters too, as
every DRF detail lookup does). Any query parameter, known or not, takes django-filter's
full path, errors included. ``tests/api/test_filter_backend.py`` holds the equivalence.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if not request.query_params:
            return queryset
        return super().filter_queryset(request, queryset, view)
