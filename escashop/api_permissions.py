"""API permissions built on the one policy (transactions.selectors.user_roles).

Only the coarse gates live here. Who may do what to a given transaction or settlement is
decided by the services (they raise PermissionDenied, answered as 403) and what a user may see
by the selectors (anything else is 404).
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from transactions.choices import Role
from transactions.selectors import user_roles


class HasAnyRole(BasePermission):
    """The caller holds at least one role (admin, cashier, sales).

    A signed-in user with no role may see nothing; answering 403 on lists and creates (rather
    than empty lists) tells them why, as the websocket's 4403 does. A request about one
    object (reading, changing, paying, voiding, deleting it) is let through to the views,
    which look it up among what the caller may see: 404, like any transaction the caller
    cannot see (SPEC 3), so an id never gets a different answer for them.
    """

    message = "Your account has no role (admin, cashier or sales); ask an administrator."

    def has_permission(self, request, view) -> bool:
        if user_roles(request.user):
            return True
        return bool(getattr(view, "kwargs", None))


class CustomerWriter(BasePermission):
    """Anyone with a role may look customers up; sales and admin create and edit them.

    The same split as the role groups' Django-admin permissions (transactions.roles).
    """

    message = "Only sales staff and admins create or edit customers."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        roles = user_roles(request.user)
        if not roles:
            return True  # HasAnyRole decides: 403 on creates, 404 for one customer
        return bool(roles & {Role.SALES, Role.ADMIN})
