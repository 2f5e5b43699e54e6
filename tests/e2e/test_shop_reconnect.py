"""The server dies while the page is open: the indicator says so, the page reconnects with
backoff when it is back, and a payment recorded in between appears (resume with ``since``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.services import settlement_record

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_page_reconnects_after_a_server_crash_and_shows_what_it_missed(
    open_shop, daphne_server, cashier, sales, make_transaction
):
    txn = off_loop(make_transaction, "2000.00", created_by=sales)
    agent = open_shop(sales)
    row = agent.row(txn.or_number)
    assert row.get_attribute("data-status") == "unpaid"
    agent.page.evaluate("window.__sameDocument = true")

    daphne_server.kill()
    agent.wait_for_state("reconnecting", timeout_ms=5000)

    # Committed while no server is up: no websocket can have carried it.
    off_loop(
        settlement_record,
        transaction=txn,
        amount=Decimal("2000.00"),
        payment_mode="cash",
        recorded_by=cashier,
    )
    assert row.get_attribute("data-status") == "unpaid"

    daphne_server.start()
    waited = agent.wait_for_state("connected", timeout_ms=30_000)
    print(f"reconnected {waited:.1f} s after the server was started again")

    agent.page.wait_for_selector(
        f'#transactions tr[data-or="{txn.or_number}"][data-status="paid"]', timeout=5000
    )
    assert row.locator(".c-paid").inner_text() == "2,000.00"
    assert row.locator(".c-balance").inner_text() == "0.00"
    assert row.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    assert agent.page.evaluate("window.__sameDocument") is True
    assert agent.errors == []


@pytest.fixture
def unpaid_and_paid(cashier, make_transaction):
    """An unpaid sale and one paid in full: the filter tests' two rows."""
    unpaid = off_loop(make_transaction, "700.00")
    paid = off_loop(make_transaction, "300.00")
    off_loop(
        settlement_record,
        transaction=paid,
        amount=Decimal("300.00"),
        payment_mode="maya",
        recorded_by=cashier,
    )
    return unpaid, paid


def test_a_filter_changed_while_the_server_is_away_is_applied_once_it_is_back(
    open_shop, daphne_server, admin_user, unpaid_and_paid
):
    """The list request for the new filter failed, and nothing asked again: the old rows
    stayed under the new filter, with the stale error, after the page was live again."""
    unpaid, paid = unpaid_and_paid
    shop = open_shop(admin_user)
    shop.row(unpaid.or_number).wait_for()

    daphne_server.kill()
    shop.wait_for_state("reconnecting", timeout_ms=5000)
    shop.page.select_option("#filter-status", "paid")
    shop.page.locator("#table-error").wait_for()
    assert shop.row(unpaid.or_number).count() == 1  # what the page could not replace

    daphne_server.start()
    shop.wait_for_state("connected", timeout_ms=30_000)
    shop.row(unpaid.or_number).wait_for(state="detached", timeout=5000)
    assert shop.row(paid.or_number).get_attribute("data-status") == "paid"
    assert shop.page.locator("#table-error").is_hidden()
    assert shop.errors == []


def test_a_list_that_failed_while_the_socket_stayed_up_is_fetched_again(
    open_shop, admin_user, unpaid_and_paid
):
    """The database away, not the server: the socket stays "Live", so waiting for it to
    come back never fetched the list again. It is retried on a timer; and the refetch keeps
    the keyboard on the row it was on, not on <body>."""
    unpaid, paid = unpaid_and_paid
    shop = open_shop(admin_user)
    page = shop.page
    shop.row(unpaid.or_number).wait_for()
    failing = [True]

    def database_away(route):
        if failing[0] and route.request.method == "GET":
            route.fulfill(
                status=503,
                content_type="application/json",
                headers={"Retry-After": "1"},
                body='{"detail": "The database connection was lost; try again."}',
            )
        else:
            route.continue_()

    page.route("**/api/transactions/?*", database_away)
    page.select_option("#filter-status", "paid")
    error = page.locator("#table-error")
    error.wait_for()
    assert "database" not in error.inner_text()  # the shop's words, not the API's
    assert shop.row(unpaid.or_number).count() == 1  # what the page could not replace
    shop.row(paid.or_number).get_by_role("button", name="Payments").focus()
    failing[0] = False  # the database is back; the socket never dropped
    shop.row(unpaid.or_number).wait_for(state="detached", timeout=15_000)
    assert error.is_hidden()
    focused = page.evaluate(
        "() => [document.activeElement.closest('tr')?.dataset.id, "
        "document.activeElement.dataset.action]"
    )
    assert focused == [str(paid.pk), "payments"]
    assert shop.errors == []
