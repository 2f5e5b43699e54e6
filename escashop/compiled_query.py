"""ORM queries compiled to SQL once, then run with new values: for the few hot paths where
Django compiling the query costs more than PostgreSQL running it.

Django compiles a queryset to SQL on every evaluation. For the settlement POST's row lock
(the transaction with its customer, sales agent and cashier, ``FOR UPDATE OF`` the
transaction) that took about 0.7 ms of CPU per request against 0.1 ms to run it
(``docs/performance.md``). A ``CompiledQuery`` builds its queryset with marker values once
per database, keeps the SQL and the compiler, and afterwards only swaps the values in and
builds the model instances the way Django's own ``ModelIterable`` does (``from_db`` and the
``select_related`` populators). The SQL is Django's, so it stays right as the models change;
the queries still go through ``connection.cursor()`` (query counting, execute wrappers).

Only plain model querysets are supported: no annotations, ``values()``, prefetching or
``only()``; ``run`` refuses what it cannot rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

#: Stand-ins for the values while compiling: integers no real key takes, each used once.
_MARKER_BASE = -7_390_000_000_000_000_000


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str | None  # None: the query can match nothing (e.g. ``none()``)
    slots: tuple[tuple[str | None, object], ...]  # (value name, or None and a constant)
    compiler: object
    locks: bool
    #: How rows become instances, worked out once (as ``ModelIterable`` does per query):
    #: the main model's columns and field names, the ``select_related`` populators, and
    #: whether the backend converts any value (else the rows are used as they come).
    model: type[Model] | None = None
    start: int = 0
    end: int = 0
    init_list: tuple[str, ...] = ()
    populators: tuple = ()
    converts: bool = True


class CompiledQuery:
    """``build(key, **values)`` returns the queryset; the values must be integers (ids),
    which the SQL takes as parameters (a shape may leave one unused). ``key`` names a
    variant of the query's shape (a role set, say; None if there is one shape): one
    compilation per key and database."""

    def __init__(self, model: type[Model], build: Callable[..., QuerySet], names: tuple[str, ...]):
        self.model = model
        self.build = build
        self.names = names
        self._compiled: dict[tuple[str, Hashable], _Compiled] = {}

    def run(self, *, key: Hashable = None, **values: int) -> list[Model]:
        if set(values) != set(self.names):
            raise TypeError(f"expected values for {self.names}, got {sorted(values)}")
        alias = router.db_for_read(self.model)
        compiled = self._compiled.get((alias, key)) or self._compile(alias, key)
        if compiled.sql is None:
            return []
        connection = connections[alias]
        if compiled.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = [values[name] if name else constant for name, constant in compiled.slots]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return self._instances(compiled, rows, alias)

    def get(self, *, key: Hashable = None, **values: int) -> Model:
        """The one matching row, or the model's ``DoesNotExist``."""
        rows = self.run(key=key, **values)
        if not rows:
            raise self.model.DoesNotExist(f"No {self.model._meta.object_name} matches {values}.")
        if len(rows) > 1:
            raise self.model.MultipleObjectsReturned(f"{len(rows)} rows match {values}.")
        return rows[0]

    def _compile(self, alias: str, key: Hashable) -> _Compiled:
        markers = {name: _MARKER_BASE - i for i, name in enumerate(self.names)}
        queryset = self.build(key, **markers).using(alias)
        query = queryset.query
        if (
            query.annotations
            or queryset._iterable_class.__name__ != "ModelIterable"
            or queryset._prefetch_related_lookups
            or query.deferred_loading != (frozenset(), True)
        ):
            raise ValueError("CompiledQuery supports plain model querysets only.")
        compiler = query.get_compiler(using=alias)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            compiled = _Compiled(sql=None, slots=(), compiler=compiler, locks=False)
        else:
            by_marker = {marker: name for name, marker in markers.items()}
            slots = tuple(
                (by_marker[p], None) if type(p) is int and p in by_marker else (None, p)
                for p in params
            )
            inlined = [name for name, marker in markers.items() if str(marker) in sql]
            if inlined:  # written into the SQL text, where a new value could not replace it
                raise ValueError(f"values compiled into the SQL text: {inlined}")
            locks = query.select_for_update and compiler.connection.features.has_select_for_update
            select, klass_info = compiler.select, compiler.klass_info
            fields = klass_info["select_fields"]
            start, end = fields[0], fields[-1] + 1
            columns = [s[0] for s in select[0 : compiler.col_count]]
            compiled = _Compiled(
                sql=sql,
                slots=slots,
                compiler=compiler,
                locks=locks,
                model=klass_info["model"],
                start=start,
                end=end,
                init_list=tuple(f[0].target.attname for f in select[start:end]),
                populators=tuple(get_related_populators(klass_info, select, alias)),
                converts=bool(compiler.get_converters(columns))
                or compiler.has_composite_fields(columns),
            )
        self._compiled[(alias, key)] = compiled  # a race compiles twice, to the same result
        return compiled

    @staticmethod
    def _instances(compiled: _Compiled, rows: list, alias: str) -> list[Model]:
        # As django.db.models.query.ModelIterable, for the plain querysets allowed above.
        if compiled.converts:
            rows = compiled.compiler.results_iter(results=[rows])
        start, end, init_list = compiled.start, compiled.end, compiled.init_list
        objects = []
        for row in rows:
            obj = compiled.model.from_db(alias, init_list, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects
