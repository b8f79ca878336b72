"""The Django internals ``oms.sql`` relies on keep the shape it uses.

``insert_sql`` drives the insert compiler by hand (``InsertQuery.insert_values``, the compiler's
``returning_fields`` and ``as_sql`` layout, then computes later values as the compiler does);
``Prepared`` reads a compiled select (``klass_info``, ``select``, ``annotation_col_map``,
``results_iter``) and builds instances with ``Model.from_db`` and ``get_related_populators``, and
checks ``QuerySet._iterable_class`` / ``_known_related_objects``; ``mark_saved`` sets
``Model._state``. None of these is a public API, so a Django upgrade may change them: each test
here fails with the name of what changed, before a hot path writes or reads the wrong thing."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Field, ForeignObject, Lookup, Model
from django.db.models.base import ModelState
from django.db.models.constants import OnConflict
from django.db.models.query import ModelIterable, RelatedPopulator, ValuesIterable, get_related_populators
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler

from oms.sql import AnyOf
from orders.choices import FulfillmentMethod
from orders.models import Order, OrderEvent, OrderLine
from tests.factories import ChannelFactory, ProductFactory

pytestmark = pytest.mark.django_db

FROZEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _changed(what: str, user: str) -> str:
    return f"Django changed {what}, which oms/sql.py ({user}) relies on: adapt oms/sql.py to it"


def _parameters(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


@pytest.mark.parametrize(
    ("func", "expected", "user"),
    [
        (InsertQuery.insert_values, ["self", "fields", "objs", "raw"], "insert_sql"),
        (SQLInsertCompiler.as_sql, ["self"], "insert_sql"),
        (SQLInsertCompiler.pre_save_val, ["self", "field", "obj"], "insert_sql's compiled shapes"),
        (SQLInsertCompiler.prepare_value, ["self", "field", "value"], "insert_sql's compiled shapes"),
        (Field.pre_save, ["self", "model_instance", "add"], "insert_sql, update_sql"),
        (Field.get_db_prep_save, ["self", "value", "connection"], "insert_sql, update_sql"),
        (get_related_populators, ["klass_info", "select", "db"], "Prepared"),
        (RelatedPopulator.populate, ["self", "row", "from_obj"], "Prepared"),
        (Model.from_db, ["db", "field_names", "values"], "Prepared"),
        (Lookup.process_lhs, ["self", "compiler", "connection", "lhs"], "AnyOf"),
    ],
    ids=lambda v: getattr(v, "__qualname__", None) if callable(v) else None,
)
def test_the_internals_take_the_arguments_oms_sql_passes(func, expected, user):
    assert _parameters(func) == expected, _changed(f"the arguments of {func.__qualname__}", user)


def test_the_results_iter_takes_rows_first():
    assert _parameters(SQLCompiler.results_iter)[:2] == ["self", "results"], _changed(
        "SQLCompiler.results_iter(results, ...)", "Prepared passes the fetched rows"
    )


def test_insert_query_takes_on_conflict_and_keeps_what_insert_values_gives():
    on_conflict = inspect.signature(InsertQuery.__init__).parameters.get("on_conflict")
    assert on_conflict is not None, _changed("InsertQuery(model, *, on_conflict=...)", "insert_sql")
    assert on_conflict.kind is inspect.Parameter.KEYWORD_ONLY, _changed(
        "InsertQuery(model, *, on_conflict=...)", "insert_sql"
    )
    assert OnConflict.IGNORE.value == "ignore", _changed("OnConflict.IGNORE", "insert_sql")
    fields = [OrderEvent._meta.get_field("message")]
    objs = [OrderEvent(message="m")]
    query = InsertQuery(OrderEvent, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, objs, raw=False)
    assert (query.fields, query.objs, query.raw, query.on_conflict) == (
        fields,
        objs,
        False,
        OnConflict.IGNORE,
    ), _changed("what InsertQuery.insert_values stores", "insert_sql")
    compiler = query.get_compiler(connection=connection)
    assert isinstance(compiler, SQLInsertCompiler), _changed("InsertQuery's compiler class", "insert_sql")
    assert compiler.returning_fields is None, _changed("SQLInsertCompiler.returning_fields", "insert_sql")


@pytest.fixture
def order() -> Order:
    return Order.objects.create(
        channel=ChannelFactory(code="web"),
        number="WEB-1",
        method=FulfillmentMethod.SHIP,
        currency="USD",
        total=Decimal("3"),
    )


def _events(order: Order, rows: int) -> list[OrderEvent]:
    return [
        OrderEvent(
            order=order, kind="note", message=f"e{n}", data={"n": n}, actor_type="system", actor_name="t"
        )
        for n in range(rows)
    ]


def _comparable(value: Any) -> Any:
    """Database values as plain data: psycopg's JSON adapters compare by identity."""
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return ("json", value.obj) if type(value).__name__ == "Jsonb" else value


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize(("returning", "ignore_conflicts"), [((), False), (("id",), False), (("id",), True)])
def test_the_insert_compiler_gives_one_statement_in_a_layout_insert_sql_knows(
    order, monkeypatch, rows, returning, ignore_conflicts
):
    """One statement whose values are each field's ``pre_save`` then ``get_db_prep_save`` (what
    ``insert_sql`` computes itself for a shape it compiled before), either a row after another or,
    on PostgreSQL with several rows, one array per column (``UNNEST``)."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: FROZEN)  # the same auto_now_add stamps
    objs = _events(order, rows)
    fields = [f for f in OrderEvent._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(OrderEvent, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
    query.insert_values(fields, objs, raw=False)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [OrderEvent._meta.get_field(name) for name in returning] or None
    statements = compiler.as_sql()
    shape = "SQLInsertCompiler.as_sql (a list of (sql, params), one statement for several rows)"
    assert isinstance(statements, list), _changed(shape, "insert_sql")
    assert len(statements) == 1, _changed(shape, "insert_sql")
    sql, params = statements[0]
    values = [[f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields] for obj in objs]
    by_row = list(chain.from_iterable(values))
    by_column = [list(column) for column in zip(*values, strict=True)]
    layout = _comparable(list(params))
    assert layout in (_comparable(by_row), _comparable(by_column)), _changed(
        "the values SQLInsertCompiler.as_sql gives (not each field's pre_save and get_db_prep_save, "
        "a row after another or one list per column)",
        "insert_sql",
    )
    if connection.vendor == "postgresql":
        expect_columns = rows > 1
        assert (layout == _comparable(by_column) and "UNNEST" in sql) is expect_columns, _changed(
            "PostgreSQL's bulk INSERT layout (UNNEST arrays for several rows)", "insert_sql"
        )
        assert ("ON CONFLICT DO NOTHING" in sql) is ignore_conflicts
    if returning:
        assert f'RETURNING "{OrderEvent._meta.db_table}"."id"' in sql, _changed(
            "the RETURNING of SQLInsertCompiler.returning_fields", "insert_sql"
        )


@pytest.fixture
def lines(order) -> list[OrderLine]:
    return [
        OrderLine.objects.create(
            order=order,
            line_number=n,
            product=ProductFactory(),
            sku=f"S{n}",
            quantity=1,
            unit_price=Decimal("1.50"),
            line_total=Decimal("1.50"),
        )
        for n in (1, 2)
    ]


def test_a_compiled_select_has_the_layout_prepared_reads(order, lines):
    """``Prepared``: compile once, then build each row's instance and its ``select_related``
    objects as ``ModelIterable`` does."""
    queryset = OrderLine.objects.select_related("order").filter(order_id=order.pk).order_by("line_number")
    db = queryset.db
    compiler = queryset.query.get_compiler(using=db)
    sql, params = compiler.as_sql()
    assert order.pk in params, _changed("SQLCompiler.as_sql's parameters", "Prepared")
    klass_info, select = compiler.klass_info, compiler.select
    assert {"model", "select_fields", "related_klass_infos"} <= set(klass_info), _changed(
        "SQLCompiler.klass_info", "Prepared"
    )
    assert klass_info["model"] is OrderLine
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [s[0].target.attname for s in select[start:end]]
    assert init_list == [f.attname for f in OrderLine._meta.concrete_fields], _changed(
        "SQLCompiler.select (its items' [0].target.attname)", "Prepared"
    )
    assert not compiler.annotation_col_map, _changed("SQLCompiler.annotation_col_map", "Prepared")
    assert compiler.has_extra_select is False, _changed("SQLCompiler.has_extra_select", "Prepared")
    assert compiler.col_count == len(select), _changed("SQLCompiler.col_count", "Prepared")
    populators = get_related_populators(klass_info, select, db)
    shape = "get_related_populators (a RelatedPopulator per select_related relation)"
    assert len(populators) == 1, _changed(shape, "Prepared")
    assert isinstance(populators[0], RelatedPopulator), _changed(shape, "Prepared")

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    built = []
    for row in compiler.results_iter([rows]):
        obj = OrderLine.from_db(db, init_list, row[start:end])
        populators[0].populate(row, obj)
        built.append(obj)
    assert [(x.pk, x.unit_price, x._state.adding, x._state.db) for x in built] == [
        (x.pk, Decimal("1.50"), False, db) for x in lines
    ], _changed("results_iter / Model.from_db", "Prepared")
    assert all(OrderLine.order.is_cached(x) and x.order.number == "WEB-1" for x in built), _changed(
        "RelatedPopulator.populate (it no longer sets the related object)", "Prepared"
    )


def test_an_annotated_select_fills_annotation_col_map():
    compiler = Order.objects.annotate(n=Count("lines")).query.get_compiler(using="default")
    compiler.as_sql()
    assert "n" in compiler.annotation_col_map, _changed(
        "SQLCompiler.annotation_col_map", "Prepared refuses annotated querysets by it"
    )


def test_a_queryset_says_how_it_builds_rows_and_what_a_related_manager_gave_it(order):
    assert OrderLine.objects.filter(pk=1)._iterable_class is ModelIterable, _changed(
        "QuerySet._iterable_class", "Prepared"
    )
    assert OrderLine.objects.values("pk")._iterable_class is ValuesIterable
    assert OrderLine.objects.filter(pk=1)._known_related_objects == {}, _changed(
        "QuerySet._known_related_objects", "Prepared"
    )
    related = order.lines.filter(quantity=1)._known_related_objects
    assert related == {OrderLine._meta.get_field("order"): {order.pk: order}}, _changed(
        "QuerySet._known_related_objects (a related manager's {field: {pk: instance}})",
        "Prepared refuses related-manager querysets by it",
    )


def test_a_new_instance_is_adding_and_has_no_database():
    state = OrderEvent()._state
    assert isinstance(state, ModelState), _changed("Model._state", "mark_saved")
    assert (state.adding, state.db) == (True, None), _changed("Model._state (adding, db)", "mark_saved")


def test_the_any_lookup_reaches_columns_and_foreign_keys():
    """``Field.register_lookup`` covers plain columns; a foreign key looks its lookups up on
    ``ForeignObject``, which has its own registry."""
    assert OrderLine._meta.get_field("quantity").get_lookup("any") is AnyOf, _changed(
        "Field.register_lookup", "AnyOf"
    )
    assert OrderLine._meta.get_field("order").get_lookup("any") is AnyOf, _changed(
        "ForeignObject.register_lookup", "AnyOf"
    )
    assert "any" in ForeignObject.get_class_lookups(), _changed("ForeignObject.get_class_lookups", "AnyOf")
    assert Lookup.prepare_rhs is True, _changed("Lookup.prepare_rhs", "AnyOf")
    assert AnyOf.prepare_rhs is False
