"""SPEC section 3 (Who sees what) over REST: every role's view, 404s, the union of roles,
inactive users, who may do what."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def _ids(server, user: str, query: str = "") -> set[int]:
    r = server.get(f"/api/transactions/?page_size=100{query}", user=user)
    assert r.status == 200, r
    ids = {t["id"] for t in r.json["results"]}
    while r.json.get("next"):
        nxt = r.json["next"].split("/api/", 1)[1]
        r = server.get("/api/" + nxt, user=user)
        ids |= {t["id"] for t in r.json["results"]}
    return ids


def _visible(server, user: str, tid: int) -> bool:
    r = server.get(f"/api/transactions/{tid}/", user=user)
    assert r.status in (200, 404), r
    if r.status == 404:
        assert set(r.json) == {"detail"}, r
    listed = tid in _ids(server, user)
    assert listed == (r.status == 200), (user, tid, r)
    return r.status == 200


def test_each_role_sees_what_the_table_says(server):
    mine = server.transaction(user="acc_sales")  # unassigned
    theirs = server.transaction(user="acc_sales2")
    paid_by_c1 = server.transaction(user="acc_sales2")
    assert server.settle(paid_by_c1["id"], "10.00", user="acc_cashier").status == 201
    expect = {
        "acc_admin": {mine["id"], theirs["id"], paid_by_c1["id"]},
        "acc_super": {mine["id"], theirs["id"], paid_by_c1["id"]},
        "acc_sales": {mine["id"]},
        "acc_sales2": {theirs["id"], paid_by_c1["id"]},
        "acc_cashier": {mine["id"], theirs["id"], paid_by_c1["id"]},  # queue + own
        "acc_cashier2": {mine["id"], theirs["id"]},  # the queue only
        "acc_multi": {mine["id"], theirs["id"]},  # union: own sales (none here) + queue
    }
    for user, visible in expect.items():
        for txn in (mine, theirs, paid_by_c1):
            assert _visible(server, user, txn["id"]) == (txn["id"] in visible), (user, txn["id"])


def test_union_of_roles(server):
    own_sale = server.transaction(user="acc_multi")
    other = server.transaction(user="acc_sales")
    server.settle(other["id"], "10.00", user="acc_cashier")  # leaves the queue
    cashiered = server.transaction(user="acc_sales")
    server.settle(cashiered["id"], "10.00", user="acc_multi")
    server.settle(own_sale["id"], "10.00", user="acc_cashier")  # own sale, other cashier
    assert _visible(server, "acc_multi", own_sale["id"])  # as sales
    assert _visible(server, "acc_multi", cashiered["id"])  # as cashier
    assert not _visible(server, "acc_multi", other["id"])


def test_hidden_transaction_is_404_everywhere(server):
    txn = server.transaction(user="acc_sales")
    s = server.settle(txn["id"], "10.00", user="acc_cashier").json
    tid = txn["id"]
    for user in ("acc_sales2", "acc_cashier2"):
        for method, path, body in [
            ("GET", f"/api/transactions/{tid}/", None),
            ("GET", f"/api/transactions/{tid}/settlements/", None),
            (
                "POST",
                f"/api/transactions/{tid}/settlements/",
                {"amount": "1.00", "payment_mode": "cash"},
            ),
            ("GET", f"/api/settlements/{s['id']}/", None),
        ]:
            r = server.request(method, path, body=body, user=user)
            assert r.status == 404, (user, method, path, r)
            assert set(r.json) == {"detail"}, r
    # The hidden transaction does not show through filters either.
    assert tid not in _ids(server, "acc_sales2", f"&or_number={txn['or_number']}")


def test_no_role_user_sees_nothing(server):
    server.transaction(user="acc_sales")
    r = server.get("/api/transactions/", user="acc_nobody")
    assert r.status in (403, 404) or (r.status == 200 and r.json["results"] == []), r
    if r.status != 200:
        assert set(r.json) == {"detail"}, r
    r = server.get("/api/payment-events/", user="acc_nobody")
    assert r.status in (403, 404) or (r.status == 200 and r.json["events"] == []), r


def test_inactive_user_can_do_nothing(server):
    r = server.login("acc_inactive")
    assert r.status == 401, r
    assert set(r.json) >= {"detail"}, r


def test_deactivated_users_token_stops_working(server):
    token = server.access("acc_deact")
    assert server.get("/api/auth/me/", token=token).status == 200
    server.shell(
        "from django.contrib.auth.models import User\n"
        "User.objects.filter(username='acc_deact').update(is_active=False)"
    )
    for path in ("/api/auth/me/", "/api/transactions/", "/api/payment-events/"):
        r = server.get(path, token=token)
        assert r.status == 401, (path, r)
        assert "detail" in r.json, r
    r = server.post("/api/auth/token/refresh/", {"refresh": server.refresh("acc_deact")})
    assert r.status == 401, r


@pytest.mark.parametrize("user", ["acc_sales", "acc_nobody"])
def test_only_cashier_and_admin_record_settlements(server, user):
    txn = server.transaction(user="acc_sales")
    r = server.settle(txn["id"], "10.00", user=user)
    assert r.status in (403, 404), r
    assert set(r.json) == {"detail"}, r
    if user == "acc_sales":
        assert r.status == 403, r  # the sales agent sees it, but may not record money


@pytest.mark.parametrize("user", ["acc_admin", "acc_cashier"])
def test_cashier_and_admin_record_settlements(server, user):
    txn = server.transaction(user="acc_sales")
    assert server.settle(txn["id"], "10.00", user=user).status == 201


@pytest.mark.parametrize("user", ["acc_cashier", "acc_sales", "acc_multi"])
def test_only_admin_voids(server, user):
    txn = server.transaction(user="acc_multi")
    s = server.settle(txn["id"], "10.00", user="acc_multi").json
    r = server.post(f"/api/settlements/{s['id']}/void/", {"reason": "no"}, user=user)
    assert r.status in (403, 404), r
    assert set(r.json) == {"detail"}, r
    got = server.get(f"/api/settlements/{s['id']}/", user="acc_admin").json
    assert got["voided"] is False


@pytest.mark.parametrize("user", ["acc_cashier", "acc_nobody"])
def test_only_sales_and_admin_create_transactions(server, user):
    cust = server.customer()
    r = server.post("/api/transactions/", {"customer": cust["id"], "amount": "10.00"}, user=user)
    assert r.status == 403, r
    assert set(r.json) == {"detail"}, r


def test_sales_and_admin_create_transactions_and_become_sales_agent(server):
    for user in ("acc_sales", "acc_admin", "acc_super"):
        txn = server.transaction(user=user)
        assert txn["sales_agent"] == server.user_ids[user]
    cust = server.customer()
    r = server.post(
        "/api/transactions/",
        {"customer": cust["id"], "amount": "10.00", "sales_agent": server.user_ids["acc_sales2"]},
        user="acc_sales",
    )
    assert r.status in (201, 400), r
    if r.status == 201:
        assert r.json["sales_agent"] == server.user_ids["acc_sales"]


@pytest.mark.parametrize("user", ["acc_sales", "acc_cashier", "acc_multi"])
def test_only_admin_deletes(server, user):
    txn = server.transaction(user="acc_sales" if user == "acc_cashier" else user)
    r = server.delete(f"/api/transactions/{txn['id']}/", user=user)
    assert r.status == 403, r
    assert set(r.json) == {"detail"}, r
    assert server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").status == 200


@pytest.mark.parametrize("user", ["acc_sales", "acc_cashier"])
def test_only_admin_corrects(server, user):
    txn = server.transaction(user="acc_sales")
    r = server.patch(f"/api/transactions/{txn['id']}/", {"amount": "1.00"}, user=user)
    assert r.status == 403, r
    assert server.get(f"/api/transactions/{txn['id']}/", user="acc_admin").json["amount"] == (
        "1500.00"
    )


def test_no_role_user_gets_404_for_a_transaction(server):
    txn = server.transaction(user="acc_sales")
    r = server.get(f"/api/transactions/{txn['id']}/", user="acc_nobody")
    assert r.status == 404, r
