"""Reserve, release and consume stock: every counter change one conditional UPDATE (or a pk-ordered
lock) backed by the CHECK constraints on StockLevel, with its StockMovement ledger row(s) in the same
transaction. They compose into a caller's transaction (order placement, routing, shipping): they
raise on failure and the caller's transaction rolls back.

Locking policy: stock rows are touched in primary-key order within a transaction, so two
transactions that need the same rows never wait on each other in opposite orders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F
from django.db.models.functions import Now

from inventory.choices import MovementKind
from inventory.errors import StockWouldGoNegative
from inventory.models import StockLevel, StockMovement
from inventory.writes import StockHold, StockLine, ledger_rows, merge_lines, stock_reserve_write
from inventory.writes.stock import stock_release_statement
from oms.actors import Actor


def stock_reserve(
    *,
    lines: Iterable[StockLine],
    actor: Actor,
    reference: str,
    reason: str = "",
    respect_safety_stock: bool = True,
) -> None:
    """Hold units: ``reserved += q`` only where ``on_hand - reserved - safety_stock >= q``.

    All or nothing: if any row lacks the units, raises InsufficientStock (with the failing
    stock_level ids in ``extra``) and the caller's transaction rolls back. On PostgreSQL every row
    and its ledger row are written by one statement (``stock_reserve_statement``)."""
    hold = StockHold(
        list(lines), actor, reference=reference, reason=reason, respect_safety_stock=respect_safety_stock
    )
    stock_reserve_write(hold)


@dataclass(frozen=True)
class _Taking:
    """How reserved units go: back to sale, or out of the building too (``leave``: ``on_hand -= q``),
    with the ledger's kind and the refusal of a row that lacks them."""

    leave: bool
    kind: str
    refusal: str
    code: str


_RELEASE = _Taking(
    False, MovementKind.RELEASE, "Cannot release more units than are reserved.", "release_exceeds_reserved"
)


def stock_release(*, lines: Iterable[StockLine], actor: Actor, reference: str, reason: str = "") -> None:
    """Give held units back to sale: ``reserved -= q`` (never below zero). On PostgreSQL every row
    and its ledger row are written by one statement (``stock_release_statement``)."""
    lines = list(lines)
    statement = stock_release_statement(lines=lines, actor=actor, reference=reference, reason=reason)
    if statement is None:
        _take_reserved(lines, _RELEASE, actor=actor, reason=reason, reference=reference)
        return
    sql, params, merged = statement
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        done = {row[0] for row in cursor.fetchall()}
    for line in merged:
        if line.stock_level_id not in done:
            raise StockWouldGoNegative(
                _RELEASE.refusal,
                code=_RELEASE.code,
                extra={"stock_level": line.stock_level_id, "quantity": line.quantity},
            )


def stock_consume(
    *,
    lines: Iterable[StockLine],
    actor: Actor,
    reference: str,
    reason: str = "",
    kind: str = MovementKind.SHIPMENT,
) -> None:
    """Units leave the building (shipped or handed over): on_hand and reserved both drop by q."""
    taking = _Taking(True, kind, "Cannot consume units that are not reserved.", "consume_exceeds_reserved")
    _take_reserved(lines, taking, actor=actor, reason=reason, reference=reference)


def _take_reserved(
    lines: Iterable[StockLine], taking: _Taking, *, actor: Actor, reason: str, reference: str
) -> None:
    """``reserved -= q`` on each row (and ``on_hand`` when the units leave): one conditional UPDATE
    per row in pk order, then the ledger rows in one INSERT. A row without the units refuses the
    whole change (StockWouldGoNegative)."""
    merged = merge_lines(lines)
    for line in merged:
        q = line.quantity
        where: dict[str, Any] = {"pk": line.stock_level_id, "reserved__gte": q}
        change: dict[str, Any] = {}
        if taking.leave:
            where["on_hand__gte"] = q
            change["on_hand"] = F("on_hand") - q
        change.update(reserved=F("reserved") - q, updated_at=Now())
        if StockLevel.objects.filter(**where).update(**change) == 0:
            raise StockWouldGoNegative(
                taking.refusal, code=taking.code, extra={"stock_level": line.stock_level_id, "quantity": q}
            )
    StockMovement.objects.bulk_create(
        ledger_rows(
            merged,
            kind=taking.kind,
            on_hand_sign=-1 if taking.leave else 0,
            reserved_sign=-1,
            actor=actor,
            reason=reason,
            reference=reference,
        )
    )
