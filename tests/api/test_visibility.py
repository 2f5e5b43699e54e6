"""The one visibility policy over REST, per role: who sees which transaction (404 for the
rest), and what each endpoint answers to admin, cashier, sales, a user with no role, an
inactive user and a caller without a token."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from payments.services import settlement_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_transaction, cashier, cashier2, sales, sales2):
    """Four transactions: each sales agent has one unassigned and one with a cashier."""
    sam_queue = make_transaction("1000.00", created_by=sales)
    sam_carla = make_transaction("1500.00", created_by=sales)
    sofia_queue = make_transaction("2000.00", created_by=sales2)
    sofia_carlo = make_transaction("2500.00", created_by=sales2)
    carla_paid = settlement_record(
        transaction=sam_carla, amount="100.00", payment_mode="cash", recorded_by=cashier
    )
    carlo_paid = settlement_record(
        transaction=sofia_carlo, amount="200.00", payment_mode="gcash", recorded_by=cashier2
    )
    return SimpleNamespace(
        sam_queue=sam_queue,
        sam_carla=sam_carla,
        sofia_queue=sofia_queue,
        sofia_carlo=sofia_carlo,
        carla_paid=carla_paid,
        carlo_paid=carlo_paid,
    )


VISIBLE = {
    "admin_user": {"sam_queue", "sam_carla", "sofia_queue", "sofia_carlo"},
    "cashier": {"sam_queue", "sam_carla", "sofia_queue"},  # hers and the unassigned queue
    "cashier2": {"sam_queue", "sofia_queue", "sofia_carlo"},
    "sales": {"sam_queue", "sam_carla"},  # the ones he created
    "sales2": {"sofia_queue", "sofia_carlo"},
}
ALL = ("sam_queue", "sam_carla", "sofia_queue", "sofia_carlo")


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_list_and_detail_follow_the_policy(api, request, world, who):
    client = api(request.getfixturevalue(who))
    listed = client.get("/api/transactions/").json()
    ids = {getattr(world, name).pk: name for name in ALL}
    assert {ids[row["id"]] for row in listed["results"]} == VISIBLE[who]
    assert listed["count"] == len(VISIBLE[who])
    for name in ALL:
        txn = getattr(world, name)
        expected = 200 if name in VISIBLE[who] else 404
        assert client.get(f"/api/transactions/{txn.pk}/").status_code == expected, name
        assert client.get(f"/api/transactions/{txn.pk}/settlements/").status_code == expected


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_settlement_detail_follows_its_transaction(api, request, world, who):
    client = api(request.getfixturevalue(who))
    for name, settlement in [("sam_carla", world.carla_paid), ("sofia_carlo", world.carlo_paid)]:
        expected = 200 if name in VISIBLE[who] else 404
        assert client.get(f"/api/settlements/{settlement.pk}/").status_code == expected


def test_invisible_and_missing_objects_answer_alike(api, world, sales):
    """A sales agent cannot tell another agent's transaction from one that does not exist."""
    client = api(sales)
    hidden = client.get(f"/api/transactions/{world.sofia_carlo.pk}/")
    missing = client.get("/api/transactions/999999/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json() == {"detail": "No Transaction matches the given query."}


def test_cashier_loses_sight_of_a_transaction_another_cashier_took(api, world, cashier, cashier2):
    url = f"/api/transactions/{world.sam_queue.pk}/"
    assert api(cashier).get(url).status_code == 200
    settlement_record(
        transaction=world.sam_queue, amount="1.00", payment_mode="cash", recorded_by=cashier2
    )
    assert api(cashier).get(url).status_code == 404
    assert api(cashier2).get(url).status_code == 200


# What every endpoint answers, per caller. The transaction is sam's, handled by carla; the
# one deleted is sam's unassigned one (no settlements).
def _cases(world):
    t = world.sam_carla.pk  # visible to admin, carla (its cashier), sam (its agent)
    s = world.carla_paid.pk
    return [
        ("GET", "/api/auth/me/", None),
        ("GET", "/api/customers/", None),
        ("GET", "/api/transactions/", None),
        ("GET", f"/api/transactions/{t}/", None),
        ("GET", f"/api/transactions/{t}/settlements/", None),
        ("GET", f"/api/settlements/{s}/", None),
        ("GET", "/api/payment-events/", None),
        ("POST", "/api/customers/", {"name": "Ana", "contact_number": "0917"}),
        ("POST", "/api/transactions/", {"customer": world.sam_carla.customer_id, "amount": "5"}),
        ("PATCH", f"/api/transactions/{t}/", {"amount": "1600.00"}),
        ("POST", f"/api/transactions/{t}/settlements/", {"amount": "1", "payment_mode": "cash"}),
        ("POST", f"/api/settlements/{s}/void/", {"reason": "typo"}),
        ("DELETE", f"/api/transactions/{world.sam_queue.pk}/", None),
        ("PATCH", f"/api/customers/{world.sam_carla.customer_id}/", {"email": "j@example.ph"}),
        # A user id that does not exist: refused callers must not learn that (403 first).
        ("PATCH", f"/api/transactions/{t}/", {"cashier": 987654321}),
    ]


EXPECTED = {
    # me, cust, list, detail, settl., settl. detail, events, +cust, +txn, patch, pay, void, del,
    # patch customer, patch with an unknown cashier id
    "admin_user": [200, 200, 200, 200, 200, 200, 200, 201, 201, 200, 201, 200, 204, 200, 400],
    "cashier": [200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 201, 403, 403, 403, 403],
    "cashier2": [200, 200, 200, 404, 404, 404, 200, 403, 403, 404, 404, 404, 403, 403, 404],
    "sales": [200, 200, 200, 200, 200, 200, 200, 201, 201, 403, 403, 403, 403, 200, 403],
    "sales2": [200, 200, 200, 404, 404, 404, 200, 201, 201, 404, 404, 404, 404, 200, 404],
    # No role: lists and creates 403 (says why); anything about one object 404, like
    # anything unseen.
    "nobody": [200, 403, 403, 404, 404, 404, 403, 403, 403, 404, 404, 404, 404, 404, 404],
    "inactive": [401] * 15,
    "anonymous": [401] * 15,
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_every_endpoint_per_caller(api, request, world, who):
    client = api(None if who == "anonymous" else request.getfixturevalue(who))
    answered, expected = {}, {}
    for (method, url, body), status in zip(_cases(world), EXPECTED[who], strict=True):
        data = json.dumps(body) if body is not None else None
        resp = client.generic(method, url, data=data, content_type="application/json")
        answered[f"{method} {url}"] = resp.status_code
        expected[f"{method} {url}"] = status
        if resp.status_code == 400:
            assert resp.json()  # fields named: {"cashier": [...]}
        elif resp.status_code > 400:
            assert "detail" in resp.json()
    assert answered == expected
