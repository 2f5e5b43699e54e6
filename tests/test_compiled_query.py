"""escashop.compiled_query: a query compiled once gives what the ORM gives, every time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F
from django.db.models.signals import post_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from escashop import compiled_query
from escashop.compiled_query import CompiledQuery
from payments.models import PaymentSettlement
from payments.services import PAYMENT_FIELDS, settlement_record
from realtime.signals import transaction_saved
from tests.support.services import skip_or_fail
from transactions.models import Transaction
from transactions.selectors import transaction_visible_get, transactions_visible_to
from transactions.services import transaction_lock, transaction_totals_refresh

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


MONEY = ("paid_amount", "balance_amount", "payment_status")


def _row(txn: Transaction) -> dict:
    stored = Transaction.objects.get(pk=txn.pk)
    return {f.attname: getattr(stored, f.attname) for f in Transaction._meta.concrete_fields}


def _shapes(kind: str) -> dict:
    return {shape: sql for shape, sql in compiled_query._SAVES.items() if shape[2] == kind}


@pytest.fixture
def compiled_anew(monkeypatch):
    """No shape compiled yet; ``django()`` leaves every save to Django's own path."""
    monkeypatch.setattr(compiled_query, "_SAVES", {})

    def django():
        monkeypatch.setattr(compiled_query, "_compile_update", lambda *args: None)
        monkeypatch.setattr(compiled_query, "_compile_insert", lambda *args: None)

    return django


def test_a_compiled_update_runs_django_s_sql_with_the_new_values(
    make_transaction, compiled_anew, monkeypatch
):
    txn = make_transaction("1500.00")
    sqls = {}
    for way in ("django", "compiled"):
        if way == "django":
            compiled_anew()
        else:
            monkeypatch.undo()
            monkeypatch.setattr(compiled_query, "_SAVES", {})
        paid = Decimal("100.00") if way == "django" else Decimal("250.00")
        transaction_totals_refresh(txn=txn, paid=paid)
        with CaptureQueriesContext(connection) as queries:
            txn.save(update_fields=MONEY)
        sqls[way] = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
        assert _row(txn)["paid_amount"] == paid
    # the same statement, one query each (the values differ where they should)
    assert len(sqls["compiled"]) == len(sqls["django"]) == 1
    assert sqls["compiled"][0] == sqls["django"][0].replace("100.00", "250.00").replace(
        "1400.00", "1250.00"
    )
    assert len(_shapes("update")) == 1


def test_a_compiled_update_follows_null_and_auto_now(make_transaction, cashier, compiled_anew):
    txn = make_transaction("500.00")
    before = _row(txn)
    for assigned in (cashier, None, cashier):  # SET cashier_id = NULL is another statement
        txn.cashier = assigned
        transaction_totals_refresh(txn=txn, paid=txn.paid_amount + Decimal("1.00"))
        txn.save(update_fields=PAYMENT_FIELDS)
        row = _row(txn)
        assert row["cashier_id"] == (assigned.pk if assigned else None)
        assert row["paid_amount"] == txn.paid_amount
        assert row["updated_at"] == txn.updated_at > before["updated_at"]  # auto_now applied
        written = {*MONEY, "cashier_id", "updated_at"}
        assert {k: v for k, v in row.items() if k not in written} == {
            k: v for k, v in before.items() if k not in written
        }
    updates = _shapes("update")
    assert len({shape[4] for shape in updates}) == 2 and all(updates.values())


@pytest.fixture
def without_events():
    """The event receiver off: it builds frames from the saved values, which cannot be the
    expressions saved below (the product never saves any)."""
    uid = "realtime.transaction_saved"
    assert post_save.disconnect(sender=Transaction, dispatch_uid=uid)
    yield
    post_save.connect(transaction_saved, sender=Transaction, dispatch_uid=uid)


def test_what_the_compiled_update_cannot_reproduce_goes_to_django(
    make_transaction, compiled_anew, without_events
):
    txn = make_transaction("500.00")
    txn.paid_amount = F("paid_amount") + Decimal("2.50")  # an expression
    txn.balance_amount = F("balance_amount") - Decimal("2.50")
    txn.payment_status = "partial"
    txn.save(update_fields=MONEY)
    assert _row(txn)["paid_amount"] == Decimal("2.50")
    txn.refresh_from_db()
    txn.payment_mode = "gcash"
    txn.save()  # no update_fields
    assert _row(txn)["payment_mode"] == "gcash"
    assert _shapes("update") == {}  # neither compiled anything
    # A row gone meanwhile: the same error as Django's ("did not affect any rows").
    Transaction.objects.filter(pk=txn.pk).delete()
    transaction_totals_refresh(txn=txn, paid=Decimal("3.00"))
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        txn.save(update_fields=MONEY)
    assert len(_shapes("update")) == 1


def test_a_compiled_insert_stores_what_django_stores(
    make_transaction, cashier, compiled_anew, monkeypatch
):
    txn = make_transaction("900.00")
    stored, sqls = {}, {}
    for way in ("django", "compiled"):
        if way == "django":
            compiled_anew()
        else:
            monkeypatch.undo()
            monkeypatch.setattr(compiled_query, "_SAVES", {})
        with CaptureQueriesContext(connection) as queries:
            settlement = settlement_record(
                transaction=txn.pk,
                amount="100.00",
                payment_mode="maya",
                recorded_by=cashier,
                notes=f"paid the {way} way",
                idempotency_key=f"key-{way}",
            )
        insert = f'INSERT INTO "{PaymentSettlement._meta.db_table}"'
        sqls[way] = [q["sql"] for q in queries if q["sql"].startswith(insert)]
        row = PaymentSettlement.objects.get(pk=settlement.pk)
        columns = {f.attname: getattr(row, f.attname) for f in PaymentSettlement._meta.fields}
        # what the instance holds is what was stored: its new key, auto_now_add applied once
        assert columns == {f.attname: getattr(settlement, f.attname) for f in row._meta.fields}
        assert columns["created_at"] is not None
        stored[way] = columns
    assert len(_shapes("insert")) == 1 and all(_shapes("insert").values())
    assert stored["compiled"]["id"] > stored["django"]["id"]
    differ = {"id", "notes", "idempotency_key", "created_at", "paid_at"}
    assert {k: v for k, v in stored["compiled"].items() if k not in differ} == {
        k: v for k, v in stored["django"].items() if k not in differ
    }
    # the same statement: up to its values, one each
    assert len(sqls["django"]) == len(sqls["compiled"]) == 1
    head = sqls["django"][0].split("VALUES")[0]
    assert head.startswith("INSERT INTO") and sqls["compiled"][0].startswith(head)
    # a key used again: the unique constraint refuses the compiled INSERT, the first answers
    again = settlement_record(
        transaction=txn.pk,
        amount="100.00",
        payment_mode="maya",
        recorded_by=cashier,
        idempotency_key="key-compiled",
    )
    assert again.pk == stored["compiled"]["id"]
    assert PaymentSettlement.objects.filter(transaction=txn).count() == 2
