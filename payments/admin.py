"""Django admin for settlements: recording and voiding go through payments.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from transactions.forms import IdInputAdminMixin, MoneyFormField
from transactions.selectors import transactions_visible_to

from .models import PaymentSettlement
from .services import settlement_record, settlement_void


class SettlementAddForm(forms.ModelForm):
    class Meta:
        model = PaymentSettlement
        fields = ["transaction", "amount", "payment_mode", "notes"]


class VoidForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, required=True)


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
            kwargs["form"] = SettlementAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in PaymentSettlement._meta.fields] + ["void_link"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # settlements are never deleted: void them

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return  # read-only after creation
        saved = settlement_record(
            transaction=form.cleaned_data["transaction"],
            amount=form.cleaned_data["amount"],
            payment_mode=form.cleaned_data["payment_mode"],
            notes=form.cleaned_data.get("notes", ""),
            recorded_by=request.user,
        )
        obj.pk = saved.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
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
        """Ask for a reason, then void through payments.services.settlement_void."""
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
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
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
