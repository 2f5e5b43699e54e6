"""JWT login, refresh and /api/auth/me/; what a token can and cannot open."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def login(username: str, password: str | None = None):
    return APIClient().post(
        "/api/auth/token/",
        {"username": username, "password": password or f"{username}-pass-123"},
        format="json",
    )


def test_login_returns_a_token_pair_that_opens_the_api(cashier):
    resp = login("carla")
    assert resp.status_code == 200
    assert set(resp.json()) == {"access", "refresh"}
    me = bearer(resp.json()["access"]).get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json() == {
        "id": cashier.pk,
        "username": "carla",
        "display_name": "Carla Cruz",
        "roles": ["cashier"],
    }


def test_wrong_password_is_401_with_detail(cashier):
    resp = login("carla", "wrong")
    assert resp.status_code == 401
    assert resp.json()["detail"] == "No active account found with the given credentials"


def test_missing_fields_are_400_naming_them(db):
    resp = APIClient().post("/api/auth/token/", {}, format="json")
    assert resp.status_code == 400
    assert set(resp.json()) == {"username", "password"}


def test_refresh_gives_a_new_access_token(cashier):
    pair = login("carla").json()
    resp = APIClient().post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert resp.status_code == 200
    assert bearer(resp.json()["access"]).get("/api/transactions/").status_code == 200


def test_refresh_token_used_as_bearer_is_401(cashier):
    pair = login("carla").json()
    resp = bearer(pair["refresh"]).get("/api/transactions/")
    assert resp.status_code == 401
    assert resp.json()["code"] == "token_not_valid"
    assert set(resp.json()) == {"detail", "code"}  # not simplejwt's list of token classes


def test_access_token_cannot_be_used_to_refresh(cashier):
    pair = login("carla").json()
    resp = APIClient().post("/api/auth/token/refresh/", {"refresh": pair["access"]}, format="json")
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("who", "roles", "name"),
    [
        ("admin_user", ["admin"], "Ada Admin"),
        ("sales", ["sales"], "Sam Santos"),
        ("nobody", [], "Nora"),
    ],
)
def test_me_lists_roles(api, request, who, roles, name):
    user = request.getfixturevalue(who)
    resp = api(user).get("/api/auth/me/")
    assert resp.status_code == 200
    assert resp.json()["roles"] == roles
    assert resp.json()["display_name"] == name


def test_superuser_counts_as_admin(api, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="root-pass-123")
    assert api(root).get("/api/auth/me/").json()["roles"] == ["admin"]


def test_several_roles_are_all_listed(api, cashier):
    from django.contrib.auth.models import Group

    cashier.groups.add(Group.objects.get(name="sales"))
    assert api(cashier).get("/api/auth/me/").json()["roles"] == ["cashier", "sales"]


def test_inactive_user_cannot_log_in_and_their_tokens_stop_working(api, refresh_token, inactive):
    assert login("ines").status_code == 401
    assert api(inactive).get("/api/auth/me/").status_code == 401
    assert api(inactive).get("/api/transactions/").status_code == 401
    resp = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": str(refresh_token(inactive))}, format="json"
    )
    assert resp.status_code == 401


def test_a_deleted_users_refresh_token_is_401_not_500(cashier):
    refresh = login("carla").json()["refresh"]
    cashier.delete()
    resp = APIClient().post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert resp.status_code == 401
    assert resp.json() == {"detail": "No active account found for the given token."}


def test_deactivating_a_user_revokes_their_live_token_at_once(api, cashier):
    client = api(cashier)
    assert client.get("/api/transactions/").status_code == 200
    cashier.is_active = False
    cashier.save()
    assert client.get("/api/transactions/").status_code == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not-a-jwt", "Token abc", "Basic eDp5"])
def test_missing_or_malformed_credentials_are_401(db, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    resp = client.get("/api/transactions/")
    assert resp.status_code == 401
    assert "detail" in resp.json()
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_user_without_role_gets_403_explaining_why(api, nobody):
    resp = api(nobody).get("/api/transactions/")
    assert resp.status_code == 403
    assert "no role" in resp.json()["detail"]


def test_a_request_reads_the_user_and_their_roles_in_one_query(
    cashier, sales, nobody, inactive, django_assert_num_queries
):
    # escashop.api_authentication reads the user through user_with_roles: the same roles
    # as transactions.selectors.user_roles reads without it, for every combination.
    from django.contrib.auth.models import Group

    from transactions.selectors import user_roles, user_with_roles

    both = cashier
    both.groups.add(Group.objects.get(name="sales"))
    nobody.groups.add(Group.objects.create(name="optometrist"))  # not a role
    sales.is_superuser = True
    sales.save()
    expected = {both.pk: ["cashier", "sales"], sales.pk: ["admin", "sales"], nobody.pk: []}
    for user in (both, sales, nobody):
        with django_assert_num_queries(1):  # the user; user_roles asks nothing more
            # A token's user id claim may be a string.
            loaded = user_with_roles(field="id", value=str(user.pk))
            assert sorted(user_roles(loaded)) == expected[user.pk]
        assert loaded == user and loaded.get_username() == user.get_username()
        # Every column as the ORM reads it (the backend's converters applied: SQLite keeps
        # datetimes as text and booleans as integers), and a saved, not a new, instance.
        stored = type(user).objects.get(pk=user.pk)
        for model_field in type(user)._meta.concrete_fields:
            name = model_field.attname
            assert getattr(loaded, name) == getattr(stored, name), name
            assert type(getattr(loaded, name)) is type(getattr(stored, name)), name
        assert not loaded._state.adding and loaded._state.db == stored._state.db
        assert user_roles(type(user).objects.get(pk=user.pk)) == user_roles(loaded)
        token = login(user.username).json()["access"]
        with django_assert_num_queries(1):
            me = bearer(token).get("/api/auth/me/")
        assert me.json()["roles"] == expected[user.pk]
    assert user_roles(user_with_roles(field="pk", value=inactive.pk)) == frozenset()
    with pytest.raises(type(cashier).DoesNotExist):
        user_with_roles(field="id", value=10**9)


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_the_websockets_recheck_reads_everyones_roles_in_one_query(
    count, admin_user, cashier, sales, nobody, inactive, django_assert_num_queries
):
    # transactions.selectors.users_roles: user_roles for many users at once (None for an
    # inactive or unknown user), whatever the number of ids (the SQL is padded).
    from django.contrib.auth.models import Group

    from transactions.selectors import user_roles, users_roles

    cashier.groups.add(Group.objects.get(name="sales"))
    nobody.is_superuser = True
    nobody.save()
    everyone = [cashier, sales, admin_user, nobody, inactive]
    ids = [user.pk for user in everyone[:count]] + [10**9]  # 2, 3, 4 and 6 ids
    with django_assert_num_queries(1):
        found = users_roles(user_ids=ids)
    expected = {user.pk: user_roles(type(user).objects.get(pk=user.pk)) for user in everyone}
    assert found == {
        user_id: (expected[user_id] or None) if user_id in expected else None for user_id in ids
    }
    if count == 5:
        assert found[inactive.pk] is None and found[nobody.pk] == {"admin"}
        assert found[cashier.pk] == {"cashier", "sales"}


def test_a_token_is_verified_once_and_its_expiry_on_every_request(cashier, monkeypatch):
    # escashop.api_authentication keeps verified tokens by their text: the signature is
    # decoded once per process, the expiry checked again each time, the user read each time.
    from datetime import timedelta

    from rest_framework_simplejwt import backends, tokens
    from rest_framework_simplejwt.tokens import AccessToken

    from escashop import api_authentication

    decoded = []
    decode = backends.TokenBackend.decode

    def counting_decode(self, token, verify=True):
        decoded.append(token)
        return decode(self, token, verify)

    monkeypatch.setattr(backends.TokenBackend, "decode", counting_decode)
    token = str(AccessToken.for_user(cashier))
    for _ in range(3):
        assert bearer(token).get("/api/auth/me/").status_code == 200
    assert len(decoded) == 1

    # A forged signature is never taken for the verified token.
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert bearer(forged).get("/api/auth/me/").status_code == 401

    # Deactivation applies at once: the user is read on every request.
    cashier.is_active = False
    cashier.save()
    assert bearer(token).get("/api/auth/me/").status_code == 401
    cashier.is_active = True
    cashier.save()

    # Once expired, the verified token is refused like any expired one.
    later = tokens.aware_utcnow() + timedelta(days=1)
    monkeypatch.setattr(api_authentication, "aware_utcnow", lambda: later)
    monkeypatch.setattr(tokens, "aware_utcnow", lambda: later)
    expired = bearer(token).get("/api/auth/me/")
    assert expired.status_code == 401
    assert expired.json()["code"] == "token_not_valid"
