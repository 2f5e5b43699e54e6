"""Actions by role: a sales agent creates a transaction for a new customer (the cashiers'
queue shows it live); an admin voids a payment with a reason (the agent's page goes back)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import PaymentSettlement
from payments.services import settlement_record
from transactions.models import Customer, Transaction

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sales_agent_creates_a_transaction_that_appears_in_the_cashiers_queue(
    open_shop, cashier, sales
):
    till = open_shop(cashier)
    agent = open_shop(sales)
    assert till.page.locator("#new-transaction").is_hidden()
    assert agent.page.get_by_role("button", name="Record payment").count() == 0

    agent.page.get_by_role("button", name="New transaction").click()
    dialog = agent.page.locator("#create-dialog")
    dialog.get_by_label("New customer").check()
    dialog.get_by_label("Customer name").fill("Lorna Tan")
    dialog.get_by_label("Contact number").fill("0917 555 0199")
    dialog.get_by_label("Amount").fill("12.345")
    dialog.get_by_role("button", name="Create transaction").click()
    # The server's message sits next to the amount; the customer exists now and is chosen.
    amount_error = agent.page.locator("#create-amount-error")
    amount_error.wait_for(state="visible")
    assert "2 decimal places" in amount_error.inner_text()
    assert Transaction.objects.count() == 0

    dialog.get_by_label("Amount").fill("2500.00")
    dialog.get_by_role("button", name="Create transaction").click()
    dialog.wait_for(state="hidden")

    txn = Transaction.objects.get()
    assert (txn.customer.name, txn.amount, txn.sales_agent_id) == (
        "Lorna Tan",
        Decimal("2500.00"),
        sales.pk,
    )
    assert Customer.objects.filter(name="Lorna Tan").count() == 1
    for page in (agent, till):  # the cashier's page gets it over the websocket
        row = page.row(txn.or_number)
        row.wait_for(timeout=2000)
        assert row.get_attribute("data-status") == "unpaid"
        assert row.locator(".c-customer").inner_text() == "Lorna Tan"
        assert row.locator(".c-amount").inner_text() == "2,500.00"
    assert till.row(txn.or_number).get_by_role("button", name="Record payment").count() == 1
    assert agent.errors == till.errors == []


def test_admin_voids_a_payment_with_a_reason(
    open_shop, admin_user, cashier, sales, make_transaction
):
    txn = off_loop(make_transaction, "900.00", created_by=sales)
    settlement = off_loop(
        settlement_record,
        transaction=txn,
        amount=Decimal("900.00"),
        payment_mode="maya",
        recorded_by=cashier,
    )
    agent = open_shop(sales)
    boss = open_shop(admin_user)
    assert agent.row(txn.or_number).get_attribute("data-status") == "paid"

    boss.row(txn.or_number).get_by_role("button", name="Payments").click()
    dialog = boss.page.locator("#payments-dialog")
    dialog.get_by_role("button", name="Void payment of 900.00").click()
    dialog.get_by_role("button", name="Void payment", exact=True).click()
    reason_error = boss.page.locator("#void-reason-error")
    reason_error.wait_for(state="visible")
    assert "reason" in reason_error.inner_text().lower()

    dialog.get_by_label("Reason").fill("Charged to the wrong customer")
    dialog.get_by_role("button", name="Void payment", exact=True).click()
    dialog.locator(f'tr.voided[data-id="{settlement.pk}"]').wait_for()

    agent.page.wait_for_selector(
        f'#transactions tr[data-or="{txn.or_number}"][data-status="unpaid"]', timeout=2000
    )
    settlement.refresh_from_db()
    assert settlement.void_reason == "Charged to the wrong customer"
    assert settlement.voided_by_id == admin_user.pk
    assert PaymentSettlement.objects.count() == 1
    assert agent.errors == boss.errors == []
