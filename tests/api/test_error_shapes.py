"""The domain's exceptions answer in DRF's shapes, whichever service raises them."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from rest_framework.test import APIRequestFactory

from escashop.api_errors import exception_handler
from transactions.exceptions import DomainConflict
from transactions.models import Transaction


def handle(exc):
    request = APIRequestFactory().get("/")
    return exception_handler(exc, {"request": request, "view": None})


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (ValidationError({"amount": ["Too much."]}), 400, {"amount": ["Too much."]}),
        (
            ValidationError("Whole request is wrong."),
            400,
            {"non_field_errors": ["Whole request is wrong."]},
        ),
        (
            ValidationError({"__all__": ["Both fields clash."]}),
            400,
            {"non_field_errors": ["Both fields clash."]},
        ),
        (
            ValidationError({"amount": ["A.", "B."], "payment_mode": ["C."]}),
            400,
            {"amount": ["A.", "B."], "payment_mode": ["C."]},
        ),
        (
            PermissionDenied("Only admins void payments."),
            403,
            {"detail": "Only admins void payments."},
        ),
        (DomainConflict("Has settlements."), 409, {"detail": "Has settlements."}),
    ],
)
def test_domain_exceptions_become_drf_responses(exc, status, body):
    response = handle(exc)
    assert response.status_code == status
    assert response.data == body


def test_an_integrity_error_no_service_caught_is_a_409(caplog):
    """A concurrent request removed a row the change refers to (the recording user's
    account, say): PostgreSQL refuses the foreign key and nothing is saved. 409, logged."""
    response = handle(IntegrityError('violates foreign key constraint "x_cashier_id_fk"'))
    assert response.status_code == 409
    assert "nothing was saved" in response.data["detail"]
    assert "foreign key" not in response.data["detail"]  # the database's words stay in the log
    assert any("conflicted with a concurrent one" in r.getMessage() for r in caplog.records)


def test_unexpected_exceptions_are_left_to_django(db):
    assert handle(RuntimeError("bug")) is None  # a 500, logged, never dressed up as 4xx


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/", "/api/nothing-here/", "/api/transactions/abc/settlements/"]
)
def test_unknown_api_urls_are_json_404(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_an_unknown_api_url_with_a_newline_is_json_404_too(client):
    # The catch-all's "." did not match a newline: Django's HTML 404.
    for path in ("/api/x%0A/", "/api/%0A/", "/api/transactions/1/settlements/%0a/"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.json() == {"detail": "Not found."}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_a_missing_trailing_slash_redirects_keeping_the_method(api, sales, settings, method, debug):
    """Django's 301 made clients repeat a POST as a GET (no sale made), and with debug on
    (the quick start) a POST, PUT, PATCH or DELETE there was a 500."""
    settings.DEBUG = debug
    client = api(sales)
    resp = getattr(client, method)("/api/transactions?x=1", {}, format="json")
    assert resp.status_code == 308
    assert resp.headers["Location"] == "/api/transactions/?x=1"
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("written", ["{}%0A", "%20{}", "+{}", "{arabic}", "0{}"])
def test_an_id_in_the_url_is_ascii_digits_only(api, admin_user, make_transaction, written):
    """int() read "1\n", " 1", "+1", "01" and an Arabic-Indic 1 as id 1: the same transaction
    under other URLs."""
    txn = make_transaction("100.00")
    client = api(admin_user)

    def spelled(pk: int) -> str:
        arabic = quote("".join(chr(0x660 + int(d)) for d in str(pk)))  # Arabic-Indic digits
        return written.format(pk, arabic=arabic)

    for path in ("/api/transactions/{}/", "/api/transactions/{}/settlements/"):
        assert client.get(path.format(txn.pk)).status_code == 200
        resp = client.get(path.format(spelled(txn.pk)))
        assert resp.status_code == 404, path.format(spelled(txn.pk))
        assert resp.json() == {"detail": "Not found."}
    assert client.get(f"/api/customers/{txn.customer_id}/").status_code == 200
    assert client.get(f"/api/customers/{spelled(txn.customer_id)}/").status_code == 404


@pytest.mark.parametrize("path", ["/api/transactions/", "/api/auth/token/"])
def test_a_body_over_the_upload_limit_is_413_with_detail(api, sales, settings, path):
    """DRF reads a JSON body through request.body, whose size check raised an HTML 400."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"username": "x" * 1000, "password": "x", "customer": 1, "amount": "1"})
    resp = api(sales).post(path, body, content_type="application/json")
    assert resp.status_code == 413
    assert resp.json() == {"detail": "The request body is larger than 1000 bytes."}
    assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_a_request_django_refuses_before_any_view_answers_in_the_apis_shape(
    api, admin_user, client, settings
):
    """More query parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django's HTML 400 page
    before; under /api/ a JSON {"detail"}, and Django's page elsewhere still."""
    settings.DEBUG = False
    many = "&".join(f"p{i}=x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 100))
    resp = api(admin_user).get(f"/api/transactions/?{many}")
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json() == {"detail": "More than 1000 query parameters or form fields."}
    page = client.get(f"/admin/login/?{many}")
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
