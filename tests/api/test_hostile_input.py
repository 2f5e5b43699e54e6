"""Input a client should not send gets a 400 that says what is wrong, and nothing is written:
numbers past any range, ids that are not whole numbers, text that cannot be encoded, an
ordering with empty keys, a key named twice. Most were a 500 or a silent write before."""

from __future__ import annotations

import pytest

from payments.models import PaymentSettlement
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def post_json(client, path, body: str):
    return client.generic("POST", path, body, content_type="application/json")


@pytest.mark.parametrize(
    "number", ["1e9999999999999999999", "-1e-9999999999999999999", "1E+1000000000000000000"]
)
def test_a_number_past_what_decimal_holds_is_a_400_even_before_login(api, number):
    resp = post_json(api(None), "/api/auth/token/", f'{{"username":"ada","password":{number}}}')
    assert resp.status_code == 400
    assert resp.json() == {"detail": f"JSON parse error - number out of range: {number}"}


@pytest.mark.parametrize("number", ["1E+300000", "1e-4301"])
def test_a_number_of_more_digits_than_int_takes_is_refused_by_the_parser(api, sales, number):
    """Read into an id's integer, 1E+300000 held the GIL for seconds: every other request
    and websocket of the process stood still meanwhile."""
    body = f'{{"customer": {number}, "amount": "1.00"}}'
    resp = post_json(api(sales), "/api/transactions/", body)
    assert resp.status_code == 400
    assert resp.json() == {"detail": f"JSON parse error - number out of range: {number}"}
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    "customer_id",
    ["1.9", "1.0", "1e0", "true", '"1.5"', '" 1"', '"0x1"', "9223372036854775808", "[1]"],
)
def test_a_customer_id_must_be_a_whole_number(api, sales, customer, customer_id):
    """1.9 was rounded down to 1 by the database lookup: a sale on the wrong customer."""
    body = f'{{"customer": {customer_id.replace("1", str(customer.pk), 1)}, "amount": "5.00"}}'
    resp = post_json(api(sales), "/api/transactions/", body)
    assert resp.status_code == 400, resp.content
    assert resp.json() == {"customer": ["Expected a whole-number id."]}
    assert not Transaction.objects.exists()


def test_a_customer_id_may_come_as_its_digits(api, sales, customer):
    body = f'{{"customer": "{customer.pk}", "amount": "5.00"}}'
    resp = post_json(api(sales), "/api/transactions/", body)
    assert resp.status_code == 201, resp.content
    assert Transaction.objects.get().customer_id == customer.pk


@pytest.mark.parametrize("cashier_id", ["{pk}.5", "{pk}.0", "true", "1e300"])
def test_a_cashier_id_must_be_a_whole_number(
    api, admin_user, cashier, make_transaction, cashier_id
):
    txn = make_transaction()
    body = f'{{"cashier": {cashier_id.format(pk=cashier.pk)}}}'
    resp = api(admin_user).generic(
        "PATCH", f"/api/transactions/{txn.pk}/", body, content_type="application/json"
    )
    assert resp.status_code == 400, resp.content
    assert resp.json() == {"cashier": ["Expected a whole-number id."]}
    txn.refresh_from_db()
    assert txn.cashier_id is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/transactions/",
            '{{"customer": {customer}, "amount": "1", "payment_mode": "\\udfff"}}',
        ),
        ("/api/transactions/{txn}/settlements/", '{{"amount": "1", "payment_mode": "\\udfff"}}'),
    ],
)
def test_an_unknown_choice_that_cannot_be_encoded_is_still_a_400(
    api, admin_user, customer, make_transaction, path, body
):
    """DRF's message repeats the choice: with a lone surrogate in it, rendering it as UTF-8
    raised, a 500. The response is \\u-escaped JSON instead."""
    txn = make_transaction()
    resp = post_json(api(admin_user), path.format(txn=txn.pk), body.format(customer=customer.pk))
    assert resp.status_code == 400
    assert resp.json() == {"payment_mode": ['"\udfff" is not a valid choice.']}
    assert b"\\udfff" in resp.content
    assert Transaction.objects.count() == 1
    assert not PaymentSettlement.objects.exists()


def test_names_past_ascii_still_read_back_as_written(api, sales, customer, make_transaction):
    customer.name = "Señora Ñiño 陳"
    customer.save()
    txn = make_transaction()
    resp = api(sales).get(f"/api/transactions/{txn.pk}/")
    assert resp.json()["customer_name"] == "Señora Ñiño 陳"


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [("amount,", ["5.00", "7.00"]), (",-amount", ["7.00", "5.00"]), (",", None), ("", None)],
)
def test_an_ordering_with_empty_keys_skips_them(api, sales, make_transaction, ordering, expected):
    make_transaction("7.00")
    make_transaction("5.00")
    resp = api(sales).get("/api/transactions/", {"ordering": ordering})
    assert resp.status_code == 200, resp.content
    amounts = [row["amount"] for row in resp.json()["results"]]
    # Without a key, the default order: the newest sale first.
    assert amounts == (expected or ["5.00", "7.00"])


def test_a_key_named_twice_is_refused(api, cashier, make_transaction):
    """Which of two amounts counts would depend on the reader: a proxy or a log may show the
    first where Python takes the last."""
    txn = make_transaction("100.00")
    body = '{"amount": "1.00", "payment_mode": "cash", "amount": "90.00"}'
    resp = post_json(api(cashier), f"/api/transactions/{txn.pk}/settlements/", body)
    assert resp.status_code == 400
    assert resp.json() == {"detail": "JSON parse error - duplicate key 'amount'"}
    assert not PaymentSettlement.objects.exists()


@pytest.mark.parametrize("value", ["12", "0", "1.5", "true", "[]"])
def test_text_fields_take_json_strings_only(
    api, sales, cashier, admin_user, make_transaction, value
):
    """DRF's CharField took a number as its text ({"name": 12} was the name "12") while it
    refused 1.5 and true; the schema says string."""
    bodies = [
        (sales, "/api/customers/", f'{{"name": {value}, "contact_number": "0917"}}', "name"),
        (
            sales,
            "/api/customers/",
            f'{{"name": "Ana", "contact_number": {value}}}',
            "contact_number",
        ),
        (
            sales,
            "/api/transactions/",
            f'{{"customer": 1, "amount": "5", "or_number": {value}}}',
            "or_number",
        ),
    ]
    txn = make_transaction("100.00")
    bodies.append(
        (
            cashier,
            f"/api/transactions/{txn.pk}/settlements/",
            f'{{"amount": "5", "payment_mode": "cash", "notes": {value}}}',
            "notes",
        )
    )
    for user, path, body, field in bodies:
        resp = post_json(api(user), path, body)
        assert resp.status_code == 400, (path, field)
        assert field in resp.json(), (path, resp.json())
    assert not PaymentSettlement.objects.exists()
    assert Transaction.objects.count() == 1
