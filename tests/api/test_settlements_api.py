"""Settlements over REST: record (cashier is always the caller), overpayment, idempotent
retries, list, void."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from payments.models import PaymentSettlement
from payments.services import settlement_record

pytestmark = pytest.mark.django_db


def pay(client, txn, amount="1000.00", mode="cash", key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        f"/api/transactions/{txn.pk}/settlements/",
        {"amount": amount, "payment_mode": mode, **extra},
        format="json",
        **headers,
    )


def test_instalments_round_trip_money_and_status(api, cashier, make_transaction):
    txn = make_transaction("1500.00")
    client = api(cashier)
    resp = pay(client, txn, "1000.00", notes="first instalment")
    assert resp.status_code == 201
    body = resp.json()
    assert body["amount"] == "1000.00"
    assert body["payment_mode"] == "cash"
    assert body["notes"] == "first instalment"
    assert body["voided"] is False and body["voided_at"] is None
    state = client.get(f"/api/transactions/{txn.pk}/").json()
    assert (state["paid_amount"], state["balance_amount"], state["payment_status"]) == (
        "1000.00",
        "500.00",
        "partial",
    )
    assert pay(client, txn, "500", "maya").json()["amount"] == "500.00"
    state = client.get(f"/api/transactions/{txn.pk}/").json()
    assert (state["paid_amount"], state["balance_amount"], state["payment_status"]) == (
        "1500.00",
        "0.00",
        "paid",
    )


@pytest.mark.parametrize(
    ("amount", "payment", "balance"),
    [("1000.30", "0.10", "1000.20"), ("0.30", "0.10", "0.20"), ("1000.30", "1000.20", "0.10")],
)
def test_cents_that_binary_floats_cannot_hold_pay_exactly(
    api, cashier, make_transaction, amount, payment, balance
):
    """On SQLite (the quick start), too, where decimal columns are stored as floats."""
    txn = make_transaction(amount)
    client = api(cashier)
    assert pay(client, txn, payment).status_code == 201
    state = client.get(f"/api/transactions/{txn.pk}/").json()
    assert (state["paid_amount"], state["balance_amount"]) == (payment, balance)
    assert pay(client, txn, balance).status_code == 201
    state = client.get(f"/api/transactions/{txn.pk}/").json()
    assert (state["balance_amount"], state["payment_status"]) == ("0.00", "paid")


def test_cashier_is_the_caller_whatever_the_body_says(api, cashier, cashier2, make_transaction):
    txn = make_transaction("100.00")
    resp = pay(api(cashier), txn, "10.00", cashier=cashier2.pk, voided=True)
    assert resp.status_code == 201
    assert resp.json()["cashier"] == cashier.pk
    assert resp.json()["voided"] is False
    txn.refresh_from_db()
    assert txn.cashier_id == cashier.pk  # the first payment made carla its cashier


def test_overpayment_is_400_naming_the_remaining_balance(api, cashier, make_transaction):
    txn = make_transaction("1500.00")
    client = api(cashier)
    pay(client, txn, "1000.00")
    resp = pay(client, txn, "500.01")
    assert resp.status_code == 400
    assert resp.json() == {"amount": ["Amount exceeds the remaining balance of 500.00."]}
    assert PaymentSettlement.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0", "payment_mode": "cash"}, "amount"),
        ({"amount": "1.001", "payment_mode": "cash"}, "amount"),
        ({"amount": 10.505, "payment_mode": "cash"}, "amount"),
        ({"amount": None, "payment_mode": "cash"}, "amount"),
        ({"amount": "1.00", "payment_mode": "bitcoin"}, "payment_mode"),
        ({"payment_mode": "cash"}, "amount"),
        ({"amount": "1.00"}, "payment_mode"),
        ({"amount": "1.00", "payment_mode": "cash", "notes": "x" * 2001}, "notes"),
    ],
)
def test_invalid_settlements_are_400_naming_the_field(api, cashier, make_transaction, body, field):
    txn = make_transaction("100.00")
    resp = api(cashier).post(f"/api/transactions/{txn.pk}/settlements/", body, format="json")
    assert resp.status_code == 400
    assert list(resp.json()) == [field]
    assert PaymentSettlement.objects.count() == 0


def test_sales_cannot_record_payments_even_on_their_own(api, sales, make_transaction):
    txn = make_transaction("100.00")
    resp = pay(api(sales), txn, "1.00")
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Only cashiers and admins record payments."}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"amount": "abc"}, {}),  # was 400 naming payment_mode: the body read first
        ({}, {}),
        ({"amount": "1.00", "payment_mode": "cash"}, {"HTTP_IDEMPOTENCY_KEY": "x" * 300}),
    ],
)
def test_sales_are_refused_before_the_body_is_read(
    api, sales, sales2, make_transaction, body, headers
):
    txn = make_transaction("100.00")  # sales's own: visible, so 403
    url = f"/api/transactions/{txn.pk}/settlements/"
    resp = api(sales).post(url, body, format="json", **headers)
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Only cashiers and admins record payments."}
    # On a transaction they cannot see it is 404, as ever.
    assert api(sales2).post(url, body, format="json", **headers).status_code == 404


def test_paying_a_transaction_the_cashier_cannot_see_is_404(
    api, cashier, cashier2, make_transaction
):
    txn = make_transaction("100.00")
    pay(api(cashier2), txn, "1.00")  # now carlo's
    assert pay(api(cashier), txn, "1.00").status_code == 404
    assert PaymentSettlement.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"amount": "-1", "payment_mode": "cash"}, {}),
        ({"amount": "1.00", "payment_mode": "bitcoin"}, {}),
        ({"amount": "1.00", "payment_mode": "cash"}, {"HTTP_IDEMPOTENCY_KEY": "x" * 500}),
        ("{not json", {}),
        ("amount=1", {"content_type": "application/x-www-form-urlencoded"}),
    ],
    ids=["bad-amount", "bad-mode", "bad-key", "malformed-json", "form-encoded"],
)
def test_a_transaction_the_caller_cannot_see_is_404_whatever_is_wrong_with_the_request(
    api, cashier, cashier2, sales2, make_transaction, body, headers
):
    # The POST looks nothing up before the service locks the row; a request refused for
    # another reason must still not tell a caller that a hidden transaction exists.
    txn = make_transaction("100.00")
    url = f"/api/transactions/{txn.pk}/settlements/"
    pay(api(cashier2), txn, "1.00")  # now carlo's: hidden from carla
    options = {"content_type": "application/json", **headers}
    payload = body if isinstance(body, str) else json.dumps(body)
    hidden = api(cashier).post(url, payload, **options)
    assert hidden.status_code == 404
    assert hidden.json() == {"detail": "No Transaction matches the given query."}
    assert api(sales2).post(url, payload, **options).status_code == 404  # not sam's either
    # The same request on a transaction the caller sees is refused for what it is.
    assert api(cashier2).post(url, payload, **options).status_code in (400, 415)
    assert PaymentSettlement.objects.count() == 1


def test_the_service_decides_visibility_on_the_locked_row(api, cashier, cashier2, make_transaction):
    # The service reads the transaction again under its row lock, whatever it is given (an
    # instance, or the id the API passes), and refuses it if the recorder cannot see it as
    # it stands then: TransactionHidden, a PermissionDenied its other callers (the admin)
    # show as such, and that the API answers 404.
    from django.core.exceptions import PermissionDenied

    from transactions.exceptions import TransactionHidden

    txn = make_transaction("100.00")
    settlement_record(transaction=txn, amount="1.00", payment_mode="cash", recorded_by=cashier2)
    stale = type(txn).objects.get(pk=txn.pk)
    stale.cashier_id = None  # as it was before carlo's payment
    for given in (txn.pk, stale):
        with pytest.raises(TransactionHidden) as refused:
            settlement_record(
                transaction=given, amount="1.00", payment_mode="cash", recorded_by=cashier
            )
        assert isinstance(refused.value, PermissionDenied)
    assert pay(api(cashier), txn, "1.00").status_code == 404
    assert PaymentSettlement.objects.count() == 1


@pytest.mark.parametrize("transaction_id", [0, 2**63, 10**30])
def test_paying_an_id_no_transaction_can_have_is_404(api, cashier, transaction_id):
    resp = api(cashier).post(
        f"/api/transactions/{transaction_id}/settlements/",
        {"amount": "1.00", "payment_mode": "cash"},
        format="json",
    )
    assert resp.status_code == 404
    # 0 matches no URL ("Not found."); the others no row.
    assert set(resp.json()) == {"detail"}
    assert not PaymentSettlement.objects.exists()


def test_idempotency_key_replays_the_first_result(api, cashier, make_transaction):
    txn = make_transaction("100.00")
    client = api(cashier)
    first = pay(client, txn, "40.00", key="till-7-0001")
    again = pay(client, txn, "40.00", key="till-7-0001")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert PaymentSettlement.objects.count() == 1
    txn.refresh_from_db()
    assert txn.paid_amount == Decimal("40.00")
    other = pay(client, txn, "40.00", key="till-7-0002")
    assert other.json()["id"] != first.json()["id"]


def test_idempotency_key_reused_for_a_different_payment_is_409(api, cashier, make_transaction):
    txn = make_transaction("100.00")
    client = api(cashier)
    pay(client, txn, "40.00", key="k-1")
    resp = pay(client, txn, "41.00", key="k-1")
    assert resp.status_code == 409
    assert resp.json() == {
        "detail": "This Idempotency-Key was already used for a different payment."
    }


def test_idempotency_keys_belong_to_their_user(api, admin_user, cashier, make_transaction):
    txn = make_transaction("100.00")
    pay(api(cashier), txn, "10.00", key="same")
    resp = pay(api(admin_user), txn, "10.00", key="same")
    assert resp.status_code == 201
    assert PaymentSettlement.objects.count() == 2


@pytest.mark.parametrize("key", ["", "   ", "k" * 256, "a\x00b", "line\nbreak", "\x7f"])
def test_bad_idempotency_key_is_400(api, cashier, make_transaction, key):
    txn = make_transaction("100.00")
    resp = pay(api(cashier), txn, "1.00", key=key)
    assert resp.status_code == 400
    assert list(resp.json()) == ["Idempotency-Key"]


def test_list_shows_all_settlements_oldest_first(api, admin_user, cashier, make_transaction):
    txn = make_transaction("100.00")
    a = settlement_record(transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier)
    settlement_record(transaction=txn, amount="20.00", payment_mode="gcash", recorded_by=cashier)
    api(admin_user).post(f"/api/settlements/{a.pk}/void/", {"reason": "typo"}, format="json")
    rows = api(cashier).get(f"/api/transactions/{txn.pk}/settlements/").json()["results"]
    assert [(r["amount"], r["voided"]) for r in rows] == [("10.00", True), ("20.00", False)]


def test_void_restores_the_balance(api, admin_user, cashier, make_transaction):
    txn = make_transaction("100.00")
    s = settlement_record(transaction=txn, amount="60.00", payment_mode="cash", recorded_by=cashier)
    resp = api(admin_user).post(
        f"/api/settlements/{s.pk}/void/", {"reason": "wrong customer"}, format="json"
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["voided"] is True
    assert body["voided_by"] == admin_user.pk
    assert body["void_reason"] == "wrong customer"
    state = api(admin_user).get(f"/api/transactions/{txn.pk}/").json()
    assert (state["paid_amount"], state["balance_amount"], state["payment_status"]) == (
        "0.00",
        "100.00",
        "unpaid",
    )


def test_void_needs_a_reason_and_happens_once(api, admin_user, cashier, make_transaction):
    txn = make_transaction("100.00")
    s = settlement_record(transaction=txn, amount="60.00", payment_mode="cash", recorded_by=cashier)
    client = api(admin_user)
    url = f"/api/settlements/{s.pk}/void/"
    assert client.post(url, {}, format="json").json() == {"reason": ["This field is required."]}
    assert client.post(url, {"reason": "  "}, format="json").json() == {
        "reason": ["A reason is required to void a payment."]
    }
    assert client.post(url, {"reason": "typo"}, format="json").status_code == 200
    resp = client.post(url, {"reason": "again"}, format="json")
    assert resp.status_code == 400
    assert resp.json() == {"non_field_errors": ["This payment is already voided."]}


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": ["a", "list"]}])
def test_a_cashier_is_refused_a_void_before_the_body_is_read(api, cashier, make_transaction, body):
    txn = make_transaction("100.00")
    s = settlement_record(transaction=txn, amount="60.00", payment_mode="cash", recorded_by=cashier)
    resp = api(cashier).post(f"/api/settlements/{s.pk}/void/", body, format="json")
    assert resp.status_code == 403  # was 400 {"reason": [...]}
    assert resp.json() == {"detail": "Only admins void payments."}


def test_cashier_cannot_void(api, cashier, make_transaction):
    txn = make_transaction("100.00")
    s = settlement_record(transaction=txn, amount="60.00", payment_mode="cash", recorded_by=cashier)
    resp = api(cashier).post(f"/api/settlements/{s.pk}/void/", {"reason": "x"}, format="json")
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Only admins void payments."}
    s.refresh_from_db()
    assert s.voided_at is None
