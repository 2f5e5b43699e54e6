"""The Django admin: staff see only what the policy allows; writes go through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from payments.models import PaymentSettlement
from payments.services import settlement_record
from tests.support.admin import pay_in_admin
from transactions.choices import PaymentStatus
from transactions.models import Transaction
from transactions.services import transaction_update

pytestmark = pytest.mark.django_db


def test_admin_changelist_lists_and_searches(client, staff, make_transaction):
    txn = make_transaction("1500.00")
    client.force_login(staff)
    page = client.get(reverse("admin:transactions_transaction_changelist"), {"q": txn.or_number})
    assert page.status_code == 200
    assert txn.or_number in page.content.decode()


def test_sales_staff_see_only_their_own_transactions(
    client, staff, sales, sales2, make_transaction
):
    mine = make_transaction("10.00", created_by=sales)
    theirs = make_transaction("20.00", created_by=sales2)
    client.force_login(sales)
    page = client.get(reverse("admin:transactions_transaction_changelist")).content.decode()
    assert mine.or_number in page and theirs.or_number not in page
    url = reverse("admin:transactions_transaction_change", args=[theirs.pk])
    assert client.get(url).status_code == 302  # "doesn't exist" redirect, no data shown


def test_sales_staff_see_the_payments_of_their_own_sales_only(
    client, staff, cashier, sales, sales2, make_transaction
):
    """The API shows a sales agent the payments of their sales; the admin refused them (403)
    and showed the sale's change page without its payments."""
    mine = make_transaction("10.00", created_by=sales)
    theirs = make_transaction("20.00", created_by=sales2)
    paid = [
        settlement_record(
            transaction=txn, amount=Decimal("1.00"), payment_mode="cash", recorded_by=cashier
        )
        for txn in (mine, theirs)
    ]
    client.force_login(sales)
    own = client.get(reverse("admin:payments_paymentsettlement_change", args=[paid[0].pk]))
    assert own.status_code == 200
    assert "Save" not in own.content.decode()  # read-only
    other = client.get(reverse("admin:payments_paymentsettlement_change", args=[paid[1].pk]))
    assert other.status_code == 302  # "doesn't exist", as for their transactions
    listing = client.get(reverse("admin:payments_paymentsettlement_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [paid[0]]
    sale = client.get(reverse("admin:transactions_transaction_change", args=[mine.pk]))
    assert paid[0] in list(sale.context["inline_admin_formsets"][0].formset.queryset)


def test_recording_a_payment_in_admin_goes_through_the_service(
    client, staff, cashier, make_transaction
):
    txn = make_transaction("1000.00")
    client.force_login(cashier)
    response = pay_in_admin(client, txn.pk, "400.00", payment_mode="gcash", notes="counter 2")
    assert response.status_code == 302
    txn.refresh_from_db()
    assert (txn.paid_amount, txn.payment_status, txn.cashier) == (
        Decimal("400.00"),
        PaymentStatus.PARTIAL,
        cashier,
    )
    assert PaymentSettlement.objects.get().cashier == cashier


def test_admin_overpayment_is_refused_with_a_message(client, staff, cashier, make_transaction):
    txn = make_transaction("100.00")
    client.force_login(cashier)
    response = pay_in_admin(client, txn.pk, "150.00", follow=True)
    assert "remaining balance of 100.00" in response.content.decode()
    assert PaymentSettlement.objects.count() == 0


def test_void_page_voids_with_reason(client, staff, cashier, make_transaction):
    txn = make_transaction("100.00")
    s = settlement_record(transaction=txn, amount="60.00", payment_mode="cash", recorded_by=cashier)
    client.force_login(staff)
    url = reverse("admin:payments_paymentsettlement_void", args=[s.pk])
    assert "Void payment" in client.get(url).content.decode()
    client.post(url, {"reason": "Entered twice"})
    s.refresh_from_db()
    txn.refresh_from_db()
    assert s.void_reason == "Entered twice" and s.voided_by == staff
    assert txn.paid_amount == Decimal("0.00")


def test_admin_edit_corrects_amount_through_the_service(client, staff, make_transaction, customer):
    txn = make_transaction("100.00")
    client.force_login(staff)
    url = reverse("admin:transactions_transaction_change", args=[txn.pk])
    response = client.post(
        url,
        {
            "amount": "250.00",
            "cashier": "",
            "settlements-TOTAL_FORMS": 0,
            "settlements-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    txn.refresh_from_db()
    assert (txn.amount, txn.balance_amount) == (Decimal("250.00"), Decimal("250.00"))


def test_transaction_with_settlements_has_no_delete(client, staff, cashier, make_transaction):
    txn = make_transaction("100.00")
    settlement_record(transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier)
    client.force_login(staff)
    url = reverse("admin:transactions_transaction_delete", args=[txn.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    txn.refresh_from_db()


def _grant(user, codename: str) -> None:
    user.user_permissions.add(Permission.objects.get(codename=codename))


def test_a_refused_deletion_is_reported_as_refused_and_logs_nothing(
    client, staff, cashier, make_transaction
):
    txn = make_transaction("100.00")  # the cashiers' queue: this cashier sees it
    _grant(cashier, "delete_transaction")  # Django's permission, but not the admin role
    client.force_login(cashier)
    url = reverse("admin:transactions_transaction_delete", args=[txn.pk])
    page = client.post(url, {"post": "yes"}, follow=True).content.decode()
    assert "You do not have permission to delete transactions." in page
    assert "deleted successfully" not in page
    assert Transaction.objects.filter(pk=txn.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_delete_selected_is_all_or_nothing(client, staff, cashier, make_transaction):
    first, second = make_transaction("10.00"), make_transaction("20.00")
    _grant(cashier, "delete_transaction")
    client.force_login(cashier)
    page = client.post(
        reverse("admin:transactions_transaction_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
        follow=True,
    ).content.decode()
    assert "Successfully deleted" not in page
    assert Transaction.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_adding_a_transaction_names_its_generated_or_number(client, staff, customer):
    client.force_login(staff)
    page = client.post(
        reverse("admin:transactions_transaction_add"),
        {
            "customer": customer.pk,
            "or_number": "",
            "amount": "75.00",
            "payment_mode": "cash",
            "transaction_date_0": "2026-11-27",
            "transaction_date_1": "10:00:00",
            "settlements-TOTAL_FORMS": 0,
            "settlements-INITIAL_FORMS": 0,
        },
        follow=True,
    ).content.decode()
    txn = Transaction.objects.get()
    assert txn.or_number and txn.or_number in page
    assert LogEntry.objects.get(action_flag=ADDITION).object_repr == str(txn)


def test_correcting_the_amount_keeps_a_cashier_who_has_lost_the_role(
    client, staff, cashier, make_transaction
):
    txn = make_transaction("100.00")
    settlement_record(transaction=txn, amount="10.00", payment_mode="cash", recorded_by=cashier)
    cashier.groups.remove(Group.objects.get(name="cashier"))
    client.force_login(staff)
    url = reverse("admin:transactions_transaction_change", args=[txn.pk])
    response = client.post(
        url,
        {
            "amount": "250.00",
            "cashier": cashier.pk,  # as the form shows it: unchanged
            **shown(amount="100.00", cashier=cashier.pk),
        },
    )
    assert response.status_code == 302
    txn.refresh_from_db()
    assert (txn.amount, txn.cashier) == (Decimal("250.00"), cashier)


def shown(*, amount: str, cashier) -> dict:
    """What the transaction's change page sends besides its fields: the values it showed
    (``initial-*``, by which Django tells what was changed) and its empty settlement rows."""
    return {
        "initial-amount": amount,
        "initial-cashier": cashier or "",
        "settlements-TOTAL_FORMS": 0,
        "settlements-INITIAL_FORMS": 0,
    }


def test_the_change_page_shows_what_it_compares_against(client, staff, cashier, make_transaction):
    txn = make_transaction("100.00")
    client.force_login(staff)
    page = client.get(reverse("admin:transactions_transaction_change", args=[txn.pk]))
    html = page.content.decode()
    assert 'name="initial-amount" value="100.00"' in html
    assert 'name="initial-cashier"' in html


def test_a_page_opened_before_a_payment_keeps_the_cashier_it_assigned(
    client, staff, cashier, make_transaction
):
    """The first payment makes its cashier the transaction's (SPEC section 2). An amount
    corrected on a page opened before it used to send the empty cashier shown back, and
    Django, comparing with the row as it now is, took that for a change: unassigned."""
    txn = make_transaction("1000.00")
    client.force_login(staff)
    url = reverse("admin:transactions_transaction_change", args=[txn.pk])
    settlement_record(transaction=txn, amount="400.00", payment_mode="cash", recorded_by=cashier)
    data = {"amount": "900.00", "cashier": "", **shown(amount="1000.00", cashier=None)}
    assert client.post(url, data).status_code == 302
    txn.refresh_from_db()
    assert (txn.amount, txn.cashier_id, txn.balance_amount) == (
        Decimal("900.00"),
        cashier.pk,
        Decimal("500.00"),
    )


def test_a_cashier_changed_on_a_stale_page_keeps_another_admins_amount(
    client, staff, admin_user, cashier, make_transaction
):
    txn = make_transaction("1000.00")
    client.force_login(staff)
    url = reverse("admin:transactions_transaction_change", args=[txn.pk])
    transaction_update(transaction=txn, updated_by=admin_user, amount="1200.00")
    data = {"amount": "1000.00", "cashier": cashier.pk, **shown(amount="1000.00", cashier=None)}
    assert client.post(url, data).status_code == 302
    txn.refresh_from_db()
    assert (txn.amount, txn.cashier_id) == (Decimal("1200.00"), cashier.pk)


def test_the_people_filters_name_only_people_on_visible_transactions(
    client, staff, sales, sales2, cashier, cashier2, make_transaction
):
    mine = make_transaction("10.00", created_by=sales)
    settlement_record(transaction=mine, amount="5.00", payment_mode="cash", recorded_by=cashier)
    make_transaction("30.00", created_by=sales)  # sam's other sale, still in the queue
    theirs = make_transaction("20.00", created_by=sales2)
    settlement_record(transaction=theirs, amount="5.00", payment_mode="cash", recorded_by=cashier2)
    client.force_login(sales)
    page = client.get(reverse("admin:transactions_transaction_changelist"))
    choices = {
        spec.title: [str(user) for _pk, user in spec.lookup_choices]
        for spec in page.context["cl"].filter_specs
        if hasattr(spec, "lookup_choices")
    }
    # The cashier filter offers carla (on sam's sale) and nobody else: not carlo (on sofia's
    # sale), not the admin, not every account as it did.
    assert choices == {"cashier": ["carla"]}, choices
    html = page.content.decode()
    assert mine.or_number in html and theirs.or_number not in html
    for hidden in ("carlo", "sofia", "ada"):
        assert f">{hidden}<" not in html, hidden


def test_a_hidden_transaction_is_not_a_valid_choice_for_a_payment(
    client, staff, cashier, cashier2, make_transaction
):
    theirs = make_transaction("100.00")
    settlement_record(transaction=theirs, amount="5.00", payment_mode="cash", recorded_by=cashier2)
    client.force_login(cashier)
    answers = []
    for pk in (theirs.pk, 987654321):  # carlo's transaction, and one that does not exist
        page = pay_in_admin(client, pk, "1.00")
        assert page.status_code == 200
        answers.append(page.context["adminform"].form.errors["transaction"])
    assert answers[0] == answers[1]  # the same answer: nothing learnt about carlo's sale
    assert PaymentSettlement.objects.filter(cashier=cashier).count() == 0


@pytest.mark.parametrize("typed", ["1e3", "1E+2", "\u0661\u0662", "12.345", " "])
def test_admin_money_is_read_as_the_api_reads_it(client, staff, cashier, make_transaction, typed):
    txn = make_transaction("5000.00")
    client.force_login(cashier)
    page = pay_in_admin(client, txn.pk, typed)
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["amount"]
    assert not PaymentSettlement.objects.filter(transaction=txn).exists()


def test_admin_money_in_plain_decimals_is_accepted(client, staff, cashier, make_transaction):
    txn = make_transaction("5000.00")
    client.force_login(cashier)
    page = pay_in_admin(client, txn.pk, " 1000.5 ")
    assert page.status_code == 302
    assert PaymentSettlement.objects.get(transaction=txn).amount == Decimal("1000.50")


def test_the_cashier_field_offers_cashiers_and_admins_only(
    client, staff, admin_user, cashier, sales, make_transaction
):
    txn = make_transaction("100.00")
    client.force_login(admin_user)
    page = client.get(reverse("admin:transactions_transaction_change", args=[txn.pk]))
    offered = set(page.context["adminform"].form.fields["cashier"].queryset)
    assert cashier in offered and admin_user in offered
    assert sales not in offered


def test_the_add_form_refuses_a_bad_or_number_and_date_at_their_fields(
    client, staff, customer, make_transaction
):
    taken = make_transaction("10.00").or_number
    client.force_login(staff)
    page = client.post(
        reverse("admin:transactions_transaction_add"),
        {
            "customer": customer.pk,
            "or_number": taken.lower(),
            "amount": "75.00",
            "payment_mode": "cash",
            "transaction_date_0": "9999-12-31",
            "transaction_date_1": "10:00:00",
            "settlements-TOTAL_FORMS": 0,
            "settlements-INITIAL_FORMS": 0,
        },
    )
    assert page.status_code == 200  # the form again, with what was typed
    errors = page.context["adminform"].form.errors
    assert "already exists" in errors["or_number"][0]
    assert "future" in errors["transaction_date"][0]
    assert taken.lower() in page.content.decode()
    assert Transaction.objects.count() == 1


def test_a_settlement_can_be_neither_edited_nor_deleted(client, staff, cashier, make_transaction):
    """SPEC section 2: settlements are never deleted or edited (a mistake is voided)."""
    txn = make_transaction("100.00")
    s = settlement_record(transaction=txn, amount="60.00", payment_mode="cash", recorded_by=cashier)
    client.force_login(staff)  # a superuser, who may do anything the admin offers
    change = reverse("admin:payments_paymentsettlement_change", args=[s.pk])
    client.post(change, {"amount": "1.00", "payment_mode": "gcash", "notes": "edited"})
    delete = reverse("admin:payments_paymentsettlement_delete", args=[s.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    # Nor through the transaction's page, whose settlement rows are read-only.
    txn_change = reverse("admin:transactions_transaction_change", args=[txn.pk])
    saved = client.post(
        txn_change,
        {
            "amount": "100.00",
            "cashier": cashier.pk,
            "settlements-TOTAL_FORMS": 1,
            "settlements-INITIAL_FORMS": 1,
            "settlements-0-id": s.pk,
            "settlements-0-transaction": txn.pk,
            "settlements-0-amount": "1.00",
            "settlements-0-DELETE": "on",
        },
    )
    assert saved.status_code == 302  # the transaction's form was taken; its rows were not
    s.refresh_from_db()
    txn.refresh_from_db()
    assert (s.amount, s.payment_mode, s.notes) == (Decimal("60.00"), "cash", "")
    assert txn.paid_amount == Decimal("60.00")
    assert not s.is_voided


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999999", "-1"])
def test_a_hand_made_id_in_an_autocomplete_field_is_a_form_error(
    client, staff, customer, make_transaction, value
):
    """Django's autocomplete widget looked the value up to redraw the form: ValueError or
    OverflowError, a 500 (transactions.forms.IdInputAdminMixin)."""
    txn = make_transaction("100.00")
    client.force_login(staff)
    page = pay_in_admin(client, value, "1.00")
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["transaction"]
    page = client.post(
        reverse("admin:transactions_transaction_add"),
        {
            "customer": value,
            "amount": "75.00",
            "payment_mode": "cash",
            "settlements-TOTAL_FORMS": 0,
            "settlements-INITIAL_FORMS": 0,
        },
    )
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["customer"]
    assert list(Transaction.objects.all()) == [txn]
    assert not PaymentSettlement.objects.exists()


def test_an_autocomplete_field_redrawn_keeps_the_chosen_row(client, staff, make_transaction):
    txn = make_transaction("100.00")
    client.force_login(staff)
    page = pay_in_admin(client, txn.pk, "abc")  # a bad amount: the form comes back
    assert page.status_code == 200
    assert f'<option value="{txn.pk}" selected>' in page.content.decode()


@pytest.mark.parametrize("confirmed", [False, True], ids=["action", "confirmation"])
def test_a_hand_made_selected_row_that_is_no_id_is_a_message(
    client, staff, make_transaction, confirmed
):
    """Django filtered the selection with pk__in=["abc"]: ValueError, a 500."""
    txn = make_transaction("10.00")
    client.force_login(staff)
    data = {"action": "delete_selected", "_selected_action": [txn.pk, "abc"]}
    data.update({"post": "yes"} if confirmed else {"index": 0})
    page = client.post(reverse("admin:transactions_transaction_changelist"), data, follow=True)
    assert page.status_code == 200
    assert "Rows are selected by their ids. No items have been changed." in page.content.decode()
    assert Transaction.objects.filter(pk=txn.pk).exists()
