"""Reserving stock rows: the reservation's PostgreSQL statement (``stock_reserve_statement``, CTEs a
caller ends with its own final statement) and its ORM fallback (``stock_reserve_rows``), the
release's statement (``stock_release_statement``), with the ``StockLine`` these writes take, merged
into the locking order, and the ledger rows of a change."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F, Field
from django.db.models.functions import Now

from inventory.choices import MovementKind
from inventory.errors import InsufficientStock
from inventory.models import StockLevel, StockMovement
from oms.actors import Actor
from oms.errors import InvalidInput

from .fields import db_type, model_field


@dataclass(frozen=True)
class StockLine:
    """A quantity of one StockLevel row (what to reserve, release or consume)."""

    stock_level_id: int
    product_id: int
    location_id: int
    quantity: int


def merge_lines(lines: Iterable[StockLine]) -> list[StockLine]:
    """Sum quantities per stock row and sort by pk (the locking order)."""
    totals: dict[int, int] = defaultdict(int)
    first: dict[int, StockLine] = {}
    for line in lines:
        if line.quantity <= 0:
            raise InvalidInput("Quantities must be positive.", code="invalid_quantity")
        totals[line.stock_level_id] += line.quantity
        first.setdefault(line.stock_level_id, line)
    return [
        StockLine(
            stock_level_id=pk,
            product_id=first[pk].product_id,
            location_id=first[pk].location_id,
            quantity=totals[pk],
        )
        for pk in sorted(totals)
    ]


def ledger_rows(
    lines: Sequence[StockLine],
    *,
    kind: str,
    on_hand_sign: int,
    reserved_sign: int,
    actor: Actor,
    reason: str,
    reference: str,
) -> list[StockMovement]:
    """The (unsaved) ledger row of each line: ``sign x quantity`` on each counter."""
    return [
        StockMovement(
            stock_level_id=line.stock_level_id,
            product_id=line.product_id,
            location_id=line.location_id,
            kind=kind,
            on_hand_delta=on_hand_sign * line.quantity,
            reserved_delta=reserved_sign * line.quantity,
            reason=reason[:300],
            reference=reference[:100],
            actor_type=actor.type,
            actor_name=actor.name[:200],
        )
        for line in lines
    ]


# --- Reserving stock rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class StockHold:
    """A reservation to write, as both of its writes take it: the units (``lines``, merged per stock
    row into the locking order once, on first use) and the ledger's who, what for and why; with
    ``respect_safety_stock`` a row's safety stock stays out of reach."""

    lines: Sequence[StockLine]
    actor: Actor
    reference: str
    reason: str = ""
    respect_safety_stock: bool = True

    @functools.cached_property
    def merged(self) -> list[StockLine]:
        return merge_lines(self.lines)


@dataclass(frozen=True)
class ReserveStatement:
    """The reserving CTEs of ``stock_reserve`` on PostgreSQL, for a caller to end with its own final
    statement in the same round trip (order placement inserts its reservations). The CTE named
    ``reserved`` yields the ``stock_level_id`` of each row that was reserved; ``check`` then raises
    InsufficientStock for the rows that lacked the units (the caller's transaction rolls back)."""

    ctes: str
    params: list[Any]
    lines: list[StockLine]  # merged, in pk order

    def check(self, reserved_ids: Iterable[int]) -> None:
        """Raise InsufficientStock naming every line whose row is not among ``reserved_ids``."""
        done = set(reserved_ids)
        failed = [line.stock_level_id for line in self.lines if line.stock_level_id not in done]
        if failed:
            raise InsufficientStock(extra={"stock_levels": failed})


@dataclass(frozen=True)
class _ReserveShape:
    """The parts of the reserving statement that depend only on the models (built once)."""

    stock: str  # quoted table names
    ledger: str
    id_cast: str  # the SQL types of the VALUES list: the stock row's pk and a counter
    quantity_cast: str
    pk: str  # quoted columns of StockLevel
    on_hand: str
    reserved: str
    safety_stock: str
    product: str
    location: str
    ledger_stock_level: str  # quoted column of StockMovement
    stamps: str  # ", updated_at = now()": every auto_now field of StockLevel
    ledger_columns: str  # every concrete field of StockMovement but its pk
    ledger_select: str  # the value of each, from ``upd``, ``now()`` or a parameter
    ledger_params: tuple[Field, ...]  # the fields whose value is a parameter, in order


