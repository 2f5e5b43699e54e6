"""``--create-users``: the load test's own users, made directly in the database.

Users can only be created by an operator (there is no public sign-up surface), so this runs
on the server host with the deployment's settings. Each run sets a fresh random password,
and the users are deactivated when the run ends: no admin account is left behind that
nobody knows the password of.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

LOAD_USERS = {"admin": "loadtest-admin", "cashier": "loadtest-cashier", "sales": "loadtest-sales"}


def load_users_create(*, password: str) -> dict[str, str]:
    """Create or reset one user per role; returns role -> username."""
    User = get_user_model()
    for role, username in LOAD_USERS.items():
        user, _ = User.objects.get_or_create(
            username=username, defaults={"first_name": "Load", "last_name": role.title()}
        )
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    return dict(LOAD_USERS)


def load_users_retire() -> None:
    """Deactivate the load test's users, with unusable passwords (the next run resets them)."""
    User = get_user_model()
    for user in User.objects.filter(username__in=LOAD_USERS.values()):
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
