"""The one visibility policy (SPEC section 3), used by the API, the admin and the websockets.

- admin (or superuser): every transaction;
- sales: transactions whose ``sales_agent`` is the user;
- cashier: transactions whose ``cashier`` is the user, and the unassigned queue.
A user holding several roles sees the union; an inactive user sees nothing.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connections, router
from django.db.models import Q, QuerySet
from rest_framework_simplejwt.utils import get_md5_hash_password

from escashop.compiled_query import CompiledQuery

from .choices import Role
from .models import Customer, Transaction

User = AbstractBaseUser | AnonymousUser
#: The largest id a (64-bit) primary key takes.
MAX_ID = 2**63 - 1


def user_roles(user: User | None) -> frozenset[Role]:
    """The roles a user holds right now; empty for anonymous or inactive users."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_escashop_roles", None)
    if cached is not None:
        return cached
    result = roles_held(
        group_names=user.groups.values_list("name", flat=True), is_superuser=user.is_superuser
    )
    user._escashop_roles = result
    return result


def users_assignable_as_cashier(*, keeping: int | None = None) -> QuerySet:
    """Active users who may handle a transaction's payments: cashiers and admins
    (superusers count as admins); and the user ``keeping``, a transaction's current
    cashier, even one who has lost the role since."""
    eligible = Q(is_active=True) & (
        Q(groups__name__in=[Role.CASHIER, Role.ADMIN]) | Q(is_superuser=True)
    )
    if keeping is not None:
        eligible |= Q(pk=keeping)
    return get_user_model().objects.filter(eligible).distinct().order_by("username")


def roles_held(*, group_names: Iterable[str | None], is_superuser: bool) -> frozenset[Role]:
    """The roles of a user in these groups (a superuser counts as admin): the one rule,
    for ``user_roles``, ``user_with_roles`` and the websockets' re-check."""
    names = set(group_names)
    roles = {role for role in Role if role.value in names}
    if is_superuser:
        roles.add(Role.ADMIN)
    return frozenset(roles)


def user_with_roles(*, field: str, value: object) -> AbstractBaseUser:
    """The user whose ``field`` (e.g. ``"id"``) is ``value``, with ``user_roles`` already
    known: ONE query, the user's row joined to their groups (a row per group), instead of
    the user and then their groups. Raises the user model's ``DoesNotExist``.

    Authentication runs this on every request (``escashop.api_authentication``); the SQL
    is built once from the models' metadata, because the ORM took about 1 ms of CPU to
    build the same query with a subquery per role, and the row becomes the user as a raw
    queryset would (the backend's converters, then ``Model.from_db``) without the raw
    queryset's per-call setup, which took as long as the query (``docs/performance.md``).
    """
    user_model = get_user_model()
    model_field = user_model._meta.pk if field == "pk" else user_model._meta.get_field(field)
    alias = router.db_for_read(user_model)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            _user_with_groups_sql(alias, model_field.column), [model_field.to_python(value)]
        )
        rows = cursor.fetchall()
    if not rows:
        raise user_model.DoesNotExist(f"No user with {field} {value!r}.")
    names, converters = _user_row_reader(connection)
    values = list(rows[0][:-1])
    for position, functions, column in converters:
        for convert in functions:
            values[position] = convert(values[position], column, connection)
    user = user_model.from_db(alias, names, values)
    user._escashop_roles = roles_held(
        group_names=(row[-1] for row in rows), is_superuser=user.is_superuser
    )
    return user


#: Per database connection (one per thread and alias): the user model's field names and
#: the backend's value converters for its columns, as a raw queryset would apply them.
_USER_ROW_READERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _user_row_reader(connection) -> tuple[list[str], list[tuple[int, list, object]]]:
    reader = _USER_ROW_READERS.get(connection)
    if reader is None:
        meta = get_user_model()._meta
        converters = []
        for position, field in enumerate(meta.concrete_fields):
            column = field.get_col(meta.db_table)
            functions = connection.ops.get_db_converters(column)
            functions += column.get_db_converters(connection)
            if functions:
                converters.append((position, functions, column))
        reader = [field.attname for field in meta.concrete_fields], converters
        _USER_ROW_READERS[connection] = reader
    return reader


