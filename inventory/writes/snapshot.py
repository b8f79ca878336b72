"""A snapshot's set-based diff: every stock row of a location set to its count, with one ``count``
ledger row per changed row. On PostgreSQL ``stock_snapshot_statements`` (``COPY`` into a temporary
table, then a fixed number of statements whatever the size); elsewhere the ORM fallback
``stock_snapshot_rows`` (bulk operations). Column lists and the ledger's values come from the
models' ``_meta`` and from the ledger row the ORM writes; the conditions are the rules, written out."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone
from psycopg import sql

from inventory.choices import MovementKind
from inventory.errors import SNAPSHOT_MAX_LISTED, snapshot_below_reserved, snapshot_unknown_skus
from inventory.models import Product, StockLevel, StockMovement
from oms.actors import Actor


@dataclass(frozen=True)
class SnapshotApplied:
    """What a snapshot changed: stock rows, units on hand (signed), products whose count went up."""

    rows_changed: int
    units_delta: int
    raised_product_ids: list[int]


def _count_movement(
    *,
    location_id: int,
    actor: Actor,
    reason: str,
    reference: str,
    stock_level_id: int,
    product_id: int,
    expected: int,
    target: int,
) -> StockMovement:
    """The (unsaved) ledger row of a counted stock row: ``target - expected`` on hand."""
    return StockMovement(
        stock_level_id=stock_level_id,
        product_id=product_id,
        location_id=location_id,
        kind=MovementKind.COUNT,
        on_hand_delta=target - expected,
        on_hand_after=target,
        expected_on_hand=expected,
        reason=reason,
        reference=reference[:100],
        actor_type=actor.type,
        actor_name=actor.name[:200],
    )


_STAGE = "inventory_snapshot_stage"
_TARGET = "inventory_snapshot_target"
_DIFF = "inventory_snapshot_diff"

# The fields of a count's ledger row that differ row by row, from the locked diff ``d`` (the
# meaning of the statement, so written here); every other field is the ORM's value of
# ``_count_movement`` for the snapshot, as a parameter.
_COUNT_FROM_DIFF = {
    "stock_level_id": "d.id",
    "product_id": "d.product_id",
    "on_hand_delta": "d.target - d.expected",
    "on_hand_after": "d.target",
    "expected_on_hand": "d.expected",
}
# A stock row the snapshot adds: its product from the staged target ``t``, at the location; every
# other field as the ORM would write ``StockLevel(on_hand=0)`` (it is counted like the others next).
_NEW_STOCK_FROM_TARGET = {"product_id": "t.product_id", "location_id": "%(location)s"}


@dataclass(frozen=True)
class _InsertSelect:
    """The column list of an ``INSERT ... SELECT`` of a model (every concrete field but the pk) and
    the value of each: given SQL, the statement's ``%(now)s`` for a timestamp, or a parameter
    ``<prefix><attname>`` that ``values`` reads from a row the ORM would write."""

    columns: sql.Composed
    select: sql.Composed
    params: tuple[Field, ...]
    prefix: str

    @classmethod
    def of(cls, model: type[Model], given: Mapping[str, str], prefix: str) -> _InsertSelect:
        columns: list[sql.Composable] = []
        select: list[sql.Composable] = []
        params: list[Field] = []
        for f in model._meta.concrete_fields:
            if f.primary_key:
                continue
            columns.append(sql.Identifier(f.column))
            if f.attname in given:
                select.append(sql.SQL(given[f.attname]))
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                select.append(sql.Placeholder("now"))
            else:
                select.append(sql.Placeholder(prefix + f.attname))
                params.append(f)
        return cls(sql.SQL(", ").join(columns), sql.SQL(", ").join(select), tuple(params), prefix)

    def values(self, template: Model) -> dict[str, Any]:
        return {
            self.prefix + f.attname: f.get_db_prep_save(getattr(template, f.attname), connection)
            for f in self.params
        }


# the statements, in the order they run; {names} are composed in ``_snapshot_statements``
_TEMPLATES = {
    "create_stage": "CREATE TEMP TABLE {stage} (sku text NOT NULL, on_hand integer NOT NULL) ON COMMIT DROP",
    "copy": "COPY {stage} (sku, on_hand) FROM STDIN",
    # Resolve SKUs once; unknown ones keep a NULL product_id.
    "create_target": "CREATE TEMP TABLE {target} ON COMMIT DROP AS "
    "SELECT s.sku, s.on_hand, p.id AS product_id "
    "FROM {stage} s LEFT JOIN {product} p ON p.sku = s.sku",
    "unknown": "SELECT sku, count(*) OVER () FROM {target} WHERE product_id IS NULL "
    "ORDER BY sku LIMIT {listed}",
    "analyze": "ANALYZE {target}",
    # SKUs counted above zero that the location does not stock yet: insert their rows at 0, so
    # what follows is a plain diff of existing rows (new rows are ours until commit).
    "insert_missing": "INSERT INTO {stock} ({new_stock_columns}) "
    "SELECT {new_stock_select} FROM {target} t "
    "WHERE t.on_hand > 0 AND NOT EXISTS (SELECT 1 FROM {stock} sl "
    "WHERE sl.location_id = %(location)s AND sl.product_id = t.product_id) "
    "ORDER BY t.product_id ON CONFLICT (product_id, location_id) DO NOTHING",
    "create_diff": "CREATE TEMP TABLE {diff} (id bigint PRIMARY KEY, product_id bigint NOT NULL, "
    "expected integer NOT NULL, reserved integer NOT NULL, target integer NOT NULL, "
    "in_snapshot boolean NOT NULL) ON COMMIT DROP",
    # The rows that change, locked in pk order and read at lock time.
    "lock_diff": "INSERT INTO {diff} (id, product_id, expected, reserved, target, in_snapshot) "
    "SELECT sl.id, sl.product_id, sl.on_hand, sl.reserved, COALESCE(t.on_hand, 0), "
    "t.product_id IS NOT NULL "
    "FROM {stock} sl LEFT JOIN {target} t ON t.product_id = sl.product_id "
    "WHERE sl.location_id = %(location)s AND sl.on_hand <> COALESCE(t.on_hand, 0) "
    "ORDER BY sl.id FOR UPDATE OF sl",
    "below_reserved": "SELECT p.sku, d.target, d.reserved, d.in_snapshot, count(*) OVER () "
    "FROM {diff} d JOIN {product} p ON p.id = d.product_id "
    "WHERE d.target < d.reserved ORDER BY p.sku LIMIT {listed}",
    "update": "UPDATE {stock} sl SET on_hand = d.target, updated_at = %(now)s "
    "FROM {diff} d WHERE sl.id = d.id",
    "ledger": "INSERT INTO {movement} ({ledger_columns}) SELECT {ledger_select} FROM {diff} d ORDER BY d.id",
    "totals": "SELECT count(*), COALESCE(sum(target - expected), 0) FROM {diff}",
    "raised": "SELECT product_id FROM {diff} WHERE target > expected ORDER BY product_id",
    # ON COMMIT DROP cleans up anyway; dropping now lets one transaction apply several snapshots.
    "drop": "DROP TABLE {diff}, {target}, {stage}",
}


@dataclass(frozen=True)
class _SnapshotStatements:
    sql: dict[str, sql.Composed]
    new_stock: _InsertSelect
    ledger: _InsertSelect


@functools.cache
def _snapshot_statements() -> _SnapshotStatements:
    """The statements, with names composed as identifiers from the models (never user input)."""
    new_stock = _InsertSelect.of(StockLevel, _NEW_STOCK_FROM_TARGET, "stock_")
    ledger = _InsertSelect.of(StockMovement, _COUNT_FROM_DIFF, "ledger_")
    names = {
        "stage": sql.Identifier(_STAGE),
        "target": sql.Identifier(_TARGET),
        "diff": sql.Identifier(_DIFF),
        "product": sql.Identifier(Product._meta.db_table),
        "stock": sql.Identifier(StockLevel._meta.db_table),
        "movement": sql.Identifier(StockMovement._meta.db_table),
        "listed": sql.Literal(SNAPSHOT_MAX_LISTED),
        "new_stock_columns": new_stock.columns,
        "new_stock_select": new_stock.select,
        "ledger_columns": ledger.columns,
        "ledger_select": ledger.select,
    }
    return _SnapshotStatements(
        sql={key: sql.SQL(template).format(**names) for key, template in _TEMPLATES.items()},
        new_stock=new_stock,
        ledger=ledger,
    )


def stock_snapshot_statements(
    *, location_id: int, rows: Sequence[tuple[str, int]], actor: Actor, reason: str, reference: str
) -> SnapshotApplied:
    """Set every stock row of the location to its count (absent SKUs to 0) with one ledger row per
    changed row, in a fixed number of statements whatever the size (PostgreSQL: ``COPY`` into a
    temporary table, then set-based SQL; elsewhere use ``stock_snapshot_rows``). Raises
    UnknownSku or SnapshotBelowReserved before any count is written (the caller rolls back)."""
    q = _snapshot_statements()
    # the values every ledger row shares, as the ORM would write them (the row fields come from the diff)
    template = _count_movement(
        location_id=location_id,
        actor=actor,
        reason=reason,
        reference=reference,
        stock_level_id=0,
        product_id=0,
        expected=0,
        target=0,
    )
    params: dict[str, Any] = {
        "location": location_id,
        "now": timezone.now(),
        **q.new_stock.values(StockLevel(on_hand=0)),
        **q.ledger.values(template),
    }
    with connection.cursor() as cursor:
        _snapshot_stage(cursor, q.sql, rows)
        cursor.execute(q.sql["insert_missing"], params)
        cursor.execute(q.sql["create_diff"])
        cursor.execute(q.sql["lock_diff"], params)
        cursor.execute(q.sql["below_reserved"])
        below = cursor.fetchall()
        if below:
            raise snapshot_below_reserved(
                [
                    {"sku": sku, "on_hand": target, "reserved": reserved, "in_snapshot": in_snapshot}
                    for sku, target, reserved, in_snapshot, _ in below
                ],
                below[0][4],
            )
        cursor.execute(q.sql["update"], params)
        cursor.execute(q.sql["ledger"], params)
        cursor.execute(q.sql["totals"])
        rows_changed, units_delta = cursor.fetchone()
        cursor.execute(q.sql["raised"])
        raised = [product_id for (product_id,) in cursor.fetchall()]
        cursor.execute(q.sql["drop"])
    return SnapshotApplied(int(rows_changed), int(units_delta), raised)


def _snapshot_stage(cursor: Any, q: Mapping[str, sql.Composed], rows: Sequence[tuple[str, int]]) -> None:
    """Copy the counts into a temporary table and resolve their SKUs (UnknownSku for any not found)."""
    cursor.execute(q["create_stage"])
    with cursor.cursor.copy(q["copy"]) as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(q["create_target"])
    cursor.execute(q["unknown"])
    unknown = cursor.fetchall()
    if unknown:
        raise snapshot_unknown_skus([sku for sku, _ in unknown], unknown[0][1])
    cursor.execute(q["analyze"])  # temporary tables get no statistics otherwise


# The ORM fallback (SQLite and any other database): the same diff with bulk ORM operations.

_IN_CHUNK = 5_000  # SQLite limits the parameters of one statement


class _Change(NamedTuple):
    """A stock row whose count changes (``pk`` None: a row the snapshot adds)."""

    pk: int | None
    product_id: int
    expected: int
    reserved: int
    target: int


def stock_snapshot_rows(
    *, location_id: int, rows: Sequence[tuple[str, int]], actor: Actor, reason: str, reference: str
) -> SnapshotApplied:
    """The ORM fallback of ``stock_snapshot_statements``: the same checks, counts and ledger rows
    with bulk operations (the number of statements grows with the snapshot)."""
    targets = _snapshot_targets([sku for sku, _ in rows], rows)
    changes = _snapshot_changes(location_id, targets)
    _snapshot_check_reserved(changes, targets)
    _snapshot_write(location_id, changes, actor=actor, reason=reason, reference=reference)
    return SnapshotApplied(
        rows_changed=len(changes),
        units_delta=sum(c.target - c.expected for c in changes),
        raised_product_ids=sorted(c.product_id for c in changes if c.target > c.expected),
    )


def _snapshot_targets(skus: Sequence[str], rows: Sequence[tuple[str, int]]) -> dict[int, int]:
    """``{product_id: counted}``; UnknownSku for any SKU not found."""
    product_ids: dict[str, int] = {}
    for start in range(0, len(skus), _IN_CHUNK):
        chunk = skus[start : start + _IN_CHUNK]
        product_ids.update(Product.objects.filter(sku__in=chunk).values_list("sku", "pk"))
    unknown = sorted(set(skus) - product_ids.keys())
    if unknown:
        raise snapshot_unknown_skus(unknown, len(unknown))
    return {product_ids[sku]: on_hand for sku, on_hand in rows}


def _snapshot_changes(location_id: int, targets: Mapping[int, int]) -> list[_Change]:
    """The location's rows whose count differs (locked in pk order), then the rows to add."""
    existing = list(
        StockLevel.objects.select_for_update()
        .filter(location_id=location_id)
        .order_by("pk")
        .values_list("pk", "product_id", "on_hand", "reserved")
    )
    stocked = {product_id for _, product_id, _, _ in existing}
    changes = [
        _Change(pk, product_id, on_hand, reserved, targets.get(product_id, 0))
        for pk, product_id, on_hand, reserved in existing
        if on_hand != targets.get(product_id, 0)
    ]
    changes += [
        _Change(None, product_id, 0, 0, target)
        for product_id, target in targets.items()
        if target > 0 and product_id not in stocked
    ]
    return changes


