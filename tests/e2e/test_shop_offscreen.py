"""A payment on a transaction the page does not show (further down the list) changes
nothing on the page: no row jumps to the top, no request per event."""

from __future__ import annotations

import pytest

from payments.services import settlement_record

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_payment_below_the_first_page_leaves_the_page_as_it_is(
    open_shop, admin_user, cashier, make_transaction
):
    oldest = off_loop(make_transaction, "300.00")
    for _ in range(50):  # the first page holds the 50 newest
        newest = off_loop(make_transaction, "100.00")
    shop = open_shop(admin_user)
    rows = shop.page.locator("#transactions tbody tr")
    assert rows.count() == 50 and shop.row(oldest.or_number).count() == 0
    requests = []
    shop.page.on("request", lambda request: requests.append(request.url))

    off_loop(
        settlement_record,
        transaction=oldest,
        amount="50.00",
        payment_mode="cash",
        recorded_by=cashier,
    )
    off_loop(
        settlement_record,
        transaction=newest,
        amount="40.00",
        payment_mode="cash",
        recorded_by=cashier,
    )
    # The shown row's frame, written after the other one, has been applied ...
    shop.page.wait_for_selector(f'tr[data-or="{newest.or_number}"][data-status="partial"]')
    shop.page.wait_for_timeout(500)  # ... and a request the first one made would be out
    assert shop.row(oldest.or_number).count() == 0
    assert rows.count() == 50
    assert rows.first.get_attribute("data-or") == newest.or_number
    assert [url for url in requests if f"/transactions/{oldest.pk}/" in url] == []
    assert shop.errors == []
