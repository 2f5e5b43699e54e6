"""The role groups: their Django-admin permissions, and when each user joined one.

The groups themselves are made by migration 0002_roles. Model permissions only exist after
post_migrate, so they are granted here. What a user may *see* is decided by
transactions.selectors, not by these permissions; they only open the admin pages.

``role_grants_record`` notes when a user joins a role's group (``RoleGrant``), whichever
side it is done from (``user.groups.add(group)``, ``group.user_set.add(user)``, the admin).
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from .choices import Role
from .models import RoleGrant

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
        # The payments of their own sales, as the API shows them (read-only).
        "payments.view_paymentsettlement",
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


def role_grants_record(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """An ``m2m_changed`` receiver on ``User.groups``: the time each role was (re)granted.

    Not for a user being loaded from a fixture (``loaddata`` sets its groups after a raw
    save, and ``m2m_changed`` has no ``raw``): the fixture's own grants, if it has them,
    come with it, and "now" would both clash with them and cut off the user's history.
    """
    if action != "post_add" or not pk_set or getattr(instance, "_raw_saved", False):
        return
    if reverse:  # group.user_set.add(*users)
        groups, user_ids = [instance], pk_set
    else:  # user.groups.add(*groups)
        groups, user_ids = Group.objects.filter(pk__in=pk_set), [instance.pk]
    roles = {group.name for group in groups} & set(Role.values)
    now = timezone.now()
    for role in roles:
        for user_id in user_ids:
            RoleGrant.objects.update_or_create(
                user_id=user_id, role=role, defaults={"granted_at": now}
            )


def role_grants_fixture_mark(sender, instance, raw: bool, **kwargs) -> None:
    """A ``pre_save`` receiver on the user model: mark a user saved raw (from a fixture)."""
    if raw:
        instance._raw_saved = True
