"""escashop.compiled_query: a query compiled once gives what the ORM gives, every time."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from escashop.compiled_query import CompiledQuery
from tests.support.services import skip_or_fail
from transactions.models import Transaction
from transactions.selectors import transaction_visible_get, transactions_visible_to
from transactions.services import transaction_lock

pytestmark = pytest.mark.django_db


def _state(txn: Transaction) -> dict:
    """Every column, and the related rows select_related loaded (as the ORM caches them)."""
    related = {}
    for name in ("customer", "sales_agent", "cashier"):
        field = Transaction._meta.get_field(name)
        if field.is_cached(txn):
            obj = field.get_cached_value(txn)
            related[name] = None if obj is None else (obj.pk, obj._state.db, obj._state.adding)
    columns = {f.attname: getattr(txn, f.attname) for f in Transaction._meta.concrete_fields}
    return {"columns": columns, "related": related, "db": txn._state.db, "new": txn._state.adding}


def test_the_row_lock_reads_what_the_orm_reads(make_transaction, cashier):
    assigned = make_transaction("1500.00")
    assigned.cashier = cashier
    assigned.save()
    pool = make_transaction("99.95")  # no cashier: the outer join's empty side
    for txn in (assigned, pool):
        with transaction.atomic():
            orm = (
                Transaction.objects.select_related("customer", "sales_agent", "cashier")
                .select_for_update(of=("self",))
                .get(pk=txn.pk)
            )
            with CaptureQueriesContext(connection) as queries:
                compiled = transaction_lock(transaction_id=txn.pk)
                again = transaction_lock(transaction_id=txn.pk)
        assert _state(compiled) == _state(orm) == _state(again)
        assert set(_state(orm)["related"]) == {"customer", "sales_agent", "cashier"}
        assert compiled.sales_agent.username == orm.sales_agent.username
        assert len(queries) == 2  # one query each, counted like any other
        if connection.features.has_select_for_update:
            assert 'FOR UPDATE OF "transactions_transaction"' in queries[0]["sql"]
    with transaction.atomic(), pytest.raises(Transaction.DoesNotExist):
        transaction_lock(transaction_id=pool.pk + 1000)


@pytest.mark.django_db(transaction=True)
def test_the_row_lock_refuses_to_run_outside_a_transaction(make_transaction):
    txn = make_transaction("10.00")
    if not connection.features.has_select_for_update:
        skip_or_fail("SQLite has no row locks (its IMMEDIATE transactions serialize writers)")
    with pytest.raises(TransactionManagementError):
        transaction_lock(transaction_id=txn.pk)


@pytest.mark.parametrize(
    "who", ["admin_user", "cashier", "cashier2", "sales", "sales2", "nobody", "inactive"]
)
def test_the_visible_lookup_agrees_with_the_policy_for_every_role(
    request, who, make_transaction, cashier, sales2
):
    user = request.getfixturevalue(who)
    mine = make_transaction("100.00")
    mine.cashier = cashier
    mine.save()
    pool = make_transaction("100.00")
    other = make_transaction("100.00", created_by=sales2)
    visible = set(transactions_visible_to(user).values_list("pk", flat=True))
    for txn in (mine, pool, other):
        found = transaction_visible_get(user, transaction_id=txn.pk)
        assert (found is not None) == (txn.pk in visible), (who, txn)
        if found is not None:
            assert found.pk == txn.pk and found.amount == txn.amount
    assert transaction_visible_get(user, transaction_id=other.pk + 1000) is None


def test_only_plain_querysets_and_only_values_passed_as_parameters():
    annotated = CompiledQuery(
        Transaction,
        lambda _key, *, transaction_id: Transaction.objects.annotate(n=Count("settlements")).filter(
            pk=transaction_id
        ),
        names=("transaction_id",),
    )
    with pytest.raises(ValueError, match="plain model querysets"):
        annotated.run(transaction_id=1)
    inlined = CompiledQuery(  # a value formatted into the SQL cannot be replaced
        Transaction,
        lambda _key, *, transaction_id: Transaction.objects.extra(where=[f"id = {transaction_id}"]),
        names=("transaction_id",),
    )
    with pytest.raises(ValueError, match="compiled into the SQL text"):
        inlined.run(transaction_id=1)
    with pytest.raises(TypeError, match="expected values"):
        inlined.run(pk=1)
