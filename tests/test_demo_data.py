"""The quick start's demo data: every role can log in, every payment status is on screen."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from transactions.choices import PaymentStatus, Role
from transactions.models import Transaction
from transactions.selectors import user_roles

pytestmark = pytest.mark.django_db


def test_demo_data_has_every_role_and_status_and_is_idempotent():
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    call_command("load_demo_data", stdout=StringIO())  # a second run adds nothing
    printed = out.getvalue()
    assert "http://127.0.0.1:8000/admin/" in printed
    roles = set()
    for line in printed.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "/":
            user = authenticate(username=parts[0], password=parts[2])
            assert user is not None, line
            roles |= user_roles(user)
    assert roles == set(Role)
    statuses = set(Transaction.objects.values_list("payment_status", flat=True))
    assert statuses == set(PaymentStatus.values)
    assert Transaction.objects.count() == 6
