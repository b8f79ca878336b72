"""The ORM's own SQL, for hot paths.

``insert_sql``: a model's INSERT as SQL text, for paths that write several tables in one round trip
(PostgreSQL data-modifying CTEs: ``WITH a AS (INSERT ...) INSERT ...``). The SQL and its parameters
come from Django's insert compiler, so the values are those the ORM would write (``auto_now``
stamps, JSON adaptation, defaults): only the round trips are saved. The caller runs the statement
and then calls ``mark_saved`` on the instances. ``update_sql`` is the same for an ``UPDATE`` of some
fields of one instance (what ``save(update_fields=...)`` would write); ``with_writes`` puts several
of them in one statement; ``next_ids`` draws primary keys from a table's sequence, for rows that
other rows of the same statement point to.

``Prepared``: a read whose queryset is compiled once per process and run again with other ids (the
compile step is most of the Python a primary-key lookup costs). ``field__any=ids`` (PostgreSQL) is
``IN`` with the ids as one array parameter, so a read of many rows keeps one shape too."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Lookup, Model, QuerySet, prefetch_related_objects
from django.db.models.constants import OnConflict
from django.db.models.query import ModelIterable
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLCompiler


# The Django internals below are not in django-stubs (or are typed wider than they are); they are
# typed here as this module uses them, and tests/oms/test_sql_internals.py fails if their shape
# changes in a Django upgrade.
class _RelatedPopulator(Protocol):
    """``django.db.models.query.RelatedPopulator``: puts one ``select_related`` object on a row's
    instance."""

    def populate(self, row: Sequence[Any], from_obj: Model) -> None: ...


class _QuerySetInternals(Protocol):
    """The private ``QuerySet`` attributes ``Prepared`` checks (``_known_related_objects`` is set by
    a related manager: ``{field: {pk: instance}}``)."""

    _iterable_class: type[Any]
    _known_related_objects: dict[Field[Any, Any], dict[Any, Model]]
    _prefetch_related_lookups: tuple[Any, ...]


if TYPE_CHECKING:

    def get_related_populators(
        klass_info: dict[str, Any], select: Sequence[tuple[Any, ...]], db: str
    ) -> list[_RelatedPopulator]: ...

else:
    from django.db.models.query import get_related_populators


class AnyOf(Lookup):
    """``field__any=[1, 2, 3]``: ``field = ANY(%s)`` with the ids as one ``bigint[]`` parameter
    (PostgreSQL only). ``__in`` writes one placeholder per value, so its SQL changes with the
    number of ids; this keeps one statement for any number, which ``Prepared`` compiles once."""

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, self.rhs]


# on Field for plain columns; ForeignObject keeps its own lookups (Django does not look past it)
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


def insert_sql(
    model: type[Model],
    objs: Sequence[Model],
    *,
    returning: Sequence[str] = (),
    ignore_conflicts: bool = False,
) -> tuple[str, tuple[Any, ...]]:
    """One ``INSERT`` of ``objs`` (all of ``model``) with Django's values; the primary key is
    written only when every object has one. ``returning`` names fields for a ``RETURNING``;
    ``ignore_conflicts`` adds ``ON CONFLICT DO NOTHING`` (a row that would break a unique
    constraint is not written, and returns nothing).

    The SQL depends only on the model, the fields, the number of rows and the options: Django
    compiles it once per shape and process (``_INSERT_SHAPES``); each call then computes the
    values as the compiler does (each field's ``pre_save`` and database value), in the compiler's
    layout (a row after another, or PostgreSQL's ``UNNEST`` arrays, one per column)."""
    if not objs:
        raise ValueError("insert_sql needs at least one object")
    meta = model._meta
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and any(getattr(obj, f.attname) is None for obj in objs))
    ]
    key = (
        connection.alias,
        model,
        tuple(f.attname for f in fields),
        len(objs),
        tuple(returning),
        ignore_conflicts,
    )
    shape = _INSERT_SHAPES.get(key)
    if shape is not None and not any(
        hasattr(getattr(obj, f.attname), "resolve_expression") for obj in objs for f in fields
    ):
        sql, by_column = shape
        rows = [[f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields] for obj in objs]
        if by_column:
            return sql, tuple(list(column) for column in zip(*rows, strict=True))
        return sql, tuple(value for row in rows for value in row)
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
    query.insert_values(fields, list(objs), raw=False)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.get_field(name) for name in returning] or None
    statements = compiler.as_sql()
    if len(statements) != 1:  # a backend that cannot insert several rows in one statement
        raise NotImplementedError(f"{connection.vendor} cannot insert {len(objs)} rows in one statement")
    sql, params = statements[0]
    if any(hasattr(f, "get_placeholder") for f in fields):  # a placeholder that depends on the value
        return sql, params
    if len(params) == len(fields) * len(objs):
        _INSERT_SHAPES[key] = (sql, False)
    elif len(objs) > 1 and len(params) == len(fields) and all(isinstance(p, list) for p in params):
        _INSERT_SHAPES[key] = (sql, True)  # PostgreSQL's UNNEST: one array per column
    return sql, params


