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
        "/api/auth/logout/",
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
        public = path.startswith(("/api/auth/token/", "/api/auth/logout/"))
        if path == "/api/auth/me/":
            # Open to any signed-in user, a user without a role included: never a 403.
            assert "401" in codes and "403" not in codes, codes
        elif not public:
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in ("post", "put", "patch"):
            assert {"400", "413", "415"} <= codes, (method, path)
        else:
            assert not {"413", "415"} & codes, (method, path)
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
    assert set(login) == {"200", "400", "401", "413", "415", "429", "503"}
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


def test_response_fields_are_all_required_and_request_fields_as_the_serializer_says(schema):
    """Every answer holds every field of its shape (null or "" when it has no value), so a
    generated client must not type them optional; the fuzz test checks real answers."""
    components = schema["components"]["schemas"]
    for name in ("Customer", "Transaction", "Settlement", "PaginatedTransactionList"):
        assert components[name]["required"] == list(components[name]["properties"]), name
    assert {"next", "previous"} <= set(components["PaginatedCustomerList"]["required"])
    assert "email" not in components["CustomerRequest"]["required"]


def test_a_customer_without_email_matches_its_schema_once(schema, api, admin_user, customer):
    """drf-spectacular's default for a blank-allowed email is oneOf [email, empty string],
    which "" matches twice: a plain JSON Schema validator (no format checks), like the
    oneOf wrappers of generated clients, refused every customer without an email."""
    jsonschema = pytest.importorskip("jsonschema")
    email = schema["components"]["schemas"]["Customer"]["properties"]["email"]
    assert "oneOf" not in email and email["type"] == "string"
    body = api(admin_user).get(f"/api/customers/{customer.pk}/").json()
    assert body["email"] == ""
    component = dict(schema["components"]["schemas"]["Customer"])
    jsonschema.validate(body, component)  # raises on a mismatch
    refused = api(admin_user).post(
        "/api/customers/",
        {"name": "Ana", "contact_number": "0917 000 0001", "email": "not-an-address"},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json() == {"email": ["Enter a valid email address."]}


def test_the_schema_and_its_docs_ignore_a_stale_token(client):
    """Both are public: a client whose default Authorization header went stale still reads
    them (they answered 401 token_not_valid)."""
    stale = {"HTTP_AUTHORIZATION": "Bearer not.a.token"}
    assert client.get("/api/schema/", **stale).status_code == 200
    assert client.get("/api/docs/", **stale).status_code == 200


def test_object_ids_in_paths_are_whole_numbers(schema):
    """A URL regex for ids made drf-spectacular describe them as strings with a pattern."""
    in_paths = [
        (path, parameter["schema"])
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    ]
    assert len(in_paths) >= 10
    for path, parameter_schema in in_paths:
        assert parameter_schema == {"type": "integer", "minimum": 1}, path


def test_documented_limits_of_parameters_and_bodies(schema):
    components = schema["components"]["schemas"]
    assert components["SettlementVoidRequest"]["properties"]["reason"]["minLength"] == 1
    create = schema["paths"]["/api/transactions/{transaction_pk}/settlements/"]["post"]
    (key,) = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
    listing = schema["paths"]["/api/transactions/"]["get"]["parameters"]
    by_name = {p["name"]: p for p in listing}
    # More than 200 is read as 200, not refused: the schema set no maximum it does not hold.
    assert "maximum" not in by_name["page_size"]["schema"]
    assert by_name["page_size"]["schema"]["minimum"] == 1
    assert by_name["page"]["schema"] == {
        "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["last"]}]
    }
    # Filters whose class sets the schema type keep their help text.
    for name in ("customer", "sales_agent", "cashier", "unassigned"):
        assert by_name[name].get("description"), name
    amount = components["SettlementCreateRequest"]["properties"]["amount"]
    assert "JSON number" in amount["description"]
    # Filters are list parameters only.
    detail = schema["paths"]["/api/transactions/{id}/"]["get"].get("parameters", [])
    assert {p["name"] for p in detail if p["in"] == "query"} == set()
