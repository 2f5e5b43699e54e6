"""Django-admin permissions of the role groups, kept in step after every migrate.

The groups themselves are made by migration 0002_roles. Model permissions only exist after
post_migrate, so they are granted here. What a user may *see* is decided by
transactions.selectors, not by these permissions; they only open the admin pages.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from .choices import Role

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.ADMIN: [
        "transactions.view_customer",
        "transactions.add_customer",
        "transactions.change_customer",
        "transactions.view_transaction",
        "transactions.add_transaction",
        "transactions.change_transaction",
        "transactions.delete_transaction",
        "payments.view_paymentsettlement",
        "payments.add_paymentsettlement",
        "payments.change_paymentsettlement",
        "realtime.view_paymentevent",
    ],
    Role.CASHIER: [
        "transactions.view_customer",
        "transactions.view_transaction",
        "payments.view_paymentsettlement",
        "payments.add_paymentsettlement",
    ],
    Role.SALES: [
        "transactions.view_customer",
        "transactions.add_customer",
        "transactions.change_customer",
        "transactions.view_transaction",
        "transactions.add_transaction",
    ],
}


def role_permissions_sync(**kwargs) -> None:
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.add(*wanted)
