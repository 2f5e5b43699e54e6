"""The quick start's demo data: every role can log in, every payment status is on screen."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from transactions.choices import PaymentStatus, Role
from transactions.models import Transaction
from transactions.selectors import user_roles

pytestmark = pytest.mark.django_db


def test_demo_data_has_every_role_and_status_and_is_idempotent():
    out = StringIO()
    call_command("load_demo_data", "--insecure", stdout=out)  # debug is off in tests
    call_command("load_demo_data", "--insecure", stdout=StringIO())  # a second adds nothing
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


def test_with_debug_off_it_refuses_without_insecure(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="published passwords"):
        call_command("load_demo_data", stdout=StringIO())
    assert not User.objects.filter(username="admin").exists()
    settings.DEBUG = True
    call_command("load_demo_data", stdout=StringIO())
    assert User.objects.get(username="admin").is_superuser


def test_a_login_whose_password_was_changed_is_not_printed_with_the_demo_one():
    call_command("load_demo_data", "--insecure", stdout=StringIO())
    cashier = User.objects.get(username="cashier1")
    cashier.set_password("a-private-one-123")
    cashier.save()
    out = StringIO()
    call_command("load_demo_data", "--insecure", stdout=out)
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if " / " in line}
    assert "cashier1-demo-pass" not in lines["cashier1"]
    assert "(changed since)" in lines["cashier1"]
    assert "cashier2-demo-pass" in lines["cashier2"]  # the others' still work as printed
    assert authenticate(username="cashier2", password="cashier2-demo-pass") is not None
