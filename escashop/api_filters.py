"""The REST API's filter backend: django-filter's, for lists only, without its cost when
nothing is asked.

Filters are list parameters: the schema offers them on list operations only, so a lookup of
one object (``GET``, ``PATCH``, ``DELETE`` of ``/api/transactions/<id>/``) ignores its query
string, as it does any unknown parameter, instead of answering 404 or 400 for a filter it
never documented. With no query parameters every filter of the project's FilterSets is a
no-op (an empty value leaves the queryset as it is), so the answer is the view's queryset
unchanged, without building the FilterSet (a deep copy of every filter), its form and the
form's validation. Any query parameter of a list takes django-filter's full path, errors
included. ``tests/api/test_filter_backend.py`` holds the equivalence.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.contrib.django_filters import DjangoFilterExtension


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if not request.query_params or getattr(view, "action", "list") != "list":
            return queryset
        return super().filter_queryset(request, queryset, view)


class FilterSchemaExtension(DjangoFilterExtension):
    """drf-spectacular's description of django-filter's parameters, keeping each filter's
    ``help_text`` where the filter's class sets its schema type (``IdFilter``,
    ``StrictBooleanFilter``): drf-spectacular drops it there."""

    target_class = "escashop.api_filters.FilterBackend"
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        filterset_class = getattr(auto_schema.view, "filterset_class", None)
        filters = filterset_class.base_filters if filterset_class else {}
        for parameter in parameters:
            found = filters.get(parameter["name"])
            help_text = found.extra.get("help_text") if found is not None else None
            if help_text and not parameter.get("description"):
                parameter["description"] = str(help_text)
        return parameters
