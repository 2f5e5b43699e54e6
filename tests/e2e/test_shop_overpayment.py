"""An overpayment, entered with the keyboard only, is refused: the server's message (naming
the remaining balance) appears next to the amount field and nothing changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import PaymentSettlement
from payments.services import settlement_record

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_overpayment_shows_the_error_at_the_field_and_changes_nothing(
    open_shop, cashier, make_transaction
):
    txn = off_loop(make_transaction, "1500.00")
    off_loop(
        settlement_record,
        transaction=txn,
        amount=Decimal("1000.00"),
        payment_mode="cash",
        recorded_by=cashier,
    )
    till = open_shop(cashier)
    page = till.page
    row = till.row(txn.or_number)
    assert row.get_attribute("data-status") == "partial"

    # Keyboard only: focus the row's button, Enter opens the dialog with the amount selected
    # (prefilled with the balance), type over it, Enter submits.
    row.get_by_role("button", name="Record payment").focus()
    page.keyboard.press("Enter")
    amount = page.locator("#pay-dialog").get_by_label("Amount")
    amount.wait_for(state="visible")
    assert amount.input_value() == "500.00"
    assert page.evaluate("document.activeElement.id") == "pay-amount"
    page.keyboard.type("600.00")
    page.keyboard.press("Enter")

    error = page.locator("#pay-amount-error")
    error.wait_for(state="visible")
    assert "500.00" in error.inner_text()
    assert amount.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "pay-amount"
    assert page.locator("#pay-dialog").is_visible()

    # Nothing changed, on the page or in the database.
    page.keyboard.press("Escape")
    assert not page.locator("#pay-dialog").is_visible()
    assert row.get_attribute("data-status") == "partial"
    assert row.locator(".c-paid").inner_text() == "1,000.00"
    assert row.locator(".c-balance").inner_text() == "500.00"
    txn.refresh_from_db()
    assert (txn.paid_amount, txn.balance_amount) == (Decimal("1000.00"), Decimal("500.00"))
    assert PaymentSettlement.objects.filter(transaction=txn).count() == 1
    assert till.errors == []
