"""Filter by status and search by OR number or customer; live changes (a payment, a new
sale, a deletion) respect the filter on screen."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.services import settlement_record
from transactions.services import customer_create, transaction_delete

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


ROWS = "[...document.querySelectorAll('#transactions tbody tr')].map(r => r.dataset.or)"


def shown(shop) -> set[str]:
    return set(shop.page.evaluate(f"() => {ROWS}"))


def wait_shown(shop, expected: set[str]) -> None:
    shop.page.wait_for_function(
        f"""want => {{
          const got = {ROWS};
          return !document.querySelector('#transactions[aria-busy]')
            && got.length === want.length && want.every(o => got.includes(o));
        }}""",
        arg=sorted(expected),
        timeout=5000,
    )


def test_status_filter_and_search_narrow_the_list_and_live_updates_follow(
    open_shop, admin_user, cashier, sales, make_transaction
):
    rosa = off_loop(customer_create, name="Rosa Mendoza", contact_number="0918 555 0102")
    unpaid = off_loop(make_transaction, "1000.00")
    partial = off_loop(make_transaction, "2000.00", customer=rosa)
    off_loop(
        settlement_record,
        transaction=partial,
        amount=Decimal("500.00"),
        payment_mode="cash",
        recorded_by=cashier,
    )
    agent = open_shop(sales)
    assert shown(agent) == {unpaid.or_number, partial.or_number}

    agent.page.get_by_label("Status").select_option("partial")
    wait_shown(agent, {partial.or_number})

    agent.page.get_by_label("Status").select_option("")
    agent.page.get_by_label("Search").fill("rosa")
    wait_shown(agent, {partial.or_number})
    agent.page.get_by_label("Search").fill(unpaid.or_number)
    wait_shown(agent, {unpaid.or_number})

    # Showing only unpaid ones: a payment moves a row out of the filter, live.
    agent.page.get_by_label("Search").fill("")
    agent.page.get_by_label("Status").select_option("unpaid")
    wait_shown(agent, {unpaid.or_number})
    off_loop(
        settlement_record,
        transaction=unpaid,
        amount=Decimal("100.00"),
        payment_mode="cash",
        recorded_by=cashier,
    )
    wait_shown(agent, set())
    assert agent.page.locator("#table-empty").is_visible()
    # A new unpaid sale appears under the filter.
    fresh = off_loop(make_transaction, "300.00")
    wait_shown(agent, {fresh.or_number})
    # An admin deletes it (no payments yet): it leaves the page, live.
    off_loop(transaction_delete, transaction=fresh, deleted_by=admin_user)
    wait_shown(agent, set())
    assert agent.errors == []


def test_load_more_clicked_during_a_new_filters_load_adds_nothing_of_the_old_list(
    open_shop, admin_user, cashier, make_transaction
):
    """Page 2 of the unfiltered list, asked for while the filtered page 1 was loading, used
    to supersede it: the old rows stayed, with 50 more of them under them."""

    def seed():
        for _ in range(52):
            make_transaction("10.00")
        partial = make_transaction("2000.00")
        settlement_record(
            transaction=partial,
            amount=Decimal("500.00"),
            payment_mode="cash",
            recorded_by=cashier,
        )
        return partial

    partial = off_loop(seed)
    admin = open_shop(admin_user)
    assert len(shown(admin)) == 50
    assert admin.page.locator("#load-more").is_visible()
    # A new filter and "Load more" in the same moment: the filter's request is in flight.
    admin.page.evaluate(
        """() => {
          const status = document.getElementById('filter-status');
          status.value = 'partial';
          status.dispatchEvent(new Event('change'));
          document.getElementById('load-more').click();
        }"""
    )
    wait_shown(admin, {partial.or_number})
    assert not admin.page.locator("#load-more").is_visible()
    assert admin.errors == []
