"""Django admin for customers and transactions. Writes go through the services.

Non-superuser staff see only what the visibility policy lets them see.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db import transaction as db_transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from payments.models import PaymentSettlement

from .exceptions import DomainConflict
from .forms import (
    AdminAbort,
    IdInputAdminMixin,
    MoneyFormField,
    TransactionAddForm,
    refusal_message,
    shown_values,
)
from .models import Customer, Transaction
from .selectors import transactions_visible_to, users_assignable_as_cashier
from .services import (
    customer_create,
    customer_update,
    transaction_create,
    transaction_delete,
    transaction_update,
)


@admin.register(Customer)
class CustomerAdmin(IdInputAdminMixin, admin.ModelAdmin):
    list_display = ["name", "contact_number", "email", "created_at"]
    search_fields = ["name", "contact_number", "email"]

    #: What a customer's change page edits; saved through the services, field by field.
    EDITABLE = ("name", "contact_number", "email")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            # "Changed" means changed from what the page showed: a page opened before
            # someone else corrected the phone number, saved with only the name changed,
            # must not put the old number back.
            for name in self.EDITABLE:
                if name in form.base_fields:
                    form.base_fields[name].show_hidden_initial = True
        return form

    def save_model(self, request, obj, form, change) -> None:
        fields = {
            name: form.cleaned_data[name] for name in self.EDITABLE if name in form.cleaned_data
        }
        if change:
            changed = {name: value for name, value in fields.items() if name in form.changed_data}
            saved = customer_update(customer=obj, **changed)
        else:
            saved = customer_create(**fields)
        obj.pk = saved.pk
        for name in (*self.EDITABLE, "created_at", "updated_at"):
            setattr(obj, name, getattr(saved, name))
        obj._state.adding = False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Customers carry financial history (PROTECT); the admin never offers deleting them.
        return False


class SettlementInline(admin.TabularInline):
    model = PaymentSettlement
    extra = 0
    can_delete = False
    fields = [
        "paid_at",
        "amount",
        "payment_mode",
        "cashier",
        "notes",
        "voided_at",
        "voided_by",
        "void_reason",
    ]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # record payments from the Payment settlements page, through the service


@admin.register(Transaction)
class TransactionAdmin(IdInputAdminMixin, admin.ModelAdmin):
    list_display = [
        "or_number",
        "customer",
        "amount",
        "paid_amount",
        "balance_amount",
        "payment_status",
        "sales_agent",
        "cashier",
        "transaction_date",
    ]
    list_filter = [
        "payment_status",
        "payment_mode",
        "transaction_date",
        # Only the people on transactions this user may see, not every account.
        ("sales_agent", admin.RelatedOnlyFieldListFilter),
        ("cashier", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["or_number", "customer__name"]
    list_select_related = ["customer", "sales_agent", "cashier"]
    readonly_fields = [
        "paid_amount",
        "balance_amount",
        "payment_status",
        "sales_agent",
        "created_at",
        "updated_at",
    ]
    autocomplete_fields = ["customer"]
    date_hierarchy = "transaction_date"
    inlines = [SettlementInline]

    formfield_overrides = {models.DecimalField: {"form_class": MoneyFormField}}

    def get_queryset(self, request):
        return transactions_visible_to(request.user).select_related(
            "customer", "sales_agent", "cashier"
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TransactionAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            # "Changed" means changed from what the page showed, not from the row as it is
            # when the form comes back: a page opened before the first payment assigned a
            # cashier, saved with only the amount corrected, must not unassign that cashier
            # (nor a cashier's change undo another admin's amount correction).
            for name in ("amount", "cashier"):
                if name in form.base_fields:
                    form.base_fields[name].show_hidden_initial = True
        cashier = form.base_fields.get("cashier")
        if cashier is not None:  # cashiers and admins, not every account
            keeping = obj.cashier_id if obj is not None else None
            cashier.queryset = users_assignable_as_cashier(keeping=keeping)
        return form

    def get_changeform_initial_data(self, request):
        """The add page's values from its URL (``?customer=3``); a sale date that is no
        date and time is left out (Django's date widget failed on the text: a 500)."""
        initial = super().get_changeform_initial_data(request)
        if "transaction_date" in initial:
            try:
                when = parse_datetime(str(initial.pop("transaction_date")))
            except ValueError:  # shaped like one, but no such day or hour
                when = None
            if when is not None:
                initial["transaction_date"] = when
        return initial

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["customer", "or_number", "amount", "payment_mode", "transaction_date"]
        return [
            "customer",
            "or_number",
            "amount",
            "payment_mode",
            "cashier",
            "transaction_date",
            "paid_amount",
            "balance_amount",
            "payment_status",
            "sales_agent",
            "created_at",
            "updated_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Only the corrections transaction_update supports stay editable.
        return [*self.readonly_fields, "customer", "or_number", "payment_mode", "transaction_date"]

    def save_model(self, request, obj, form, change) -> None:
        try:
            if change:
                # Only what the form changed: an amount correction must not re-assign (and
                # so re-check) a cashier who has since lost the role.
                corrections = {
                    name: form.cleaned_data[name]
                    for name in ("amount", "cashier")
                    if name in form.changed_data
                }
                saved = transaction_update(
                    transaction=obj,
                    updated_by=request.user,
                    shown=shown_values(form, corrections),
                    **corrections,
                )
            else:
                saved = transaction_create(
                    customer=form.cleaned_data["customer"],
                    amount=form.cleaned_data["amount"],
                    payment_mode=form.cleaned_data["payment_mode"],
                    or_number=form.cleaned_data.get("or_number") or None,
                    transaction_date=form.cleaned_data.get("transaction_date"),
                    created_by=request.user,
                )
            # What the service saved (the generated OR number, the totals), for the admin's
            # message and history entry.
            for field in saved._meta.concrete_fields:
                setattr(obj, field.attname, getattr(saved, field.attname))
            obj._state.adding = False
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, refusal_message(exc))
            raise AdminAbort from exc

    def delete_model(self, request, obj) -> None:
        try:
            transaction_delete(transaction=obj, deleted_by=request.user)
        except (DomainConflict, PermissionDenied, Transaction.DoesNotExist) as exc:
            # Refused (a payment recorded since the page was shown, say): stop the admin
            # before it logs and reports a deletion (delete_view, changelist_view).
            messages.error(request, refusal_message(exc))
            raise AdminAbort from exc

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and (
            obj is None or not obj.settlements.exists()
        )

    def get_deleted_objects(self, objs, request):
        """Django's, but a transaction with payments is refused for its payments (they are
        protected: nobody deletes them), not for a permission this account lacks."""
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return to_delete, model_count, set() if protected else perms_needed, protected

    def delete_queryset(self, request, queryset) -> None:
        # The action runs in one database transaction (changelist_view). Every selected row
        # is locked first, in id order, whatever the changelist's sort: two admins deleting
        # overlapping selections lock in the same order, and the first deletion's events
        # take the event-order lock (realtime.events) only once every row lock is held, so
        # a payment holding one of these rows and waiting for that lock cannot deadlock
        # with this action.
        rows = list(
            Transaction.objects.filter(pk__in=queryset.values("pk"))
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        for obj in rows:
            self.delete_model(request, obj)

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except AdminAbort:
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        # Django runs a confirmed deletion in one database transaction: an AdminAbort from
        # delete_model rolls back its history entry too.
        try:
            return super().delete_view(request, object_id, extra_context)
        except AdminAbort:
            opts = self.model._meta
            change = f"admin:{opts.app_label}_{opts.model_name}_change"
            return HttpResponseRedirect(reverse(change, args=[object_id]))

    def changelist_view(self, request, extra_context=None):
        # The "delete selected" action: all or nothing, history entries included.
        try:
            with db_transaction.atomic():
                return super().changelist_view(request, extra_context)
        except AdminAbort:
            return HttpResponseRedirect(request.get_full_path())
