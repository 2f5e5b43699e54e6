"""The cashiers' shared queue: when one cashier takes a payment on an unassigned transaction,
it becomes theirs and leaves the other cashier's page, live."""

from __future__ import annotations

import pytest

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_transaction_taken_by_one_cashier_leaves_the_other_cashiers_page(
    open_shop, cashier, cashier2, make_transaction
):
    txn = off_loop(make_transaction, "1200.00")
    still_queued = off_loop(make_transaction, "450.00")
    mine = open_shop(cashier)
    theirs = open_shop(cashier2)
    assert theirs.row(txn.or_number).count() == 1

    mine.row(txn.or_number).get_by_role("button", name="Record payment").click()
    mine.page.locator("#pay-dialog").get_by_label("Amount").fill("200.00")
    mine.page.locator("#pay-dialog").get_by_role("button", name="Record payment").click()

    mine.page.wait_for_selector(f'tr[data-or="{txn.or_number}"][data-status="partial"]')
    theirs.row(txn.or_number).wait_for(state="detached", timeout=3000)
    assert theirs.row(still_queued.or_number).count() == 1
    assert mine.errors == theirs.errors == []
