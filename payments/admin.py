"""Django admin for settlements: recording and voiding go through payments.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect

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
class PaymentSettlementAdmin(admin.ModelAdmin):
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
    actions = ["void_selected"]

    def get_queryset(self, request):
        visible = transactions_visible_to(request.user)
        return super().get_queryset(request).filter(transaction__in=visible)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SettlementAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in PaymentSettlement._meta.fields]

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

    @admin.action(description="Void selected payments (asks for a reason)")
    def void_selected(self, request, queryset):
        reason = request.POST.get("void_reason", "").strip()
        if not reason:
            messages.error(request, "Enter a reason in the 'void_reason' field to void payments.")
            return None
        for settlement in queryset:
            try:
                settlement_void(settlement=settlement, voided_by=request.user, reason=reason)
                messages.success(request, f"Voided payment #{settlement.pk}.")
            except (ValidationError, PermissionDenied) as exc:
                messages.error(
                    request, f"#{settlement.pk}: " + "; ".join(getattr(exc, "messages", [str(exc)]))
                )
        return None
