"""Text users type (names, notes, OR numbers) cannot disturb the page: a right-to-left
override does not reverse the money beside it, and long values wrap inside their box."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.services import settlement_record
from transactions.services import customer_create, transaction_create

from .helpers import off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: The x positions at which two substrings of an element's text are drawn.
DRAWN_AT = """([selector, first, second]) => {
  const el = document.querySelector(selector);
  const text = el.firstChild;
  const at = (needle) => {
    const start = text.data.indexOf(needle);
    const range = document.createRange();
    range.setStart(text, start);
    range.setEnd(text, start + needle.length);
    return range.getBoundingClientRect().x;
  };
  return [at(first), at(second)];
}"""

#: The open dialog's content is no wider than the dialog, and every button in it is inside.
DIALOG_FITS = """() => {
  const dialog = document.querySelector('dialog[open]');
  const box = dialog.getBoundingClientRect();
  const out = [...dialog.querySelectorAll('button')]
    .filter((b) => b.offsetParent !== null)
    .map((b) => b.getBoundingClientRect())
    .filter((r) => r.left < box.left || r.right > box.right + 0.5);
  return {
    fits: dialog.scrollWidth <= dialog.clientWidth && out.length === 0,
    scrollWidth: dialog.scrollWidth, clientWidth: dialog.clientWidth, cut: out.length,
  };
}"""


def test_a_right_to_left_override_in_a_name_does_not_reverse_the_balance(
    open_shop, admin_user, sales
):
    def make():
        customer = customer_create(name="Ana Lim \u202e", contact_number="0917 555 0101")
        return transaction_create(customer=customer, amount=Decimal("1250.00"), created_by=sales)

    txn = off_loop(make)
    shop = open_shop(admin_user)
    row = shop.row(txn.or_number)
    row.get_by_role("button", name=f"Record payment: {txn.or_number}").click()
    shop.page.locator("#pay-dialog").wait_for()
    # Read left to right, "₱" comes before "1,250.00", and "1," before ".00".
    peso, amount = shop.page.evaluate(DRAWN_AT, ["#pay-summary", "₱", "1,250.00"])
    assert peso < amount
    one, cents = shop.page.evaluate(DRAWN_AT, ["#pay-summary", "1,", ".00"])
    assert one < cents
    shop.page.keyboard.press("Escape")

    row.get_by_role("button", name=f"Payments: {txn.or_number}").click()
    shop.page.locator("#payments-dialog").wait_for()
    paid, of = shop.page.evaluate(DRAWN_AT, ["#payments-summary", "paid", "of ₱"])
    assert paid < of
    assert shop.errors == []


@pytest.mark.parametrize("viewport", [(375, 740), (1280, 800)])
def test_the_payments_dialog_fits_with_long_names_and_notes(
    open_shop, admin_user, cashier, sales, viewport
):
    """At 375 px the Void buttons were cut off at the dialog's edge; a name or notes with no
    space to break at made the dialog's content thousands of pixels wide."""

    def make():
        customer = customer_create(name="N" * 200, contact_number="0917 555 0102")
        txn = transaction_create(customer=customer, amount=Decimal("9000.00"), created_by=sales)
        for notes in ("x" * 1000, "Paid at the counter"):
            settlement_record(
                transaction=txn,
                amount=Decimal("1250.00"),
                payment_mode="bank_transfer",
                recorded_by=cashier,
                notes=notes,
            )
        return txn

    txn = off_loop(make)
    shop = open_shop(admin_user, viewport=viewport)
    shop.row(txn.or_number).get_by_role("button", name=f"Payments: {txn.or_number}").click()
    void_buttons = shop.page.locator("#payments-dialog").get_by_role(
        "button", name="Void payment of 1,250.00"
    )
    void_buttons.first.wait_for()
    assert void_buttons.count() == 2
    fit = shop.page.evaluate(DIALOG_FITS)
    assert fit["fits"], fit
    assert shop.errors == []


def test_a_forty_character_or_number_wraps_instead_of_widening_the_table(
    open_shop, admin_user, customer, sales, make_transaction
):
    """The API takes OR numbers of up to 40 characters; one made the table scroll sideways
    (at 1280 px beside the demo data's names; here at a tablet's 800 px)."""
    or_number = "OR-" + "9" * 37
    off_loop(
        transaction_create,
        customer=customer,
        amount=Decimal("100.00"),
        created_by=sales,
        or_number=or_number,
    )
    ordinary = off_loop(make_transaction, "100.00")
    shop = open_shop(admin_user, viewport=(800, 1100))
    shop.row(or_number).wait_for()
    assert shop.page.evaluate(
        """() => {
          const wrap = document.querySelector('.table-wrap');
          return document.documentElement.scrollWidth <= window.innerWidth
            && wrap.scrollWidth <= wrap.clientWidth;
        }"""
    )
    # An ordinary OR number still sits on one line (the lines of its text, not of its box),
    # also on a phone, where the table is squeezed.
    lines_of_text = """el => {
      const range = document.createRange();
      range.selectNodeContents(el);
      return range.getClientRects().length;
    }"""
    assert shop.row(or_number).locator(".or").evaluate(lines_of_text) >= 2
    for width in (800, 375):
        shop.page.set_viewport_size({"width": width, "height": 900})
        assert shop.row(ordinary.or_number).locator(".or").evaluate(lines_of_text) == 1, width
    assert shop.errors == []
