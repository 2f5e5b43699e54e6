"""Helpers for the Django admin's tests."""

from __future__ import annotations

from django.urls import reverse


def pay_in_admin(client, transaction_id: int, amount: str, *, follow: bool = False, **fields):
    """POST the admin's add-payment form (cash unless ``payment_mode`` says otherwise)."""
    data = {"transaction": transaction_id, "amount": amount, "payment_mode": "cash", **fields}
    return client.post(reverse("admin:payments_paymentsettlement_add"), data, follow=follow)
