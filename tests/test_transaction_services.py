"""transaction_create / transaction_update / transaction_delete and OR numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from payments.services import settlement_record
from transactions.choices import PaymentStatus
from transactions.exceptions import DomainConflict
from transactions.models import Customer, Transaction
from transactions.services import (
    customer_update,
    transaction_date_check,
    transaction_delete,
    transaction_update,
)

pytestmark = pytest.mark.django_db


def test_created_transaction_is_unpaid_with_generated_or_number(make_transaction, sales):
    txn = make_transaction("2500.00")
    year = timezone.localdate().year
    assert txn.or_number == f"OR-{year}-000001"
    assert (txn.paid_amount, txn.balance_amount, txn.payment_status) == (
        Decimal("0.00"),
        Decimal("2500.00"),
        PaymentStatus.UNPAID,
    )
    assert txn.sales_agent == sales and txn.cashier is None
    assert make_transaction("10.00").or_number == f"OR-{year}-000002"


def test_generated_numbers_skip_ones_typed_by_hand(make_transaction):
    year = timezone.localdate().year
    make_transaction("10.00", or_number=f"OR-{year}-000001")
    assert make_transaction("10.00").or_number == f"OR-{year}-000002"


def test_duplicate_or_number_is_a_field_error(make_transaction):
    make_transaction("10.00", or_number="MANUAL-1")
    with pytest.raises(ValidationError) as exc:
        make_transaction("10.00", or_number="MANUAL-1")
    assert "or_number" in exc.value.message_dict
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize("who", ["cashier", "nobody", "inactive"])
def test_only_sales_and_admin_create(make_transaction, request, who):
    with pytest.raises(PermissionDenied):
        make_transaction("10.00", created_by=request.getfixturevalue(who))
    assert Transaction.objects.count() == 0


def test_admin_creates_too(make_transaction, admin_user):
    assert make_transaction("10.00", created_by=admin_user).sales_agent == admin_user


@pytest.mark.parametrize("amount", ["0", "-1", "1.001", "10000000000"])
def test_bad_transaction_amounts(make_transaction, amount):
    with pytest.raises(ValidationError) as exc:
        make_transaction(amount)
    assert "amount" in exc.value.message_dict
    assert Transaction.objects.count() == 0


def test_amount_correction_rederives_status(make_transaction, cashier, admin_user):
    txn = make_transaction("1000.00")
    settlement_record(transaction=txn, amount="800.00", payment_mode="cash", recorded_by=cashier)
    txn = transaction_update(transaction=txn, updated_by=admin_user, amount="800.00")
    txn.refresh_from_db()
    assert (txn.amount, txn.balance_amount, txn.payment_status) == (
        Decimal("800.00"),
        Decimal("0.00"),
        PaymentStatus.PAID,
    )
    transaction_update(transaction=txn, updated_by=admin_user, amount="900.00")
    txn.refresh_from_db()
    assert (txn.balance_amount, txn.payment_status) == (Decimal("100.00"), PaymentStatus.PARTIAL)


def test_amount_cannot_drop_below_what_is_paid(make_transaction, cashier, admin_user):
    txn = make_transaction("1000.00")
    settlement_record(transaction=txn, amount="800.00", payment_mode="cash", recorded_by=cashier)
    with pytest.raises(ValidationError) as exc:
        transaction_update(transaction=txn, updated_by=admin_user, amount="799.99")
    assert "800.00" in exc.value.message_dict["amount"][0]
    txn.refresh_from_db()
    assert txn.amount == Decimal("1000.00")


def test_admin_reassigns_cashier_only_to_a_cashier(make_transaction, admin_user, cashier, sales):
    txn = make_transaction("10.00")
    transaction_update(transaction=txn, updated_by=admin_user, cashier=cashier)
    txn.refresh_from_db()
    assert txn.cashier == cashier
    with pytest.raises(ValidationError):
        transaction_update(transaction=txn, updated_by=admin_user, cashier=sales)
    txn.refresh_from_db()
    assert txn.cashier == cashier


@pytest.mark.parametrize("who", ["cashier", "sales"])
def test_only_admin_corrects(make_transaction, request, who):
    txn = make_transaction("10.00")
    with pytest.raises(PermissionDenied):
        transaction_update(transaction=txn, updated_by=request.getfixturevalue(who), amount="5.00")


def test_delete_refused_with_settlements_allowed_without(make_transaction, cashier, admin_user):
    with_payment = make_transaction("10.00")
    settlement_record(
        transaction=with_payment, amount="5.00", payment_mode="cash", recorded_by=cashier
    )
    with pytest.raises(DomainConflict):
        transaction_delete(transaction=with_payment, deleted_by=admin_user)
    assert Transaction.objects.filter(pk=with_payment.pk).exists()
    empty = make_transaction("10.00")
    transaction_delete(transaction=empty, deleted_by=admin_user)
    assert not Transaction.objects.filter(pk=empty.pk).exists()


def test_only_admin_deletes(make_transaction, sales):
    txn = make_transaction("10.00")
    with pytest.raises(PermissionDenied):
        transaction_delete(transaction=txn, deleted_by=sales)
    assert Transaction.objects.filter(pk=txn.pk).exists()


def test_a_naive_sale_date_is_read_in_the_shops_time_zone():
    transaction_date_check(dt.datetime(2000, 1, 1, 5))  # Manila's first morning of 2000
    with pytest.raises(ValidationError):
        transaction_date_check(dt.datetime(1999, 12, 31, 23))
    with pytest.raises(ValidationError):
        transaction_date_check(dt.datetime(9999, 12, 31))


def test_a_customer_update_read_before_another_keeps_the_others_field(customer):
    """Two PATCHes of different fields at once: each view reads the customer, then saves.
    Saving every column put back the name the first had read; only the fields given are
    written now."""
    stale = Customer.objects.get(pk=customer.pk)
    first = customer_update(customer=Customer.objects.get(pk=customer.pk), name="Juana Dela Cruz")
    second = customer_update(customer=stale, email="juana@example.ph")
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Juana Dela Cruz", "juana@example.ph")
    assert customer.updated_at == second.updated_at > first.updated_at
    # What it returns (the PATCH's response) is the row as saved, not as read before.
    assert (second.name, second.email) == ("Juana Dela Cruz", "juana@example.ph")


def test_joining_a_role_group_from_either_side_records_when(sales, nobody):
    from django.contrib.auth.models import Group

    from transactions.models import RoleGrant

    before = timezone.now()
    sales.groups.add(Group.objects.get(name="cashier"), Group.objects.create(name="friends"))
    Group.objects.get(name="admin").user_set.add(nobody)
    grants = {(g.user_id, g.role): g.granted_at for g in RoleGrant.objects.all()}
    assert set(grants) >= {(sales.pk, "cashier"), (nobody.pk, "admin")}
    assert (sales.pk, "friends") not in grants
    assert grants[(sales.pk, "cashier")] >= before and grants[(nobody.pk, "admin")] >= before
    # Joining again moves the time on.
    first = grants[(sales.pk, "cashier")]
    sales.groups.remove(Group.objects.get(name="cashier"))
    sales.groups.add(Group.objects.get(name="cashier"))
    assert RoleGrant.objects.get(user=sales, role="cashier").granted_at > first


def test_users_loaded_from_a_fixture_keep_the_fixtures_grants(tmp_path, cashier):
    """loaddata sets a user's groups after a raw save, which would otherwise record a grant
    "now": a clash with the fixture's own grant row, and every cashier's history cut off."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from transactions.models import RoleGrant

    granted = RoleGrant.objects.get(user=cashier, role="cashier").granted_at
    dump = tmp_path / "users.json"
    call_command("dumpdata", "auth.user", "transactions.rolegrant", output=str(dump))
    RoleGrant.objects.all().delete()
    get_user_model().objects.filter(pk=cashier.pk).delete()
    call_command("loaddata", str(dump), verbosity=0)
    loaded = RoleGrant.objects.get(user=cashier, role="cashier").granted_at
    assert loaded == granted.replace(microsecond=granted.microsecond // 1000 * 1000)  # JSON: ms
    assert cashier.groups.filter(name="cashier").exists()
