"""Schema-driven fuzzing (schemathesis): no request, however malformed, gets a 500, and every
answer is one the schema documents (status code, content type, body shape).

Runs in-process against Django's WSGI handler: both valid requests (positive mode) and
requests that break the schema (negative mode), signed in as admin, cashier or sales in
turn. Ids start at 1 (reset_sequences) so the small integers Hypothesis favours hit real
customers, transactions and settlements, not only 404s. Bounded: FUZZ_EXAMPLES per operation
and mode, about 400 requests in all.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from payments.services import settlement_record
from transactions.services import transaction_create

FUZZ_EXAMPLES = 6

pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True)


# Loaded when the module is imported, from the app itself (no database needed).
# (schemathesis.pytest.from_fixture would defer it, but fails on pytest 9: it reads
# ``request.node._nodeid``, which pytest no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=FUZZ_EXAMPLES,
)


@pytest.fixture
def callers(admin_user, cashier, sales, customer):
    """A little shop to fuzz against, and the bearer headers of three roles, in turn."""
    for amount in ("1500.00", "800.00", "25.50"):
        txn = transaction_create(customer=customer, amount=amount, created_by=sales)
        settlement_record(transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier)
    headers = [
        {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
        for user in (admin_user, cashier, sales)
    ]
    return itertools.cycle(headers)


@schema.parametrize()
@settings(
    deadline=None,
    database=None,  # no .hypothesis/ directory in the project
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_gets_a_server_error(case, callers):
    case.call_and_validate(
        headers=next(callers),
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
