"""Django admin for settlements: recording and voiding go through payments.services."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from transactions.exceptions import DomainConflict
from transactions.forms import AdminAbort, IdInputAdminMixin, MoneyFormField, refusal_message
from transactions.models import Transaction
from transactions.selectors import transactions_visible_to

from .models import NOTE_MAX_LENGTH, PaymentSettlement
from .services import (
    settlement_balance_refusal,
    settlement_record,
    settlement_void,
    settlement_void_check,
)


class SettlementAddForm(forms.ModelForm):
    notes = forms.CharField(widget=forms.Textarea, required=False, max_length=NOTE_MAX_LENGTH)
    #: One key per page shown, sent back as the payment's idempotency key: the same form
    #: sent twice (a double click, the browser's resubmit) records one payment, as a
    #: retried API request with its ``Idempotency-Key`` does.
    submission_key = forms.CharField(
        widget=forms.HiddenInput,
        required=False,
        max_length=255,
        initial=lambda: f"admin-{uuid.uuid4()}",
    )

    class Meta:
        model = PaymentSettlement
        fields = ["transaction", "amount", "payment_mode", "notes"]

    #: Who records it (set by the admin's ``get_form``).
    recorded_by = None

    def clean(self):
        """The balance checked at the amount's field, so that a refusal keeps what was
        typed. (The service checks again under the row lock: a payment recorded meanwhile
        is refused there, with a message.) Not for the same form sent again: the service
        answers it with the payment it recorded the first time."""
        cleaned = super().clean()
        key = cleaned.get("submission_key")
        self.sent_before = bool(key) and (
            PaymentSettlement.objects.filter(cashier=self.recorded_by, idempotency_key=key).exists()
        )
        txn, amount = cleaned.get("transaction"), cleaned.get("amount")
        if txn is not None and amount is not None and not self.sent_before:
            refusal = settlement_balance_refusal(txn, amount)
            if refusal is not None:
                self.add_error("amount", refusal)
        return cleaned


class VoidForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, required=True, max_length=NOTE_MAX_LENGTH)


@admin.register(PaymentSettlement)
class PaymentSettlementAdmin(IdInputAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "transaction",
        "amount",
        "payment_mode",
        "cashier",
        "paid_at",
        "voided_at",
    ]
    list_filter = ["payment_mode", "paid_at", ("voided_at", admin.EmptyFieldListFilter)]
    search_fields = ["transaction__or_number", "transaction__customer__name", "notes"]
    list_select_related = ["transaction", "cashier"]
    autocomplete_fields = ["transaction"]
    formfield_overrides = {models.DecimalField: {"form_class": MoneyFormField}}

    def get_queryset(self, request):
        visible = transactions_visible_to(request.user)
        return super().get_queryset(request).filter(transaction__in=visible)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "transaction":
            # A transaction this user may not see is "not a valid choice", exactly like one
            # that does not exist (the API's 404): its existence is not for them to learn.
            kwargs["queryset"] = transactions_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type(
                "SettlementAddForm", (SettlementAddForm,), {"recorded_by": request.user}
            )
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        shown = [f.name for f in PaymentSettlement._meta.fields]
        return [*shown, "void_link"] if _may_void(request.user) else shown

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # settlements are never deleted: void them

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # settlements are never edited: their page is for reading (and voiding)

    def save_model(self, request, obj, form, change) -> None:
        key = form.cleaned_data.get("submission_key") or None
        try:
            saved = settlement_record(
                transaction=form.cleaned_data["transaction"],
                amount=form.cleaned_data["amount"],
                payment_mode=form.cleaned_data["payment_mode"],
                notes=form.cleaned_data.get("notes", ""),
                recorded_by=request.user,
                idempotency_key=key,
            )
        except DomainConflict as exc:  # the key is this form's own: it was sent before
            messages.error(request, "This form already recorded another payment: open a new one.")
            raise AdminAbort from exc
        except (ValidationError, PermissionDenied, Transaction.DoesNotExist) as exc:
            # Refused under the row lock (a payment recorded since the form was checked, the
            # transaction deleted): say why, and stop the admin before it logs an addition.
            messages.error(request, refusal_message(exc))
            raise AdminAbort from exc
        if form.sent_before:
            messages.warning(request, "This form was sent twice: the payment is recorded once.")
        obj.pk = saved.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except AdminAbort:
            return HttpResponseRedirect(request.get_full_path())

    def get_urls(self):
        urls = super().get_urls()
        void = path(
            "<int:settlement_id>/void/",
            self.admin_site.admin_view(self.void_view),
            name="payments_paymentsettlement_void",
        )
        return [void, *urls]

    @admin.display(description="Void")
    def void_link(self, obj: PaymentSettlement) -> str:
        if obj.pk is None or obj.is_voided:
            return "-"
        url = reverse("admin:payments_paymentsettlement_void", args=[obj.pk])
        return format_html('<a class="button" href="{}">Void this payment…</a>', url)

    def void_view(self, request, settlement_id: int):
        """Ask for a reason, then void through payments.services.settlement_void (admins
        only: anyone else gets 403, before the settlement is looked up)."""
        settlement_void_check(request.user)
        settlement = get_object_or_404(self.get_queryset(request), pk=settlement_id)
        change_url = reverse("admin:payments_paymentsettlement_change", args=[settlement.pk])
        form = VoidForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                settlement_void(
                    settlement=settlement,
                    voided_by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
            else:
                messages.success(request, f"Payment #{settlement.pk} voided.")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Void payment #{settlement.pk}",
            "settlement": settlement,
            "form": form,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/payments/void_settlement.html", context)


def _may_void(user) -> bool:
    try:
        settlement_void_check(user)
    except PermissionDenied:
        return False
    return True
