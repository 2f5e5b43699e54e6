"""Channel-layer group names (``^[a-zA-Z0-9._-]{1,99}$``) and which groups an event goes to."""

from __future__ import annotations

from transactions.choices import Role
from transactions.selectors import Audience

ADMIN_GROUP = "payments.admin"
CASHIER_POOL_GROUP = "payments.cashiers"


def user_group(user_id: int) -> str:
    return f"payments.user.{user_id}"


def groups_for_audience(audience: Audience) -> list[str]:
    """Every group whose members may see an event with this audience (admins always)."""
    groups = [ADMIN_GROUP]
    if audience.cashier_pool:
        groups.append(CASHIER_POOL_GROUP)
    for user_id in sorted(audience.sales_agent_ids | audience.cashier_ids):
        groups.append(user_group(user_id))
    return groups


def groups_for_member(user_id: int, roles: frozenset[Role]) -> list[str]:
    """The groups a connection of this user joins (admins need only the admin group)."""
    if Role.ADMIN in roles:
        return [ADMIN_GROUP]
    groups = [user_group(user_id)]
    if Role.CASHIER in roles:
        groups.append(CASHIER_POOL_GROUP)
    return groups
