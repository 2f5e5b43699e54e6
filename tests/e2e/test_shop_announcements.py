"""What screen readers hear of others' changes: each one, a burst at a time, whoever made it;
and where the keyboard lands after a refusal."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from payments.services import settlement_record

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: Every non-empty text the page's polite announcer is given, with when.
RECORD_ANNOUNCEMENTS = """() => {
  window.__heard = [];
  const el = document.getElementById('announcer');
  new MutationObserver(() => {
    if (el.textContent) window.__heard.push(el.textContent);
  }).observe(el, {childList: true, characterData: true, subtree: true});
}"""


def _heard(shop) -> list[str]:
    return shop.page.evaluate("window.__heard")


def test_a_burst_of_payments_is_one_announcement_with_the_latest_figures(
    open_shop, cashier, sales, make_transaction
):
    """Fifteen payments in a quarter of a second were fifteen announcements in a row."""
    txn = off_loop(make_transaction, "100.00", created_by=sales)
    agent = open_shop(sales)
    agent.row(txn.or_number).wait_for()
    agent.page.evaluate(RECORD_ANNOUNCEMENTS)

    def pay_fifteen():
        for _ in range(15):
            settlement_record(
                transaction=txn, amount=Decimal("1.00"), payment_mode="cash", recorded_by=cashier
            )

    off_loop(pay_fifteen)
    agent.page.wait_for_selector(
        f'tr[data-or="{txn.or_number}"] .c-paid:text-is("15.00")', timeout=10_000
    )
    time.sleep(2.5)  # two announcement windows: anything still to come has come
    heard = _heard(agent)
    assert 1 <= len(heard) <= 2, heard
    assert heard[-1] == f"{txn.or_number} is now Partial: 15.00 of 100.00 paid."
    assert agent.errors == []


def test_a_payment_by_someone_with_the_viewers_name_is_announced(
    open_shop, sales, make_transaction
):
    """The page told its user's own changes from others' by display name: a cashier who
    shares the sales agent's full name paid on the agent's sale, and the agent heard nothing."""
    namesake = User.objects.create_user(
        username="sam-till", password="x", first_name=sales.first_name, last_name=sales.last_name
    )
    namesake.groups.add(Group.objects.get(name="cashier"))
    assert namesake.get_full_name() == sales.get_full_name()
    txn = off_loop(make_transaction, "500.00", created_by=sales)
    agent = open_shop(sales)
    agent.row(txn.or_number).wait_for()
    agent.page.evaluate(RECORD_ANNOUNCEMENTS)

    off_loop(
        settlement_record,
        transaction=txn,
        amount=Decimal("100.00"),
        payment_mode="gcash",
        recorded_by=namesake,
    )
    agent.page.wait_for_function(
        "text => window.__heard.includes(text)",
        arg=f"{txn.or_number} is now Partial: 100.00 of 500.00 paid.",
        timeout=5000,
    )
    assert agent.errors == []


def test_a_refused_login_leaves_the_keyboard_on_the_message(browser, daphne_server, cashier):
    """The button was disabled while the request ran, so focus fell to the page's <body>
    and the next Tab started again from the top."""
    page = browser.new_page()
    try:
        page.goto(f"{daphne_server.base_url}/")
        page.get_by_label("Username").fill(cashier.username)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_label("Password").press("Enter")
        page.locator("#login-error").wait_for()
        assert page.inner_text("#login-error") == "Wrong username or password."
        assert page.evaluate("document.activeElement.id") == "login-error"
    finally:
        page.close()


def test_paying_a_transaction_another_cashier_took_meanwhile_says_so(
    open_shop, cashier, cashier2, make_transaction
):
    """The dialog showed the API's "No Transaction matches the given query." and focus fell
    to the page's <body>."""
    txn = off_loop(make_transaction, "800.00")  # in the queue: every cashier sees it
    till = open_shop(cashier2)
    till.row(txn.or_number).get_by_role("button", name=f"Record payment: {txn.or_number}").click()
    dialog = till.page.locator("#pay-dialog")
    dialog.wait_for()

    off_loop(
        settlement_record,
        transaction=txn,
        amount=Decimal("100.00"),
        payment_mode="cash",
        recorded_by=cashier,
    )  # now carla's: carlo may no longer see it
    till.row(txn.or_number).wait_for(state="detached")
    dialog.get_by_role("button", name="Record payment").click()
    error = till.page.locator("#pay-form-error")
    error.wait_for()
    assert error.inner_text().startswith("This transaction is no longer on your list")
    assert till.page.evaluate("document.activeElement.id") == "pay-form-error"
    assert till.errors == []
