"""The orders' one-statement writes on PostgreSQL, each with its ORM fallback beside it (other
databases: SQLite for the demo). The SQL comes from ``oms.sql`` (Django's own compiler: its
columns, values and ``auto_now`` stamps), so no column list is typed here; only the round trips
are saved. Placement's statement count (tests/orders/test_place.py, the bench) rests on these."""

from __future__ import annotations

from typing import Any

from django.db import connection

from inventory.services import StockHold, StockLine, stock_reserve, stock_reserve_statement
from oms.actors import Actor
from oms.sql import insert_sql, mark_saved, with_writes

from .models import Order, OrderLine, Reservation


def order_and_lines_insert(order: Order, lines: list[OrderLine]) -> list[OrderLine]:
    """Write a new order and its lines, which get their ids: on PostgreSQL in one statement (the
    order's INSERT as a data-modifying CTE before the lines'), with the ORM elsewhere."""
    if connection.vendor != "postgresql":
        order.save(force_insert=True)
        return OrderLine.objects.bulk_create(lines)
    with connection.cursor() as cursor:
        cursor.execute(
            *with_writes([insert_sql(Order, [order])], insert_sql(OrderLine, lines, returning=("id",)))
        )
        ids = [row[0] for row in cursor.fetchall()]
    for line, pk in zip(lines, ids, strict=True):
        line.pk = pk
    mark_saved([order, *lines])
    return lines


def reservations_reserve_and_insert(
    *,
    lines: list[StockLine],
    reservations: list[Reservation],
    actor: Actor,
    reference: str,
    reason: str = "order placed",
) -> None:
    """Hold the units of ``lines`` (a plan's) and write the reservation rows, or raise
    InsufficientStock (a lost race: the caller rolls back the reservations with the rest).

    On PostgreSQL one statement does both: the inventory's reserving CTEs (stock rows in pk order,
    and ledger), then the reservations' INSERT, whose RETURNING also tells which stock rows were
    reserved. Elsewhere ``stock_reserve`` and a bulk INSERT."""
    statement = stock_reserve_statement(StockHold(lines, actor, reference=reference, reason=reason))
    if statement is None:
        stock_reserve(lines=lines, actor=actor, reference=reference, reason=reason)
        Reservation.objects.bulk_create(reservations)
        return
    insert, insert_params = insert_sql(Reservation, reservations, returning=("id",))
    if " RETURNING " not in insert:  # pragma: no cover - Django's INSERT changed shape
        raise RuntimeError("expected Django's INSERT to end with its RETURNING list")
    # the statement's last column: the stock rows the CTEs reserved (the same on every row)
    sql = f"{statement.ctes} {insert}, (SELECT array_agg(stock_level_id) FROM reserved)"  # noqa: S608 - Django's SQL
    params: list[Any] = [*statement.params, *insert_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    statement.check(rows[0][1] or [])
    for reservation, (pk, _reserved) in zip(reservations, rows, strict=True):
        reservation.pk = pk
    mark_saved(reservations)