def users_roles(
    *, user_ids: Sequence[int], claims: dict[int, str] | None = None
) -> dict[int, frozenset[Role] | None]:
    """The roles each of these users holds right now, in ONE query; ``None`` for a user who
    is inactive or gone. ``user_roles`` for many users at once: the websockets' re-check,
    which runs for every burst of events (``realtime.delivery``), with the SQL of
    ``user_with_roles`` for a list of ids (the ORM took longer to build the query than to
    run it, competing for the GIL with the write it runs beside). ``claims``, when given,
    gets each active user's password claim (``users_roles_read``)."""
    if not user_ids:
        return {}
    connection = connections[router.db_for_read(get_user_model())]
    sql, params = users_roles_query(connection, user_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return users_roles_read(connection, user_ids, rows, claims=claims)


def user_access(*, user_id: int) -> tuple[frozenset[Role] | None, str | None]:
    """One user's ``users_roles`` answer and password claim (None for both: inactive or
    gone), for a websocket's subscribe and replay pages (``realtime``)."""
    claims: dict[int, str] = {}
    roles = users_roles(user_ids=[user_id], claims=claims)[user_id]
    return roles, claims.get(user_id)


def users_roles_query(connection, user_ids: Sequence[int]) -> tuple[str, list[int]]:
    """``users_roles``' SQL and parameters, for a caller that runs it itself (the events'
    INSERT sends it in the same round trip: ``realtime.events``); its rows go to
    ``users_roles_read``."""
    # Padded to a power of two by repeating an id: a handful of SQL texts serve every count.
    size = 1 << (len(user_ids) - 1).bit_length()
    padded = [*user_ids, *[user_ids[-1]] * (size - len(user_ids))]
    column = get_user_model()._meta.pk.column
    return _user_with_groups_sql(connection.alias, column, size), padded


def users_roles_read(
    connection,
    user_ids: Sequence[int],
    rows: Sequence[tuple],
    *,
    claims: dict[int, str] | None = None,
) -> dict[int, frozenset[Role] | None]:
    """``users_roles``' answer from the rows of ``users_roles_query``. ``claims``, when
    given, gets each active user's password claim as the login puts it in its tokens
    (``escashop.api_authentication.password_claim``): an open websocket whose token carries
    another was opened before a password change (``realtime.delivery``)."""
    user_model = get_user_model()
    names, _converters = _user_row_reader(connection)  # flags and ids need no converting
    pk, active, superuser, password = (
        names.index(name)
        for name in (user_model._meta.pk.attname, "is_active", "is_superuser", "password")
    )
    groups: dict[int, list[str | None]] = {}
    superusers = set()
    for row in rows:
        if row[active]:
            if row[pk] not in groups and claims is not None:
                claims[row[pk]] = get_md5_hash_password(row[password])
            groups.setdefault(row[pk], []).append(row[-1])
            if row[superuser]:
                superusers.add(row[pk])
    return {
        user_id: (
            roles_held(group_names=groups[user_id], is_superuser=user_id in superusers)
            if user_id in groups
            else None
        )
        for user_id in user_ids
    }


@functools.lru_cache(maxsize=64)
def _user_with_groups_sql(alias: str, column: str, count: int = 1) -> str:
    """The user's columns and one group name per row (NULL without groups), for ``count``
    values of ``column``."""
    user_model = get_user_model()
    users, memberships = user_model._meta, user_model.groups.through._meta
    groups = memberships.get_field("group").related_model._meta
    qn = connections[alias].ops.quote_name
    columns = ", ".join(f"u.{qn(f.column)}" for f in users.concrete_fields)
    member_user, member_group = (qn(memberships.get_field(n).column) for n in ("user", "group"))
    # Identifiers from the models, the values as parameters.
    return (
        f"SELECT {columns}, g.{qn(groups.get_field('name').column)} AS escashop_group "  # noqa: S608
        f"FROM {qn(users.db_table)} u "
        f"LEFT JOIN {qn(memberships.db_table)} m ON m.{member_user} = u.{qn(users.pk.column)} "
        f"LEFT JOIN {qn(groups.db_table)} g ON g.{qn(groups.pk.column)} = m.{member_group} "
        f"WHERE u.{qn(column)} IN ({', '.join(['%s'] * count)})"
    )


def _visibility_q(user_id: int, roles: frozenset[Role]) -> Q | None:
    """None means "everything"; an empty Q() is never returned for no roles (see callers)."""
    if Role.ADMIN in roles:
        return None
    q = Q(pk__in=[])
    if Role.SALES in roles:
        q |= Q(sales_agent_id=user_id)
    if Role.CASHIER in roles:
        q |= Q(cashier_id=user_id) | Q(cashier__isnull=True)
    return q


def transactions_visible_to(user: User | None) -> QuerySet[Transaction]:
    """Every transaction this user may see, as a queryset (filter it further as needed)."""
    roles = user_roles(user)
    qs = Transaction.objects.all()
    if not roles:
        return qs.none()
    q = _visibility_q(user.pk, roles)
    return qs if q is None else qs.filter(q)


def transaction_visible_get(user: User | None, *, transaction_id: int) -> Transaction | None:
    """The transaction if this user may see it (``transactions_visible_to``), else None: the
    same query, compiled once per role set (a transaction's settlement list, and the 404 of
    a refused payment). An id no 64-bit key can take (from a URL) finds nothing, as the
    ORM's lookup would."""
    if not 0 < transaction_id <= MAX_ID:
        return None
    roles = user_roles(user)
    found = _VISIBLE.run(key=roles, user_id=user.pk if roles else 0, transaction_id=transaction_id)
    return found[0] if found else None


_VISIBLE = CompiledQuery(
    Transaction,
    lambda roles, *, user_id, transaction_id: (
        Transaction.objects.none()
        if not roles
        else Transaction.objects.filter(_visibility_q(user_id, roles) or Q(), pk=transaction_id)
    ),
    names=("user_id", "transaction_id"),
)


def transaction_visible_to(user: User | None, transaction: Transaction) -> bool:
    """Whether this user may see this transaction as it is now (no query beyond roles)."""
    return Audience.of(transaction).allows(user.pk if user else None, user_roles(user))


def customers_visible_to(user: User | None) -> QuerySet[Customer]:
    """Customers are shared shop data: any user with a role may look them up."""
    if not user_roles(user):
        return Customer.objects.none()
    return Customer.objects.all()


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may see one or more versions of a transaction (e.g. before and after a change).

    Admins always belong; besides them, the sales agents and cashiers named here, and every
    cashier when ``cashier_pool`` is set (the transaction was or is unassigned).
    """

    sales_agent_ids: frozenset[int]
    cashier_ids: frozenset[int]
    cashier_pool: bool

    @classmethod
    def of(cls, transaction: Transaction) -> Audience:
        return cls.of_values(
            sales_agent_ids=[transaction.sales_agent_id],
            cashier_ids=[transaction.cashier_id],
        )

    @classmethod
    def of_values(cls, *, sales_agent_ids, cashier_ids) -> Audience:
        cashiers = list(cashier_ids)
        return cls(
            sales_agent_ids=frozenset(i for i in sales_agent_ids if i is not None),
            cashier_ids=frozenset(i for i in cashiers if i is not None),
            cashier_pool=any(i is None for i in cashiers),
        )

    def union(self, other: Audience) -> Audience:
        return Audience(
            sales_agent_ids=self.sales_agent_ids | other.sales_agent_ids,
            cashier_ids=self.cashier_ids | other.cashier_ids,
            cashier_pool=self.cashier_pool or other.cashier_pool,
        )

    def allows(self, user_id: int | None, roles: frozenset[Role]) -> bool:
        if user_id is None or not roles:
            return False
        if Role.ADMIN in roles:
            return True
        if Role.SALES in roles and user_id in self.sales_agent_ids:
            return True
        return Role.CASHIER in roles and (self.cashier_pool or user_id in self.cashier_ids)

    def to_json(self) -> dict:
        return {
            "sales_agent_ids": sorted(self.sales_agent_ids),
            "cashier_ids": sorted(self.cashier_ids),
            "cashier_pool": self.cashier_pool,
        }

    @classmethod
    def from_json(cls, data: dict) -> Audience:
        return cls(
            sales_agent_ids=frozenset(data["sales_agent_ids"]),
            cashier_ids=frozenset(data["cashier_ids"]),
            cashier_pool=bool(data["cashier_pool"]),
        )