# (alias, model, field attnames, rows, returning, ignore_conflicts) -> (SQL, values by column?)
_INSERT_SHAPES: dict[tuple[Any, ...], tuple[str, bool]] = {}


def update_sql(obj: Model, fields: Iterable[str]) -> tuple[str, tuple[Any, ...]]:
    """The ``UPDATE`` that ``obj.save(update_fields=fields)`` would run, as SQL text: each field's
    ``pre_save`` (an ``auto_now`` field is stamped now, as save does) and database value."""
    meta = obj._meta
    quote = connection.ops.quote_name
    assignments: list[str] = []
    values: list[Any] = []
    for name in dict.fromkeys(fields):
        f = meta.get_field(name)
        # a column of its own: not a reverse relation, a generic key (no column) nor the primary key
        if not isinstance(f, Field) or f.column is None or f.primary_key:
            raise ValueError(f"update_sql cannot write {meta.label}.{name}")
        assignments.append(f"{quote(f.column)} = %s")
        values.append(f.get_db_prep_save(f.pre_save(obj, add=False), connection))
    if not assignments:
        raise ValueError("update_sql needs at least one field")
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk} = %s"  # noqa: S608 - the model's names
    return sql, (*values, meta.pk.get_db_prep_value(obj.pk, connection))


def with_writes(
    writes: Sequence[tuple[str, Sequence[Any]]], last: tuple[str, Sequence[Any]]
) -> tuple[str, list[Any]]:
    """One statement of several writes (PostgreSQL): each of ``writes`` a data-modifying CTE, then
    ``last`` (whose ``RETURNING``, if any, is what the statement answers). Each is ``(sql, params)``
    as ``insert_sql`` / ``update_sql`` give them."""
    ctes = ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(writes))
    sql = f"WITH {ctes} {last[0]}" if writes else last[0]
    return sql, [param for _, values in (*writes, last) for param in values]


def next_ids(model: type[Model], count: int) -> list[int]:
    """``count`` new primary keys of ``model`` from its table's sequence (PostgreSQL), in order: for
    rows written later in one statement with rows that point to them."""
    if count <= 0:
        return []
    if connection.vendor != "postgresql":
        raise NotImplementedError("next_ids draws from a PostgreSQL sequence")
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def mark_saved(objs: Iterable[Model]) -> None:
    """What ``save()`` would have noted on each instance once its row is written."""
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


