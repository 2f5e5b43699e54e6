"""Tokens stop working when their user logs out or changes password, and API answers are
never cached: a shared counter PC keeps no credential and no customer data worth taking."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import bearer
from tests.api.test_auth import login

pytestmark = pytest.mark.django_db


def refresh(token: str):
    return APIClient().post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def logout(token: str):
    return APIClient().post("/api/auth/logout/", {"refresh": token}, format="json")


def test_logout_refuses_the_refresh_token_from_then_on(cashier):
    pair = login("carla").json()
    assert refresh(pair["refresh"]).status_code == 200  # several refreshes until logout
    assert refresh(pair["refresh"]).status_code == 200
    response = logout(pair["refresh"])
    assert (response.status_code, response.json()) == (200, {})
    refused = refresh(pair["refresh"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_not_valid"
    assert logout(pair["refresh"]).status_code == 401  # once only
    # Another login of the same user (another till) is not logged out with it.
    other = login("carla").json()
    assert refresh(other["refresh"]).status_code == 200


def test_logout_needs_a_refresh_token(cashier):
    pair = login("carla").json()
    assert logout(pair["access"]).status_code == 401  # an access token is not one
    assert logout("not-a-token").status_code == 401
    missing = APIClient().post("/api/auth/logout/", {}, format="json")
    assert missing.status_code == 400 and "refresh" in missing.json()


def test_a_password_change_ends_every_token_made_before_it(cashier):
    pair = login("carla").json()
    assert bearer(pair["access"]).get("/api/auth/me/").status_code == 200
    cashier.set_password("a-new-password-456")
    cashier.save()
    me = bearer(pair["access"]).get("/api/auth/me/")
    assert me.status_code == 401
    assert me.json()["code"] == "password_changed"
    refused = refresh(pair["refresh"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "password_changed"
    fresh = login("carla", "a-new-password-456").json()
    assert bearer(fresh["access"]).get("/api/auth/me/").status_code == 200
    assert refresh(fresh["refresh"]).status_code == 200


def test_api_answers_are_never_stored(api, cashier):
    for response in (
        api(cashier).get("/api/transactions/"),
        api(cashier).get("/api/auth/me/"),
        login("carla"),
        APIClient().get("/api/transactions/"),  # a 401 too
        APIClient().get("/api/nope/"),
    ):
        assert "no-store" in response["Cache-Control"], response
