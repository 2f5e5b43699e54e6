"""Query filters for the customer and transaction lists (django-filter).

They narrow what the visibility policy already allows; they never widen it.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .choices import PaymentStatus
from .models import Customer, Transaction


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label="Search name, contact number and email (case-insensitive)."
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def search(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(contact_number__icontains=value)
            | Q(email__icontains=value)
        )


class StableOrderingFilter(django_filters.OrderingFilter):
    """Ordering with ``id`` as the last key, so equal values never shuffle between pages."""

    def filter(self, qs: QuerySet, value):
        # ``?ordering=amount,`` leaves an empty key: skipped, as an empty parameter is. A
        # field named again orders nothing more: only its first key is kept, so a query of
        # a thousand keys sorts by at most the few fields there are.
        ordering, named = [], set()
        for key in value or ():
            if key and key.lstrip("-") not in named:
                named.add(key.lstrip("-"))
                ordering.append(self.get_ordering_value(key))
        if not ordering:
            return qs  # the model's default ordering (-transaction_date, -id) is stable
        return qs.order_by(*ordering, "-id" if ordering[-1].startswith("-") else "id")


class IdField(forms.IntegerField):
    """A whole number that fits a database id (64 bits): a larger one is a 400 naming the
    parameter, not a database overflow (SQLite raises on integers past 64 bits)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A whole-number id (NumberFilter alone would take 1.5 and match id 1)."""

    field_class = IdField


class StrictBooleanField(forms.NullBooleanField):
    """``true`` or ``false`` (also ``1``/``0``, any case); anything else is a 400 naming the
    parameter. Django's field (through its select widget) reads an unknown value as "not
    given", which would silently return the unfiltered list."""

    widget = forms.TextInput
    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError("Must be true or false.", code="invalid") from None


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class StatusesField(django_filters.fields.MultipleChoiceField):
    """Repeated values, empty ones left out: ``?payment_status=`` (an HTML form's "All") is
    no filter, as an empty value is for every other parameter; it was a 400."""

    def clean(self, value):
        return super().clean([v for v in value or [] if v != ""])


class StatusesFilter(django_filters.MultipleChoiceFilter):
    field_class = StatusesField


def start_of_local_day(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in the shop's time zone.

    Local days are cut at these instants, so every moment is in exactly one day, the one its
    local time shows, even where daylight saving repeats an hour (django-filter ended a day
    at 23:59:59.999999 of the first of two repeated hours: a sale in the second was in no
    day). With zoneinfo, a midnight skipped by a clock change is the change's instant.
    """
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def in_local_days(
    qs: QuerySet, field: str, first: dt.date | None = None, last: dt.date | None = None
) -> QuerySet:
    """The rows whose ``field`` falls from local day ``first`` to ``last``, both included
    (either may be None: no bound). After 9999-12-31, the last date Python has, nothing is
    later: no upper bound then."""
    if first is not None:
        qs = qs.filter(**{f"{field}__gte": start_of_local_day(first)})
    if last is not None and last < dt.date.max:
        qs = qs.filter(**{f"{field}__lt": start_of_local_day(last + dt.timedelta(days=1))})
    return qs


class LocalDayRangeFilter(django_filters.DateFromToRangeFilter):
    """``<name>_after`` and ``<name>_before``: local dates, both included (``in_local_days``)."""

    def filter(self, qs: QuerySet, value):
        if not value:
            return qs
        first = value.start.date() if value.start is not None else None
        last = value.stop.date() if value.stop is not None else None
        return in_local_days(qs, self.field_name, first, last)


class LocalDayFilter(django_filters.DateFilter):
    """One end of a range of local dates, included: ``lookup_expr`` "gte" (from that day
    on) or "lte" (up to that day), as ``in_local_days`` cuts them."""

    def filter(self, qs: QuerySet, value):
        if value in (None, ""):
            return qs
        if self.lookup_expr == "gte":
            return in_local_days(qs, self.field_name, first=value)
        return in_local_days(qs, self.field_name, last=value)


class TransactionFilter(django_filters.FilterSet):
    payment_status = StatusesFilter(
        choices=PaymentStatus.choices,
        help_text="One or more statuses (repeat the parameter: unpaid, partial, paid).",
    )
    customer = IdFilter(field_name="customer_id", help_text="Customer id.")
    or_number = django_filters.CharFilter(
        lookup_expr="iexact", help_text="Official-receipt number (case-insensitive)."
    )
    search = django_filters.CharFilter(
        method="search_text",
        help_text="Part of the OR number or of the customer's name (case-insensitive).",
    )
    sales_agent = IdFilter(field_name="sales_agent_id", help_text="User id.")
    cashier = IdFilter(field_name="cashier_id", help_text="User id.")
    unassigned = StrictBooleanFilter(
        field_name="cashier", lookup_expr="isnull", help_text="true: only those with no cashier."
    )
    transaction_date = LocalDayRangeFilter(
        help_text=(
            "Local dates, both ends included: transaction_date_after=2026-01-01 and/or "
            "transaction_date_before=2026-01-31."
        )
    )
    # The same range under the names many APIs use; given together with the ones above,
    # both apply.
    date_from = LocalDayFilter(
        field_name="transaction_date",
        lookup_expr="gte",
        help_text="Local date, included: the same as transaction_date_after.",
    )
    date_to = LocalDayFilter(
        field_name="transaction_date",
        lookup_expr="lte",
        help_text="Local date, included: the same as transaction_date_before.",
    )
    ordering = StableOrderingFilter(
        fields=(
            "transaction_date",
            "amount",
            "paid_amount",
            "balance_amount",
            "or_number",
            "created_at",
            "updated_at",
        ),
        help_text="Sort key, '-' for descending (default: -transaction_date).",
    )

    class Meta:
        model = Transaction
        fields: list[str] = []

    def search_text(
        self, queryset: QuerySet[Transaction], name: str, value: str
    ) -> QuerySet[Transaction]:
        """The shop page's search box: one text matched against OR number and customer."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(or_number__icontains=value) | Q(customer__name__icontains=value))