def _snapshot_check_reserved(changes: Sequence[_Change], targets: Mapping[int, int]) -> None:
    """SnapshotBelowReserved, listing by SKU every change that would go below its reserved units."""
    below = [c for c in changes if c.target < c.reserved]
    if not below:
        return
    sku_of = dict(Product.objects.filter(pk__in=[c.product_id for c in below]).values_list("pk", "sku"))
    listed: list[dict[str, Any]] = sorted(
        (
            {
                "sku": sku_of[c.product_id],
                "on_hand": c.target,
                "reserved": c.reserved,
                "in_snapshot": c.product_id in targets,
            }
            for c in below
        ),
        key=lambda item: str(item["sku"]),
    )
    raise snapshot_below_reserved(listed, len(listed))


def _snapshot_write(
    location_id: int, changes: Sequence[_Change], *, actor: Actor, reason: str, reference: str
) -> None:
    """Insert the added rows, update the changed ones and write a count ledger row for each."""
    now = timezone.now()
    new_levels = StockLevel.objects.bulk_create(
        [
            StockLevel(product_id=c.product_id, location_id=location_id, on_hand=c.target)
            for c in changes
            if c.pk is None
        ]
    )
    level_ids = {level.product_id: level.pk for level in new_levels}
    StockLevel.objects.bulk_update(
        [StockLevel(pk=c.pk, on_hand=c.target, updated_at=now) for c in changes if c.pk is not None],
        ["on_hand", "updated_at"],
        batch_size=500,
    )
    counted = functools.partial(
        _count_movement, location_id=location_id, actor=actor, reason=reason, reference=reference
    )
    StockMovement.objects.bulk_create(
        [
            counted(
                stock_level_id=c.pk if c.pk is not None else level_ids[c.product_id],
                product_id=c.product_id,
                expected=c.expected,
                target=c.target,
            )
            for c in changes
        ],
        batch_size=1_000,
    )
