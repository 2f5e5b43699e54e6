"""Form fields and widgets of the Django admin, sharing the API's rules."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError

from .exceptions import DomainConflict
from .models import Transaction
from .money import money_parse
from .services import or_number_check, transaction_date_check


class MoneyFormField(forms.DecimalField):
    """An admin money field read by ``money_parse``, as the API reads amounts: plain ASCII
    decimals only. Django's own field hands ``Decimal("1e3")`` or Arabic-Indic digits on
    as numbers, which the API refuses."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return money_parse(str(value))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def validate(self, value) -> None:
        if value is None and self.required:
            raise ValidationError(self.error_messages["required"], code="required")


class AdminAbort(Exception):
    """Stops an admin's save after a service refused it (the message is already queued);
    the admin's view answers it with a redirect to the same page."""


def refusal_message(exc: Exception) -> str:
    """What the admin says when a service refused a change."""
    if isinstance(exc, Transaction.DoesNotExist):
        return "This transaction no longer exists (someone deleted it meanwhile)."
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, DomainConflict):
        return exc.message
    return str(exc)


NUL = "\x00"

ID_TEXT = re.compile(r"[0-9]{1,19}")


def is_id_text(value) -> bool:
    """Whether a submitted value is a row id: digits that fit 64 bits."""
    return ID_TEXT.fullmatch(str(value)) is not None and int(value) < 2**63


class IdAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete select, safe to redraw after a hand-made POST.

    To show the chosen row's label it looks the submitted value up, and a value that is no
    id (``abc``, ``1.5``, past 64 bits) raised ValueError or OverflowError there: a 500
    instead of the field's "Select a valid choice". Such values are simply not shown.
    """

    def optgroups(self, name, value, attrs=None):
        return super().optgroups(name, [v for v in value if is_id_text(v)], attrs)


class IdInputAdminMixin:
    """A ModelAdmin whose id inputs take only ids: a hand-made POST with anything else in
    an autocomplete field or among the changelist's selected rows gets a form error or a
    message, where Django's own code raised a 500. Its list page and autocomplete answers
    likewise refuse what PostgreSQL cannot compare: a NUL character in a filter or search
    (``?notes__contains=%00``), a date drill-down past year 9999."""

    def get_changelist_instance(self, request):
        # Django's list page answers IncorrectLookupParameters with its own "?e=1" page.
        if any(NUL in key or NUL in "".join(values) for key, values in request.GET.lists()):
            raise IncorrectLookupParameters("A filter holds a NUL character.")
        try:
            return super().get_changelist_instance(request)
        except OverflowError as exc:  # the date drill-down's next month, past year 9999
            raise IncorrectLookupParameters(str(exc)) from exc

    def get_search_results(self, request, queryset, search_term):
        if NUL in search_term:  # the autocomplete's ``term`` as the list's ``q``: no match
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = IdAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        if not all(map(is_id_text, request.POST.getlist(ACTION_CHECKBOX_NAME))):
            message = "Rows are selected by their ids. No items have been changed."
            self.message_user(request, message, messages.WARNING)
            return None  # the changelist again, with the message
        return super().response_action(request, queryset)


def shown_values(form: forms.BaseForm, names) -> dict:
    """What the page showed of the fields ``names`` (with ``show_hidden_initial``, their
    hidden ``initial-*`` inputs), read as each field reads input; one missing or unreadable
    (a hand-made POST) is left out."""
    shown = {}
    for name in names:
        bound = form[name]
        raw = form.data.get(bound.html_initial_name)
        if raw is None:
            continue
        try:
            shown[name] = bound.field.to_python(raw)
        except ValidationError:
            continue
    return shown


class TransactionAddForm(forms.ModelForm):
    """The admin's add form: the service's rules for a typed-in OR number and the sale date
    checked at their fields, so a refusal keeps what was typed and says where."""

    class Meta:
        model = Transaction
        fields = ["customer", "or_number", "amount", "payment_mode", "transaction_date"]

    def clean_or_number(self) -> str:
        or_number = (self.cleaned_data.get("or_number") or "").strip()
        if or_number:
            _field_check(or_number_check, or_number)
        return or_number

    def clean_transaction_date(self):
        when = self.cleaned_data.get("transaction_date")
        if when is not None:
            _field_check(transaction_date_check, when)
        return when


def _field_check(check, value) -> None:
    try:
        check(value)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None