# A ledger row's fields that differ row by row, and the column of ``upd`` (the reserved stock
# rows) that gives each; every other field has one value for the statement. The mapping is the
# meaning of the statement (a reservation's ledger row is its stock row and ``+q`` reserved), so
# it is written here, not derived.
_LEDGER_FROM_UPDATE = {
    "stock_level_id": "id",
    "product_id": "product_id",
    "location_id": "location_id",
    "reserved_delta": "q",
}


@functools.cache
def _reserve_shape() -> _ReserveShape:
    """Names, casts and the ledger's column list, read from the models once per process."""
    quote = connection.ops.quote_name
    stock_meta, ledger_meta = StockLevel._meta, StockMovement._meta

    def column(name: str) -> str:
        return quote(model_field(StockLevel, name).column)

    # Timestamps are the database's now(), the transaction's time (the UPDATE stamps
    # updated_at with it too), where the ORM would stamp the Python clock's.
    stamps = "".join(
        f", {quote(f.column)} = now()" for f in stock_meta.concrete_fields if getattr(f, "auto_now", False)
    )
    columns: list[str] = []
    select: list[str] = []
    params: list[Field] = []
    for f in ledger_meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(quote(f.column))
        if f.attname in _LEDGER_FROM_UPDATE:
            select.append(_LEDGER_FROM_UPDATE[f.attname])
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            select.append("now()")
        else:
            select.append("%s")
            params.append(f)
    return _ReserveShape(
        stock=quote(stock_meta.db_table),
        ledger=quote(ledger_meta.db_table),
        id_cast=db_type(model_field(StockLevel, stock_meta.pk.name)),
        quantity_cast=db_type(model_field(StockLevel, "reserved")),
        pk=quote(stock_meta.pk.column),
        on_hand=column("on_hand"),
        reserved=column("reserved"),
        safety_stock=column("safety_stock"),
        product=column("product"),
        location=column("location"),
        ledger_stock_level=quote(model_field(StockMovement, "stock_level").column),
        stamps=stamps,
        ledger_columns=", ".join(columns),
        ledger_select=", ".join(select),
        ledger_params=tuple(params),
    )


def stock_reserve_statement(hold: StockHold) -> ReserveStatement | None:
    """The conditional UPDATE of every row and the INSERT of their ledger rows as CTEs (PostgreSQL;
    None elsewhere: use ``stock_reserve_rows``).

    Several rows are first locked in pk order (the locking policy: two orders needing the same rows
    never wait on each other crosswise) by a ``FOR UPDATE`` CTE that the UPDATE reads in a one-time
    filter, i.e. before it touches any row. The UPDATE's WHERE is re-checked on the newest version
    of a row another transaction changed meanwhile (READ COMMITTED), so units are never oversold;
    a row lacking the units is simply not in ``reserved``."""
    merged = hold.merged
    if connection.vendor != "postgresql" or not merged:
        return None
    shape = _reserve_shape()
    want, gate, params = _wanted(shape, merged)
    # the reservation rule, as the ORM fallback's filter: on_hand >= reserved + q (+ safety stock)
    safety = f" + s.{shape.safety_stock}" if hold.respect_safety_stock else ""
    ctes = (
        f"{want}, "  # noqa: S608 (the model's names)
        f"upd AS (UPDATE {shape.stock} s SET {shape.reserved} = s.{shape.reserved} + want.q{shape.stamps} "
        f"FROM want WHERE s.{shape.pk} = want.id AND s.{shape.on_hand} >= s.{shape.reserved} + want.q"
        f"{safety}{gate} "
        f"RETURNING s.{shape.pk} AS id, s.{shape.product} AS product_id, s.{shape.location} AS location_id, "
        "want.q), "
        f"reserved AS (INSERT INTO {shape.ledger} ({shape.ledger_columns}) "
        f"SELECT {shape.ledger_select} FROM upd RETURNING {shape.ledger_stock_level} AS stock_level_id)"
    )
    params += _ledger_values(shape, _reservation_rows(merged[:1], hold)[0])
    return ReserveStatement(ctes=ctes, params=params, lines=merged)


def _ledger_values(shape: _ReserveShape, template: StockMovement) -> list[Any]:
    """The values every ledger row of a statement shares, as the ORM would write them: read from
    ``template``, one of the ledger rows the ORM fallback builds."""
    return [f.get_db_prep_save(getattr(template, f.attname), connection) for f in shape.ledger_params]


