"""/api/transactions/: create, read, correct and delete; money as exact decimal strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.services import settlement_record
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def test_create_round_trips_money_exactly(api, sales, customer):
    resp = api(sales).post(
        "/api/transactions/",
        {"customer": customer.pk, "amount": "1500.00", "payment_mode": "gcash"},
        format="json",
    )
    assert resp.status_code == 201
    body = resp.json()
    assert (body["amount"], body["paid_amount"], body["balance_amount"]) == (
        "1500.00",
        "0.00",
        "1500.00",
    )
    assert body["payment_status"] == "unpaid"
    assert body["sales_agent"] == sales.pk and body["sales_agent_name"] == "Sam Santos"
    assert body["cashier"] is None and body["cashier_name"] is None
    assert body["or_number"].startswith("OR-")
    assert Transaction.objects.get(pk=body["id"]).amount == Decimal("1500.00")
    assert api(sales).get(f"/api/transactions/{body['id']}/").json() == body


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        ("1500", "1500.00"),
        ("0.5", "0.50"),
        ("9999999999.99", "9999999999.99"),
        (" 12.30 ", "12.30"),
        # JSON numbers are parsed as Decimals (escashop/api_parsers.py), never floats.
        (1500, "1500.00"),
        (1500.5, "1500.50"),
        (0.1, "0.10"),
    ],
)
def test_amounts_are_stored_with_two_places(api, sales, customer, amount, stored):
    resp = api(sales).post(
        "/api/transactions/", {"customer": customer.pk, "amount": amount}, format="json"
    )
    assert resp.status_code == 201, resp.json()
    assert resp.json()["amount"] == stored


@pytest.mark.parametrize(
    ("number", "stored"), [("1000.30", "1000.30"), ("0.10", "0.10"), ("1.5e3", "1500.00")]
)
def test_json_numbers_are_read_exactly_as_written(api, sales, customer, number, stored):
    """The body's own text, not a float rounded from it: 1000.30 is 1000.30 to the cent."""
    body = f'{{"customer": {customer.pk}, "amount": {number}}}'
    resp = api(sales).post("/api/transactions/", body, content_type="application/json")
    assert resp.status_code == 201, resp.json()
    assert resp.json()["amount"] == stored
    assert str(Transaction.objects.get().amount) == stored


def test_a_json_number_is_never_rounded_through_a_float(api, sales, customer):
    """As a float, 1500.1000000000000001 would be 1500.1 and pass; as written it has 16 places."""
    body = f'{{"customer": {customer.pk}, "amount": 1500.1000000000000001}}'
    resp = api(sales).post("/api/transactions/", body, content_type="application/json")
    assert resp.status_code == 400
    assert "2 decimal places" in resp.json()["amount"][0]
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0.00", "greater than 0"),
        ("-1.00", "greater than 0"),
        ("10.005", "2 decimal places"),
        ("10000000000.00", "less than or equal to 9999999999.99"),
        ("99999999999999999999999999999.001", "less than or equal to 9999999999.99"),
        ("abc", "valid number"),
        ("", "valid number"),
        (10.005, "2 decimal places"),
        (1e10, "less than or equal to 9999999999.99"),
        (True, "decimal strings"),
        ([1], "valid number"),
    ],
)
def test_bad_amounts_are_400_naming_the_field(api, sales, customer, amount, message):
    resp = api(sales).post(
        "/api/transactions/", {"customer": customer.pk, "amount": amount}, format="json"
    )
    assert resp.status_code == 400
    assert list(resp.json()) == ["amount"]
    assert message in resp.json()["amount"][0]
    assert not Transaction.objects.exists()


def test_missing_and_invalid_fields_are_named(api, sales):
    resp = api(sales).post(
        "/api/transactions/", {"customer": 999, "payment_mode": "bitcoin"}, format="json"
    )
    assert resp.status_code == 400
    assert set(resp.json()) == {"customer", "amount", "payment_mode"}
    assert resp.json()["amount"] == ["This field is required."]


def test_duplicate_or_number_is_400(api, sales, customer, make_transaction):
    make_transaction(or_number="OR-MANUAL-1")
    resp = api(sales).post(
        "/api/transactions/",
        {"customer": customer.pk, "amount": "5.00", "or_number": "OR-MANUAL-1"},
        format="json",
    )
    assert resp.status_code == 400
    assert "already exists" in resp.json()["or_number"][0]


@pytest.mark.parametrize(
    "typed",
    [
        lambda taken: taken.lower(),  # "or-2026-000001" is "OR-2026-000001" to the list filter
        lambda taken: taken + "\u200b",  # an invisible character, and a look-alike number
        lambda taken: "OR\t7",
    ],
)
def test_an_or_number_that_only_looks_new_is_400(api, sales, customer, make_transaction, typed):
    taken = make_transaction("10.00").or_number
    resp = api(sales).post(
        "/api/transactions/",
        {"customer": customer.pk, "amount": "5.00", "or_number": typed(taken)},
        format="json",
    )
    assert resp.status_code == 400
    assert list(resp.json()) == ["or_number"]
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (dt.timedelta(days=-3650), 201),  # a sale entered late is fine
        (dt.timedelta(hours=20), 201),  # within a day ahead: a till's clock, a time zone
        (dt.timedelta(days=2), 400),
        (dt.timedelta(days=365 * 7000), 400),  # year 9999: would sort first everywhere
        (
            dt.datetime(1999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=8)))
            - timezone.now(),
            400,
        ),
        # The first of January 2000 in Manila, still 1999 in UTC: the shop's own date counts.
        (
            dt.datetime(2000, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=8))) - timezone.now(),
            201,
        ),
    ],
)
def test_the_sale_date_must_be_a_plausible_one(api, sales, customer, offset, status):
    when = timezone.now() + offset
    resp = api(sales).post(
        "/api/transactions/",
        {"customer": customer.pk, "amount": "5.00", "transaction_date": when.isoformat()},
        format="json",
    )
    assert resp.status_code == status, resp.content
    if status == 400:
        assert list(resp.json()) == ["transaction_date"]