class Prepared:
    """A read of fixed shape whose SQL Django compiles once per process, then runs with other ids.

    Compiling a queryset (joins, the select list, ordering: ``SQLCompiler.as_sql``) takes 0.2-0.5
    ms of Python each time it runs, often longer than PostgreSQL takes to answer a primary-key
    lookup; on the routing worker it was a fifth of a routed order's CPU. ``build`` returns the
    queryset for its keyword arguments, all integer ids; it is compiled on the first call (inside
    the caller's transaction, as ``select_for_update`` requires) with sentinel ids, whose places in
    the parameters are then filled with each call's values. Rows become instances exactly as the
    queryset would make them (``from_db``, the field converters, ``select_related`` objects)::

        lines_of = Prepared(lambda order_id: OrderLine.objects.filter(order_id=order_id))
        lines_of(order_id=5)  # == list(OrderLine.objects.filter(order_id=5))

    Only for model querysets whose SQL does not depend on the values (no ``__in`` lists, no
    ``None``), without ``values()``, aggregations or related-manager querysets. A list of ids goes
    through ``field__any=name``: the call then passes a list for ``name``."""

    _SENTINEL = -7_340_000  # no id is negative

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._names = tuple(inspect.signature(build).parameters)
        # per thread, as Django's connections are: a compiled query keeps its compiler, which
        # keeps the connection it was compiled for (its field converters are read from it)
        self._local = threading.local()

    def _compile(self, alias: str | None) -> _Compiled:
        sentinels = {name: self._SENTINEL - i for i, name in enumerate(self._names)}
        queryset = self._build(**sentinels)
        internals = cast(_QuerySetInternals, queryset)
        if internals._iterable_class is not ModelIterable or internals._known_related_objects:
            raise TypeError("Prepared runs plain model querysets only")
        db = queryset.db if alias is None else alias
        compiler = queryset.query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        if compiler.annotation_col_map and queryset.query.group_by is not None:
            raise TypeError("Prepared does not run aggregating querysets")
        by_value = {value: name for name, value in sentinels.items()}
        slots = tuple(by_value.get(p) if type(p) is int else None for p in params)
        missing = set(self._names) - set(slots)
        if missing:
            raise TypeError(f"Prepared: {sorted(missing)} not found among the query's parameters")
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _Compiled(
            db=db,
            sql=sql,
            params=tuple(params),
            slots=slots,
            compiler=compiler,
            model=klass_info["model"],
            start=start,
            end=end,
            init_list=[f[0].target.attname for f in select[start:end]],
            populators=get_related_populators(klass_info, select, db),
            annotations=tuple(compiler.annotation_col_map.items()),
        )

    def bind(self, *, using: str | None = None, **values: int | Sequence[int]) -> Bound:
        """The read with these values, not yet run (``read_together`` sends several at once)."""
        cache: dict[str, _Compiled] = self._local.__dict__.setdefault("compiled", {})
        compiled = cache.get(using or "")
        if compiled is None:
            compiled = cache[using or ""] = self._compile(using)
        params: list[Any] = [
            p if slot is None else values[slot]
            for p, slot in zip(compiled.params, compiled.slots, strict=True)
        ]
        return Bound(compiled=compiled, params=params)

    def __call__(self, *, using: str | None = None, **values: int | Sequence[int]) -> list[Any]:
        bound = self.bind(using=using, **values)
        with connections[bound.compiled.db].cursor() as cursor:
            cursor.execute(bound.compiled.sql, bound.params)
            return bound.instances(cursor.fetchall())

    def first(self, *, using: str | None = None, **values: int | Sequence[int]) -> Any:
        """The only or first instance, or None: for a lookup by primary key (or a ``build`` that
        orders and slices as ``.first()`` would)."""
        found = self(using=using, **values)
        return found[0] if found else None


