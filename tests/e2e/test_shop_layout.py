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
