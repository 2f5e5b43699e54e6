"""Migration transactions/0004 on a database that already holds OR numbers differing only in
case (allowed before it): it stops with a message naming them, not a bare IntegrityError,
and goes through once they are made distinct."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("transactions", "0003_balance_check_in_cents")]
AFTER = [("transactions", "0004_or_number_unique_any_case")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_case_twins_are_named_before_the_constraint_is_added():
    apps = _migrate(BEFORE)
    try:
        User = apps.get_model("auth", "User")
        Customer = apps.get_model("transactions", "Customer")
        Transaction = apps.get_model("transactions", "Transaction")
        agent = User.objects.create(username="twin-agent")
        customer = Customer.objects.create(name="Twin", contact_number="1")
        for or_number in ("OR-TWIN-1", "or-twin-1", "OR-OTHER"):
            Transaction.objects.create(
                customer=customer,
                or_number=or_number,
                amount=Decimal("10.00"),
                paid_amount=Decimal("0.00"),
                balance_amount=Decimal("10.00"),
                payment_status="unpaid",
                payment_mode="cash",
                sales_agent=agent,
                transaction_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            )
        with pytest.raises(RuntimeError, match="OR-TWIN-1") as refused:
            _migrate(AFTER)
        assert "OR-OTHER" not in str(refused.value)
        Transaction.objects.filter(or_number="or-twin-1").update(or_number="OR-TWIN-2")
        _migrate(AFTER)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
