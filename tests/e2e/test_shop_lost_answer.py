"""A payment whose answer is lost on the way back, then sent again with another amount: the
first was recorded, and the page says so in the shop's words instead of the API's 409 about
an Idempotency-Key. Also: a partial payment under 1 % shows as "<1%", not "0%"."""

from __future__ import annotations

import pytest

from payments.models import PaymentSettlement
from payments.services import settlement_record

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_changed_retry_after_a_lost_answer_is_explained_and_pays_once(
    open_shop, cashier, make_transaction
):
    txn = off_loop(make_transaction, "1500.00")
    till = open_shop(cashier)
    page = till.page
    lost = []

    def lose_the_answer(route):
        route.fetch()  # the server records the payment...
        lost.append(route.request.headers.get("idempotency-key"))
        route.abort()  # ...and the page never hears back

    page.route("**/api/transactions/*/settlements/", lose_the_answer)
    till.row(txn.or_number).get_by_role("button", name="Record payment").click()
    dialog = page.locator("#pay-dialog")
    dialog.get_by_label("Amount").fill("100.00")
    dialog.get_by_role("button", name="Record payment").click()
    error = dialog.locator("#pay-form-error")
    error.wait_for()
    assert lost and lost[0]
    page.unroute("**/api/transactions/*/settlements/")
    # Closed and opened again, the dialog offers the attempt whose answer was lost, not the
    # new balance: sent as it is, it can only get that payment back.
    page.keyboard.press("Escape")
    till.row(txn.or_number).locator(".c-paid").filter(has_text="100.00").wait_for()
    till.row(txn.or_number).get_by_role("button", name="Record payment").click()
    assert dialog.get_by_label("Amount").input_value() == "100.00"

    dialog.get_by_label("Amount").fill("150.00")  # the cashier corrects it and retries
    dialog.get_by_role("button", name="Record payment").click()
    page.wait_for_function(
        "() => document.getElementById('pay-form-error').textContent.startsWith("
        "'An earlier attempt at this payment')"
    )
    assert "Idempotency-Key" not in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "pay-form-error"  # not <body>
    assert [str(s.amount) for s in PaymentSettlement.objects.filter(transaction=txn)] == ["100.00"]
    # Back to the first figures in the same dialog: that payment is answered, not a second.
    dialog.get_by_label("Amount").fill("100.00")
    dialog.get_by_role("button", name="Record payment").click()
    dialog.wait_for(state="hidden")
    assert [str(s.amount) for s in PaymentSettlement.objects.filter(transaction=txn)] == ["100.00"]
    till.row(txn.or_number).locator(".c-paid").filter(has_text="100.00").wait_for()
    assert till.errors == []


def test_a_partial_payment_under_one_percent_is_not_shown_as_nothing(
    open_shop, cashier, make_transaction
):
    txn = off_loop(make_transaction, "1234567.89")
    off_loop(
        settlement_record,
        transaction=txn,
        amount="300.00",
        payment_mode="cash",
        recorded_by=cashier,
    )
    till = open_shop(cashier)
    row = till.row(txn.or_number)
    assert row.get_attribute("data-status") == "partial"
    assert row.locator(".pct").inner_text() == "<1%"
    bar = row.get_by_role("progressbar")
    assert bar.get_attribute("aria-valuetext") == "less than 1%"
    assert till.errors == []
