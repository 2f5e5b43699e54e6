"""Django admin for the payment event log: read-only, for admins (an auditor's view).

The log is append-only (SPEC section 6): nothing here adds, changes or deletes an event;
the retention prune (``manage.py prune_payment_events``) is the only thing that removes
them. Every event of every transaction is here, so only the admin role sees this page,
whatever model permissions another account was given.
"""

from __future__ import annotations

import json

from django.contrib import admin

from transactions.choices import Role
from transactions.forms import IdInputAdminMixin
from transactions.selectors import user_roles

from .models import PaymentEvent


@admin.register(PaymentEvent)
class PaymentEventAdmin(IdInputAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "topic", "frame_type", "transaction_id", "change"]
    list_filter = ["topic", "frame_type", "created_at"]
    search_fields = ["=transaction_id"]
    search_help_text = "A transaction's id (its number in the API and the websocket frames)."
    show_full_result_count = False  # no COUNT(*) over the whole log on every page
    readonly_fields = [
        "id",
        "created_at",
        "topic",
        "frame_type",
        "transaction_id",
        "previous_event_id",
        "data",
        "sales_agent_id",
        "previous_sales_agent_id",
        "cashier_id",
        "previous_cashier_id",
        "cashier_pool",
    ]
    fields = readonly_fields

    @admin.display(description="Change")
    def change(self, event: PaymentEvent) -> str:
        """What the frame says happened: the transaction stream's ``data.type``, or the
        payment status's move (``unpaid → partial``)."""
        data = json.loads(event.data)
        if "type" in data:
            return data["type"]
        return f"{data.get('previous_status')} → {data.get('payment_status')}"

    def has_module_permission(self, request) -> bool:
        return _is_admin(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _is_admin(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _is_admin(user) -> bool:
    return Role.ADMIN in user_roles(user)
