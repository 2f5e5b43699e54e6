"""The page with the demo data fits 1280x800 and a tablet's 800px without a sideways scroll.

Also makes docs/screenshot-shop.png:
``ESCASHOP_SCREENSHOT=docs/screenshot-shop.png pytest tests/e2e/test_shop_layout.py``
(with the PostgreSQL/Redis variables of the full suite).
"""

from __future__ import annotations

import io
import os
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from payments.services import settlement_record
from transactions.models import Transaction
from transactions.services import customer_create, transaction_create

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FITS = """() => {
  const wrap = document.querySelector('.table-wrap');
  return document.documentElement.scrollWidth <= window.innerWidth
    && wrap.scrollWidth <= wrap.clientWidth;
}"""


def test_demo_data_fits_desktop_and_tablet_widths(open_shop):
    off_loop(call_command, "load_demo_data", "--insecure", stdout=io.StringIO())
    admin = User.objects.get(username="admin")
    shop = open_shop(admin, via_form=True, password="admin-demo-pass")
    page = shop.page
    rows = page.locator("#transactions tbody tr")
    assert rows.count() == Transaction.objects.count() == 6
    statuses = {rows.nth(i).get_attribute("data-status") for i in range(6)}
    assert statuses == {"unpaid", "partial", "paid"}

    # A payment lands while we look, so the picture shows a highlighted row.
    unpaid = Transaction.objects.filter(payment_status="unpaid").order_by("id").first()
    off_loop(
        settlement_record,
        transaction=unpaid,
        amount=Decimal("500.00"),
        payment_mode="gcash",
        recorded_by=User.objects.get(username="cashier1"),
    )
    page.wait_for_selector(f'tr[data-or="{unpaid.or_number}"][data-status="partial"].flash')
    assert page.evaluate(FITS)
    target = os.environ.get("ESCASHOP_SCREENSHOT")
    if target:
        time.sleep(0.3)
        page.screenshot(path=target)

    page.set_viewport_size({"width": 800, "height": 1100})
    assert page.evaluate(FITS)
    # Every row's buttons are on screen and big enough to hit.
    for button in page.locator("#transactions button").all():
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 800 and box["height"] >= 30
    assert shop.errors == []


PAGE_FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_on_a_phone_only_the_table_scrolls_sideways_and_dialogs_fit(
    open_shop, cashier, make_transaction
):
    """The header's visually hidden "Actions" text sat outside the table's scroll box and
    widened the page to about 600 px: the page panned and dialogs were cut off."""
    txn = off_loop(make_transaction, "1500.00")
    shop = open_shop(cashier, viewport=(390, 844))
    page = shop.page
    shop.row(txn.or_number).wait_for()
    assert page.evaluate(PAGE_FITS)
    for name in ("Record payment", "Payments"):
        shop.row(txn.or_number).get_by_role("button", name=f"{name}: {txn.or_number}").click()
        dialog = page.locator("dialog[open]")
        dialog.wait_for()
        box = dialog.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
        assert page.evaluate(PAGE_FITS), name
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('dialog[open]')")
    assert shop.errors == []


def test_a_name_without_spaces_wraps_instead_of_pushing_the_money_away(
    open_shop, admin_user, sales
):
    def make():
        name = "Optical_" + "x" * 96  # 104 characters, no space to break at
        customer = customer_create(name=name, contact_number="0917 555 0000")
        return transaction_create(customer=customer, amount="2500.00", created_by=sales)

    txn = off_loop(make)
    shop = open_shop(admin_user)
    row = shop.row(txn.or_number)
    row.wait_for()
    assert shop.page.evaluate(FITS)
    actions = row.locator(".c-actions").bounding_box()
    assert actions["x"] + actions["width"] <= 1280
