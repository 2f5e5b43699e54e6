"""The OpenAPI 3 schema at /api/schema/ and the interactive docs at /api/docs/."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(client) -> dict:
    resp = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert resp.status_code == 200
    return resp.json()


@pytest.mark.parametrize(
    ("accept", "query", "media_type"),
    [
        (None, "", "application/vnd.oai.openapi+json"),  # a client that takes anything
        ("*/*", "", "application/vnd.oai.openapi+json"),
        ("application/json", "", "application/json"),
        ("application/yaml", "", "application/yaml"),
        ("application/vnd.oai.openapi", "", "application/vnd.oai.openapi"),
        (None, "?format=yaml", "application/vnd.oai.openapi"),
    ],
)
def test_schema_is_json_unless_yaml_is_asked_for(client, accept, query, media_type):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    resp = client.get(f"/api/schema/{query}", **headers)
    assert resp.status_code == 200
    assert resp["Content-Type"].split(";")[0] == media_type
    if "yaml" in media_type or media_type == "application/vnd.oai.openapi":
        assert resp.content.startswith(b"openapi: 3.")
    else:
        assert resp.json()["openapi"].startswith("3.")


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_schema_is_valid_openapi_3_and_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    # --validate checks it against the OpenAPI 3 meta-schema; --fail-on-warn makes any
    # field drf-spectacular had to guess at a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert target.read_text().startswith("openapi: 3.")


def test_every_endpoint_is_described(schema):
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/auth/me/",
        "/api/customers/",
        "/api/customers/{id}/",
        "/api/transactions/",
        "/api/transactions/{id}/",
        "/api/transactions/{transaction_pk}/settlements/",
        "/api/settlements/{id}/",
        "/api/settlements/{id}/void/",
        "/api/payment-events/",
    }
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


@pytest.mark.parametrize(
    ("component", "fields"),
    [
        ("Transaction", ["amount", "paid_amount", "balance_amount"]),
        ("Settlement", ["amount"]),
        ("TransactionCreateRequest", ["amount"]),
        ("PatchedTransactionUpdateRequest", ["amount"]),
        ("SettlementCreateRequest", ["amount"]),
    ],
)
def test_money_is_typed_as_a_decimal_string(schema, component, fields):
    properties = schema["components"]["schemas"][component]["properties"]
    for field in fields:
        assert properties[field]["type"] == "string", (component, field)
        assert properties[field]["format"] == "decimal", (component, field)


def test_every_error_response_is_described(schema):
    for path, method, op in operations(schema):
        codes = set(op["responses"])
        public = path.startswith("/api/auth/token/")
        if path == "/api/auth/me/":
            # Open to any signed-in user, a user without a role included: never a 403.
            assert "401" in codes and "403" not in codes, codes
        elif not public:
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in ("post", "put", "patch"):
            assert {"400", "413"} <= codes, (method, path)
        else:
            assert "413" not in codes, (method, path)
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                assert response["description"], (method, path, code)
                body = response["content"]["application/json"]["schema"]
                variants = body.get("oneOf", [body])
                assert any(resolve(schema, v).get("required") == ["detail"] for v in variants)
    responses = schema["paths"]["/api/transactions/{id}/"]["delete"]["responses"]
    assert "settlements" in responses["409"]["description"]
    create = schema["paths"]["/api/transactions/{transaction_pk}/settlements/"]["post"]
    assert "Idempotency-Key" in create["responses"]["409"]["description"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    login = schema["paths"]["/api/auth/token/"]["post"]["responses"]
    assert set(login) == {"200", "400", "401", "413", "429", "503"}
    assert "Retry-After" in login["429"]["headers"]
    assert all("503" in op["responses"] for _path, _method, op in operations(schema))
    assert "Retry-After" in login["503"]["headers"]


def test_field_errors_are_described_as_lists_of_messages(schema):
    field_errors = schema["components"]["schemas"]["FieldErrors"]
    assert field_errors["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


def test_interactive_docs_load_the_schema(client):
    resp = client.get("/api/docs/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "swagger-ui" in html.lower()
    assert "/api/schema/" in html