@dataclass(frozen=True)
class _Compiled:
    db: str
    sql: str
    params: tuple[Any, ...]
    slots: tuple[str | None, ...]
    compiler: SQLCompiler
    model: type[Model]
    start: int
    end: int
    init_list: list[str]
    populators: list[_RelatedPopulator]
    annotations: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Bound:
    """A ``Prepared`` read with its values: its SQL and parameters, and its rows made instances."""

    compiled: _Compiled
    params: list[Any]

    def instances(self, rows: list[Any]) -> list[Any]:
        compiled, compiler = self.compiled, self.compiled.compiler
        if compiler.has_extra_select:
            rows = [row[: compiler.col_count] for row in rows]
        out = []
        for row in compiler.results_iter([rows]):
            obj = compiled.model.from_db(compiled.db, compiled.init_list, row[compiled.start : compiled.end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations:
                setattr(obj, name, row[position])
            out.append(obj)
        return out


def read_together(*reads: QuerySet[Any] | Bound) -> list[list[Any]]:
    """Several model reads in one round trip, each answered as ``list(queryset)`` would
    (``from_db``, the field converters, ``select_related`` objects, annotations), in order: model
    querysets, or ``Prepared`` reads bound to their values (``Prepared.bind``: compiled once).

    On PostgreSQL the statements are sent in a pipeline (psycopg's pipeline mode): the server runs
    them one after the other, in order, in the caller's transaction (a ``select_for_update`` first
    holds its lock for those that follow), and the answers come back together; elsewhere they
    run one by one. A queryset's ``prefetch_related`` reads follow, for the rows found only. Model
    querysets only: no ``values()`` or related-manager querysets."""
    for read in reads:
        if isinstance(read, Bound):
            continue
        internals = cast(_QuerySetInternals, read)
        if internals._iterable_class is not ModelIterable or internals._known_related_objects:
            raise TypeError("read_together reads model querysets only")
    if connection.vendor != "postgresql" or len(reads) < 2:
        return [_one(read) for read in reads]
    lookups = [
        () if isinstance(read, Bound) else cast(_QuerySetInternals, read)._prefetch_related_lookups
        for read in reads
    ]
    statements: list[tuple[str, Sequence[Any]] | None] = []
    builders: list[Callable[[list[Any]], list[Any]]] = []
    for read in reads:
        if isinstance(read, Bound):
            statements.append((read.compiled.sql, read.params))
            builders.append(read.instances)
            continue
        compiler = read.prefetch_related(None).query.get_compiler(using=read.db)
        try:
            statements.append(compiler.as_sql())
        except EmptyResultSet:  # e.g. .none(): nothing to read
            statements.append(None)
        builders.append(partial(_instances, compiler))
    connection.ensure_connection()
    cursors = []
    try:
        with connection.connection.pipeline():
            for statement in statements:
                cursor = connection.cursor() if statement is not None else None
                if cursor is not None and statement is not None:
                    cursor.execute(*statement)
                cursors.append(cursor)
        rows = [cursor.fetchall() if cursor is not None else [] for cursor in cursors]
    finally:
        for cursor in cursors:
            if cursor is not None:
                cursor.close()
    answers = [build(found) for build, found in zip(builders, rows, strict=True)]
    for instances, prefetch in zip(answers, lookups, strict=True):
        if instances and prefetch:
            prefetch_related_objects(instances, *prefetch)
    return answers


def _one(read: QuerySet[Any] | Bound) -> list[Any]:
    if isinstance(read, Bound):
        with connections[read.compiled.db].cursor() as cursor:
            cursor.execute(read.compiled.sql, read.params)
            return read.instances(cursor.fetchall())
    return list(read)


def _instances(compiler: SQLCompiler, rows: list[Any]) -> list[Any]:
    """The rows of a compiled model query as instances, as ``ModelIterable`` makes them."""
    if not rows:
        return []
    if compiler.has_extra_select:
        rows = [row[: compiler.col_count] for row in rows]
    klass_info, select = compiler.klass_info, compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [f[0].target.attname for f in select[start:end]]
    db = compiler.using or connection.alias
    populators = get_related_populators(klass_info, select, db)
    model = klass_info["model"]
    out = []
    for row in compiler.results_iter([rows]):
        obj = model.from_db(db, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        for name, position in compiler.annotation_col_map.items():
            setattr(obj, name, row[position])
        out.append(obj)
    return out