@pytest.mark.parametrize(
    "body",
    ["{not json", "[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000],
    ids=["malformed", "nested-arrays", "nested-objects"],
)
def test_body_that_is_not_json_is_400_with_detail(api, sales, body):
    """Nested deeper than Python's recursion limit too: a 400, not a 500 (api_parsers.py)."""
    resp = api(sales).generic("POST", "/api/transactions/", body, content_type="application/json")
    assert resp.status_code == 400
    assert "JSON parse error" in resp.json()["detail"]
    assert not Transaction.objects.exists()


def test_cashier_cannot_create(api, cashier, customer):
    resp = api(cashier).post(
        "/api/transactions/", {"customer": customer.pk, "amount": "5.00"}, format="json"
    )
    assert resp.status_code == 403
    assert resp.json() == {"detail": "You do not have permission to create transactions."}


def test_admin_corrects_amount_and_cashier(api, admin_user, cashier, make_transaction):
    txn = make_transaction("1000.00")
    client = api(admin_user)
    resp = client.patch(f"/api/transactions/{txn.pk}/", {"amount": "1200.50"}, format="json")
    assert resp.status_code == 200
    assert (resp.json()["amount"], resp.json()["balance_amount"]) == ("1200.50", "1200.50")
    resp = client.patch(f"/api/transactions/{txn.pk}/", {"cashier": cashier.pk}, format="json")
    assert resp.json()["cashier"] == cashier.pk
    assert resp.json()["cashier_name"] == "Carla Cruz"
    resp = client.patch(f"/api/transactions/{txn.pk}/", {"cashier": None}, format="json")
    assert resp.json()["cashier"] is None


def test_correction_cannot_go_below_what_is_paid(api, admin_user, cashier, make_transaction):
    txn = make_transaction("1000.00")
    settlement_record(transaction=txn, amount="600.00", payment_mode="cash", recorded_by=cashier)
    resp = api(admin_user).patch(
        f"/api/transactions/{txn.pk}/", {"amount": "599.99"}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json() == {"amount": ["Amount cannot be less than what has been paid (600.00)."]}


def test_only_cashiers_can_be_assigned(api, admin_user, sales, make_transaction):
    txn = make_transaction()
    client = api(admin_user)
    resp = client.patch(f"/api/transactions/{txn.pk}/", {"cashier": sales.pk}, format="json")
    assert resp.status_code == 400
    assert resp.json() == {"cashier": ["This user is not an active cashier."]}
    resp = client.patch(f"/api/transactions/{txn.pk}/", {"cashier": 987654}, format="json")
    assert resp.status_code == 400
    assert "cashier" in resp.json()


def test_read_only_fields_cannot_be_patched(api, admin_user, make_transaction):
    txn = make_transaction("1000.00")
    resp = api(admin_user).patch(
        f"/api/transactions/{txn.pk}/",
        {"paid_amount": "1000.00", "payment_status": "paid", "or_number": "X"},
        format="json",
    )
    assert resp.status_code == 200
    txn.refresh_from_db()
    assert (txn.paid_amount, txn.payment_status) == (Decimal("0.00"), "unpaid")
    assert txn.or_number != "X"


def test_put_is_not_offered(api, admin_user, make_transaction):
    txn = make_transaction()
    resp = api(admin_user).put(f"/api/transactions/{txn.pk}/", {}, format="json")
    assert resp.status_code == 405


def test_delete_without_settlements(api, admin_user, make_transaction):
    txn = make_transaction()
    assert api(admin_user).delete(f"/api/transactions/{txn.pk}/").status_code == 204
    assert not Transaction.objects.filter(pk=txn.pk).exists()


def test_delete_with_settlements_is_409(api, admin_user, cashier, make_transaction):
    txn = make_transaction()
    settlement_record(transaction=txn, amount="1.00", payment_mode="cash", recorded_by=cashier)
    resp = api(admin_user).delete(f"/api/transactions/{txn.pk}/")
    assert resp.status_code == 409
    assert resp.json() == {
        "detail": "This transaction has payment settlements and cannot be deleted."
    }
    assert Transaction.objects.filter(pk=txn.pk).exists()


@pytest.mark.parametrize(
    "body",
    [{"customer": "x", "amount": "1"}, {"customer": 999999, "amount": "1.00"}, {}],
)
def test_a_cashier_is_refused_a_sale_before_the_body_is_read(api, cashier, body):
    """The body was validated first: a cashier learned which customer ids exist from the
    400s, and got the 403 only for a valid body."""
    resp = api(cashier).post("/api/transactions/", body, format="json")
    assert resp.status_code == 403
    assert set(resp.json()) == {"detail"}
