"""SPEC section 2 (Domain), black-box over REST: roles, money, invariants, cashier rules,
PROTECT."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_roles_are_the_three_groups(server):
    for user, roles in [
        ("acc_admin", ["admin"]),
        ("acc_cashier", ["cashier"]),
        ("acc_sales", ["sales"]),
        ("acc_multi", ["cashier", "sales"]),
        ("acc_nobody", []),
    ]:
        r = server.get("/api/auth/me/", user=user)
        assert r.status == 200, r
        assert sorted(r.json["roles"]) == roles, (user, r)


def test_superuser_counts_as_admin(server):
    me = server.get("/api/auth/me/", user="acc_super")
    assert me.status == 200, me
    assert "admin" in me.json["roles"], me
    txn = server.transaction(user="acc_sales2")
    assert server.get(f"/api/transactions/{txn['id']}/", user="acc_super").status == 200
    # Admin-only acts work for a superuser without any group.
    r = server.patch(f"/api/transactions/{txn['id']}/", {"amount": "1600.00"}, user="acc_super")
    assert r.status == 200, r
    assert server.delete(f"/api/transactions/{txn['id']}/", user="acc_super").status == 204


def test_money_is_a_two_place_string(server):
    txn = server.transaction(amount="1500")
    assert {
        "id", "customer", "or_number", "amount", "payment_mode", "sales_agent", "cashier",
        "paid_amount", "balance_amount", "payment_status", "transaction_date", "created_at",
        "updated_at",
    } <= set(txn), sorted(txn)  # fmt: skip
    assert txn["amount"] == "1500.00"
    assert txn["paid_amount"] == "0.00"
    assert txn["balance_amount"] == "1500.00"
    assert txn["payment_status"] == "unpaid"
    r = server.settle(txn["id"], "99.5")
    assert r.status == 201, r
    assert r.json["amount"] == "99.50"
    assert {
        "id", "transaction", "amount", "payment_mode", "cashier", "paid_at", "notes",
        "voided_at", "voided_by", "void_reason",
    } <= set(r.json), sorted(r.json)  # fmt: skip
    assert r.json["voided_at"] is None and r.json["voided_by"] is None


@pytest.mark.parametrize(
    "amount", ["10.005", "0.001", "1500.999", "0", "0.00", "-1.00", "10000000000.00", "abc", ""]
)
def test_bad_transaction_amount_is_a_400_on_the_field(server, amount):
    cust = server.customer()
    r = server.post(
        "/api/transactions/",
        {"customer": cust["id"], "amount": amount, "payment_mode": "cash"},
        user="acc_sales",
    )
    assert r.status == 400, r
    assert isinstance(r.json.get("amount"), list) and r.json["amount"], r


def test_largest_amount_is_accepted(server):
    txn = server.transaction(amount="9999999999.99")
    assert txn["amount"] == "9999999999.99"


@pytest.mark.parametrize("amount", ["10.005", "0", "-5.00", "abc", "1.5.0"])
def test_bad_settlement_amount_is_a_400_and_not_rounded(server, amount):
    txn = server.transaction(amount="1500.00")
    r = server.settle(txn["id"], amount)
    assert r.status == 400, r
    assert isinstance(r.json.get("amount"), list) and r.json["amount"], r
    after = server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").json
    assert after["paid_amount"] == "0.00", after


def test_overpay_is_a_400_naming_the_balance(server):
    txn = server.transaction(amount="1500.00")
    assert server.settle(txn["id"], "1000.00").status == 201
    r = server.settle(txn["id"], "500.01")
    assert r.status == 400, r
    assert "500.00" in r.text, r
    assert isinstance(r.json, dict) and all(isinstance(v, list) for v in r.json.values()), r
    after = server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").json
    assert after["paid_amount"] == "1000.00"


def test_invariants_through_record_and_void(server):
    txn = server.transaction(amount="1500.00")
    tid = txn["id"]
    s1 = server.settle(tid, "1000.00").json
    t = server.get(f"/api/transactions/{tid}/", user="acc_admin").json
    assert (t["paid_amount"], t["balance_amount"], t["payment_status"]) == (
        "1000.00",
        "500.00",
        "partial",
    )
    s2 = server.settle(tid, "500.00", mode="gcash").json
    t = server.get(f"/api/transactions/{tid}/", user="acc_admin").json
    assert (t["paid_amount"], t["balance_amount"], t["payment_status"]) == (
        "1500.00",
        "0.00",
        "paid",
    )
    r = server.post(f"/api/settlements/{s1['id']}/void/", {"reason": "typo"}, user="acc_admin")
    assert r.status == 200, r
    t = server.get(f"/api/transactions/{tid}/", user="acc_admin").json
    assert (t["paid_amount"], t["balance_amount"], t["payment_status"]) == (
        "500.00",
        "1000.00",
        "partial",
    )
    server.post(f"/api/settlements/{s2['id']}/void/", {"reason": "typo"}, user="acc_admin")
    t = server.get(f"/api/transactions/{tid}/", user="acc_admin").json
    assert (t["paid_amount"], t["balance_amount"], t["payment_status"]) == (
        "0.00",
        "1500.00",
        "unpaid",
    )


@pytest.mark.parametrize("mode", ["cash", "gcash", "maya", "credit_card", "bank_transfer"])
def test_every_payment_mode_is_accepted(server, mode):
    txn = server.transaction(amount="10.00")
    r = server.settle(txn["id"], "10.00", mode=mode)
    assert r.status == 201, r
    assert r.json["payment_mode"] == mode


def test_unknown_payment_mode_is_a_400(server):
    txn = server.transaction(amount="10.00")
    r = server.settle(txn["id"], "10.00", mode="bitcoin")
    assert r.status == 400 and "payment_mode" in r.json, r


def test_recorder_becomes_cashier_and_body_cashier_is_ignored(server):
    txn = server.transaction()
    assert txn["cashier"] is None
    other = server.user_ids["acc_cashier2"]
    r = server.post(
        f"/api/transactions/{txn['id']}/settlements/",
        {"amount": "100.00", "payment_mode": "cash", "cashier": other},
        user="acc_cashier",
    )
    assert r.status == 201, r
    assert r.json["cashier"] == server.user_ids["acc_cashier"]
    t = server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").json
    assert t["cashier"] == server.user_ids["acc_cashier"]
    # An admin paying later records as the admin; the transaction's cashier stays.
    r = server.settle(txn["id"], "100.00", user="acc_admin")
    assert r.status == 201 and r.json["cashier"] == server.user_ids["acc_admin"], r
    t = server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").json
    assert t["cashier"] == server.user_ids["acc_cashier"]


def test_settlements_are_never_edited_or_deleted(server):
    txn = server.transaction()
    s = server.settle(txn["id"], "100.00").json
    for method in ("PUT", "PATCH", "DELETE"):
        r = server.request(
            method, f"/api/settlements/{s['id']}/", body={"amount": "1.00"}, user="acc_admin"
        )
        assert r.status in (403, 404, 405), (method, r)
    got = server.get(f"/api/settlements/{s['id']}/", user="acc_admin")
    assert got.status == 200 and got.json["amount"] == "100.00", got


def test_delete_with_settlements_is_409_and_keeps_everything(server):
    txn = server.transaction()
    s = server.settle(txn["id"], "100.00").json
    r = server.delete(f"/api/transactions/{txn['id']}/", user="acc_admin")
    assert r.status == 409, r
    assert set(r.json) == {"detail"}, r
    assert server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").status == 200
    assert server.get(f"/api/settlements/{s['id']}/", user="acc_admin").status == 200
    # A voided settlement still protects the transaction (it is a financial record).
    server.post(f"/api/settlements/{s['id']}/void/", {"reason": "x"}, user="acc_admin")
    assert server.delete(f"/api/transactions/{txn['id']}/", user="acc_admin").status == 409


def test_delete_without_settlements_is_204(server):
    txn = server.transaction()
    assert server.delete(f"/api/transactions/{txn['id']}/", user="acc_admin").status == 204
    assert server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").status == 404


def test_or_number_generated_and_unique(server):
    a = server.transaction()
    b = server.transaction()
    assert a["or_number"] and b["or_number"] and a["or_number"] != b["or_number"]
    cust = server.customer()
    body = {"customer": cust["id"], "amount": "1.00", "or_number": "OR-ACC-UNIQUE-1"}
    assert server.post("/api/transactions/", body, user="acc_sales").status == 201
    r = server.post("/api/transactions/", body, user="acc_sales")
    assert r.status == 400 and "or_number" in r.json, r


def test_customer_email_optional_and_fields(server):
    r = server.post("/api/customers/", {"name": "Ana", "contact_number": "0917"}, user="acc_sales")
    assert r.status == 201, r
    assert {"id", "name", "contact_number", "email", "created_at", "updated_at"} <= set(r.json)


@pytest.mark.parametrize("amount", ["10.000", "1500.0000"])
def test_three_places_with_trailing_zeros_are_still_an_error(server, amount):
    cust = server.customer()
    r = server.post(
        "/api/transactions/",
        {"customer": cust["id"], "amount": amount, "payment_mode": "cash"},
        user="acc_sales",
    )
    assert r.status == 400, r
    txn = server.transaction(amount="1500.00")
    r = server.settle(txn["id"], amount)
    assert r.status == 400, r
