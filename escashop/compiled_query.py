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

``CompiledSaveMixin`` does the same for a model's ``save()``: the settlement's INSERT and
its transaction's UPDATE, compiled once per shape and run with the new values.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql import InsertQuery, UpdateQuery
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


class CompiledSaveMixin:
    """A model's ``save()`` with its INSERT, and its UPDATE of ``update_fields``, compiled
    once per shape.

    ``Model.save()`` compiles its SQL on every call: for a settlement POST that was about
    140 µs of CPU for the transaction's UPDATE (five fields, with ``filter(pk=...)`` built
    each time) and about 100 µs for the settlement's INSERT, of 4-5 ms. This mixin keeps
    Django's own SQL per database and shape (the fields; for an UPDATE also which values are
    NULL, since ``SET x = NULL`` takes no parameter) and runs it with the new values,
    prepared by their fields as Django's compiler prepares them. ``save()`` itself is
    untouched: ``pre_save`` and ``post_save`` fire, ``auto_now`` applies, an integrity error
    is Django's, the query is counted like any other.

    Whatever the fast path cannot reproduce goes to Django's own ``_do_update`` or
    ``_do_insert``: an UPDATE without ``update_fields`` (a full save of a loaded row, which
    is rare on the hot path), expressions (``F()``) or model instances as values,
    ``select_on_save``, ``raw`` saves (fixtures), models with parents (several tables), a
    backend that cannot return the new key from its INSERT, returned values that need
    converting, and a shape whose compiled parameters are not exactly the prepared values
    (a base manager that filters, say).
    """

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        if (
            update_fields is None
            or not values
            or (self._meta.select_on_save and not forced_update)
            or self._meta.parents
            or any(_not_plain(v) for _, _, v in values)
        ):
            return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)
        connection = connections[using]
        prepared = [f.get_db_prep_save(v, connection=connection) for f, _, v in values]
        shape = (
            type(self),
            using,
            "update",
            tuple(f.attname for f, _, _ in values),
            tuple(p is None for p in prepared),
        )
        sql = _SAVES.get(shape, _NOT_YET)
        if sql is _NOT_YET:
            sql = _compile_update(shape, base_qs, values, prepared)
        if sql is None or any(_not_plain(p) for p in prepared):
            return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)
        params = [p for p in prepared if p is not None]
        params.append(self._meta.pk.get_db_prep_value(pk_val, connection))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount > 0

    def _do_insert(self, manager, using, fields, returning_fields, raw):
        connection = connections[using]
        if (
            raw
            or not fields
            or manager is not self._meta.base_manager
            or self._meta.parents
            or not connection.features.can_return_columns_from_insert
            or any(_not_plain(getattr(self, f.attname)) for f in fields)
        ):
            return super()._do_insert(manager, using, fields, returning_fields, raw)
        shape = (
            type(self),
            using,
            "insert",
            tuple(f.attname for f in fields),
            tuple(f.attname for f in returning_fields or ()),
        )
        compiled = _SAVES.get(shape, _NOT_YET)
        if compiled is _NOT_YET:
            compiled = _compile_insert(shape, self, fields, returning_fields)
        if compiled is None:
            return super()._do_insert(manager, using, fields, returning_fields, raw)
        sql, returning_params = compiled
        # As Django's compiler: pre_save (auto_now_add and the like), then the field's prep.
        params = [f.get_db_prep_save(f.pre_save(self, True), connection) for f in fields]
        if any(_not_plain(p) for p in params):  # a field made an expression of its value
            return super()._do_insert(manager, using, fields, returning_fields, raw)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if not returning_fields:
                return []
            return [connection.ops.fetch_returned_insert_columns(cursor, returning_params)]


def _not_plain(value) -> bool:
    """An expression or a model instance: compiled into the SQL, not a parameter."""
    return (
        hasattr(value, "resolve_expression")
        or hasattr(value, "prepare_database_save")
        or hasattr(value, "as_sql")
    )


_NOT_YET = object()
#: shape (see CompiledSaveMixin) -> the UPDATE's SQL, or the INSERT's SQL and its
#: returning parameters; None where the fast path does not apply (found out on the first
#: save of that shape). A race compiles twice, to the same result.
_SAVES: dict[tuple, object] = {}


def _compile_update(shape: tuple, base_qs: QuerySet, values: list, prepared: list) -> str | None:
    using, marker = shape[1], _MARKER_BASE
    query = base_qs.filter(pk=marker).query.chain(UpdateQuery)
    query.add_update_fields(values)
    sql = None
    if not query.related_updates:
        compiled, params = query.get_compiler(using).as_sql()
        # Every non-NULL value as a parameter, as prepared, then the key, and nothing else.
        expected = [p for p in prepared if p is not None]
        if list(params) == [*expected, marker] and str(marker) not in compiled:
            sql = compiled
    _SAVES[shape] = sql
    return sql


def _compile_insert(shape: tuple, obj: Model, fields: list, returning_fields) -> tuple | None:
    model, using = shape[0], shape[1]
    connection = connections[using]
    query = InsertQuery(model, on_conflict=None)
    # raw: the compiler reads the values as they are, without pre_save's side effects
    # (auto_now_add), which the save that follows applies once.
    query.insert_values(fields, [obj], raw=True)
    compiler = query.get_compiler(using)
    compiler.returning_fields = returning_fields
    result = None
    statements = compiler.as_sql()
    if len(statements) == 1:
        sql, params = statements[0]
        returning_params = tuple(compiler.returning_params or ()) if returning_fields else ()
        expected = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
        table = model._meta.db_table
        columns = [f.get_col(table) for f in returning_fields or ()]
        if list(params) == [*expected, *returning_params] and not compiler.get_converters(columns):
            result = (sql, returning_params)
    _SAVES[shape] = result
    return result
