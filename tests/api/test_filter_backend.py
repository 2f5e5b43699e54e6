"""The API's filter backend skips django-filter only where django-filter would change
nothing: with no query parameters, every view with a FilterSet gets exactly the queryset
django-filter would return; with any parameter the full path runs (400s included)."""

from __future__ import annotations

import pytest
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from escashop.api_filters import FilterBackend
from transactions.views import CustomerViewSet, TransactionViewSet

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("viewset", [TransactionViewSet, CustomerViewSet])
@pytest.mark.parametrize("action", ["list", "retrieve"])
def test_without_parameters_the_queryset_is_what_django_filter_returns(viewset, action, admin_user):
    view = viewset(action=action, kwargs={"pk": 1} if action == "retrieve" else {})
    view.request = Request(APIRequestFactory().get("/"))
    view.request.user = admin_user
    view.format_kwarg = None
    queryset = view.get_queryset()
    ours = FilterBackend().filter_queryset(view.request, queryset, view)
    theirs = DjangoFilterBackend().filter_queryset(view.request, queryset, view)
    assert str(ours.query) == str(theirs.query)
    assert ours.ordered == theirs.ordered


def test_any_parameter_of_a_list_takes_the_full_path(api, admin_user, make_transaction):
    make_transaction("100.00")
    client = api(admin_user)
    assert client.get("/api/transactions/?payment_status=paid").json()["count"] == 0
    response = client.get("/api/transactions/?payment_status=bogus")
    assert response.status_code == 400 and "payment_status" in response.json()
    assert client.get("/api/transactions/?customer=1.5").status_code == 400
    assert client.get("/api/transactions/?page=1").json()["count"] == 1
    assert client.get("/api/customers/?q=zzz").json()["count"] == 0


def test_one_object_ignores_list_filters(api, admin_user, make_transaction, customer):
    """The schema offers filters on lists only; a lookup of one object answered 404 for a
    filter that did not match it and 400 for a malformed one, neither documented there."""
    txn = make_transaction("100.00")
    client = api(admin_user)
    assert client.get(f"/api/transactions/{txn.pk}/?payment_status=paid").status_code == 200
    assert client.get(f"/api/transactions/{txn.pk}/?payment_status=bogus").status_code == 200
    assert client.get(f"/api/customers/{customer.pk}/?q=zzz").status_code == 200
    patched = client.patch(
        f"/api/transactions/{txn.pk}/?customer=abc", {"amount": "120.00"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["amount"] == "120.00"
    assert client.delete(f"/api/transactions/{txn.pk}/?customer=abc").status_code == 204


def test_the_settings_use_it(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"] == [
        "escashop.api_filters.FilterBackend"
    ]