def _wanted(shape: _ReserveShape, merged: Sequence[StockLine]) -> tuple[str, str, list[Any]]:
    """The rows and units wanted as the ``want`` CTE and, for several rows, the CTE that locks them
    in pk order first; the UPDATE's filter that reads it (so no row is touched before all are
    locked: nothing for one row); their parameters."""
    values = ", ".join([f"(%s::{shape.id_cast}, %s::{shape.quantity_cast})"] * len(merged))
    params: list[Any] = [value for line in merged for value in (line.stock_level_id, line.quantity)]
    want = f"WITH want(id, q) AS (VALUES {values})"
    if len(merged) <= 1:
        return want, "", params
    marks = ", ".join(["%s"] * len(merged))
    lock = (
        f", locked AS MATERIALIZED (SELECT {shape.pk} FROM {shape.stock} "  # noqa: S608 (the model's names)
        f"WHERE {shape.pk} IN ({marks}) ORDER BY {shape.pk} FOR UPDATE)"
    )
    params += [line.stock_level_id for line in merged]
    return want + lock, " AND (SELECT count(*) FROM locked) >= 0", params


def stock_release_statement(
    *, lines: Iterable[StockLine], actor: Actor, reference: str, reason: str = ""
) -> tuple[str, list[Any], list[StockLine]] | None:
    """Give held units back to sale in one statement (PostgreSQL; None elsewhere): ``reserved -= q``
    on every row that holds them (locked in pk order first, as a reservation does) and their
    ``release`` ledger rows. The statement answers the ``stock_level_id`` of each row released;
    the caller refuses the change if one is missing (``StockWouldGoNegative``). Answers the SQL,
    its parameters and the merged lines."""
    merged = merge_lines(lines)
    if connection.vendor != "postgresql" or not merged:
        return None
    shape = _reserve_shape()
    want, gate, params = _wanted(shape, merged)
    sql = (
        f"{want}, "  # noqa: S608 (the model's names)
        f"upd AS (UPDATE {shape.stock} s SET {shape.reserved} = s.{shape.reserved} - want.q{shape.stamps} "
        f"FROM want WHERE s.{shape.pk} = want.id AND s.{shape.reserved} >= want.q{gate} "
        f"RETURNING s.{shape.pk} AS id, s.{shape.product} AS product_id, s.{shape.location} AS location_id, "
        "-want.q AS q), "
        f"released AS (INSERT INTO {shape.ledger} ({shape.ledger_columns}) "
        f"SELECT {shape.ledger_select} FROM upd RETURNING {shape.ledger_stock_level} AS stock_level_id) "
        "SELECT stock_level_id FROM released"
    )
    (template,) = ledger_rows(
        merged[:1],
        kind=MovementKind.RELEASE,
        on_hand_sign=0,
        reserved_sign=-1,
        actor=actor,
        reason=reason,
        reference=reference,
    )
    params += _ledger_values(shape, template)
    return sql, params, merged


def stock_reserve_write(hold: StockHold) -> None:
    """Write the reservation: ``stock_reserve_statement`` in one round trip on PostgreSQL,
    ``stock_reserve_rows`` elsewhere; InsufficientStock for the rows that lacked the units."""
    statement = stock_reserve_statement(hold)
    if statement is None:
        stock_reserve_rows(hold)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"{statement.ctes} SELECT stock_level_id FROM reserved", statement.params)  # noqa: S608
        statement.check(row[0] for row in cursor.fetchall())


def stock_reserve_rows(hold: StockHold) -> None:
    """The ORM fallback of ``stock_reserve_statement``: one conditional UPDATE per row (in pk order),
    then the ledger rows in one INSERT; InsufficientStock names every row that lacked the units."""
    failed: list[int] = []
    for line in hold.merged:
        floor = F("reserved") + line.quantity + (F("safety_stock") if hold.respect_safety_stock else 0)
        updated = StockLevel.objects.filter(pk=line.stock_level_id, on_hand__gte=floor).update(
            reserved=F("reserved") + line.quantity, updated_at=Now()
        )
        if updated == 0:
            failed.append(line.stock_level_id)
    if failed:
        raise InsufficientStock(extra={"stock_levels": failed})
    StockMovement.objects.bulk_create(_reservation_rows(hold.merged, hold))


def _reservation_rows(lines: Sequence[StockLine], hold: StockHold) -> list[StockMovement]:
    """The ledger rows of a reservation: ``+q`` reserved, on hand unchanged."""
    return ledger_rows(
        lines,
        kind=MovementKind.RESERVATION,
        on_hand_sign=0,
        reserved_sign=1,
        actor=hold.actor,
        reason=hold.reason,
        reference=hold.reference,
    )
