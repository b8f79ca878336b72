"""Receiving a return's units: ``return_receive`` (restock or damaged, at the receiving location)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from inventory.choices import MovementKind
from inventory.models import StockLevel
from inventory.services import stock_adjust
from oms.actors import Actor
from oms.errors import InvalidTransition
from orders.choices import OrderEventKind
from orders.models import Order
from returns.choices import Disposition, ReturnStatus
from returns.errors import ReceiveExceedsOutstanding, ReturnLineNotInReturn
from returns.models import RECEIVABLE_STATUSES, Receipt, Return, ReturnLine
from returns.services.common import (
    ReceiveLineInput,
    _check_choice,
    _check_each,
    _lock_for_staff,
    _return_event_record,
    _return_publish,
)

Units = dict[tuple[int, str], int]  # (return line id, disposition) -> units received


@transaction.atomic(durable=True)
def return_receive(*, return_id: int | str, lines: Sequence[ReceiveLineInput], actor: Actor) -> Return:
    """Receive units of a return, never more than it still expects; restocked units go on hand there.

    In part or whole, each with a disposition: ``restock`` puts them on hand at the RECEIVING
    location (a ``return_restock`` ledger row; waiting backorders there are retried), ``damaged``
    records them only. Associates receive only at their own locations (403)."""
    _check_receipt_lines(lines)
    order, rma = _lock_for_staff(return_id=return_id, actor=actor, doing="receive")
    _check_receivable(rma)
    return_lines = {
        line.pk: line for line in ReturnLine.objects.filter(rma=rma).select_related("order_line__product")
    }
    units = _check_outstanding(rma=rma, return_lines=return_lines, lines=lines)
    restock = _receipts_write(rma=rma, return_lines=return_lines, units=units, actor=actor)
    _restock(rma=rma, return_lines=return_lines, restock=restock, actor=actor)
    previous = rma.status
    _status_save(rma=rma, return_lines=return_lines)
    _announce_received(
        order=order, rma=rma, return_lines=return_lines, units=units, previous=previous, actor=actor
    )
    return rma


def _check_receipt_lines(lines: Sequence[ReceiveLineInput]) -> None:
    def check(item: ReceiveLineInput) -> None:
        _check_choice(item.disposition, Disposition.values, what="disposition", hint="restock or damaged")

    _check_each(
        lines,
        check,
        noun="A receipt",
        empty_message="Say which units were received ('lines').",
        empty_code="empty_receipt",
    )


def _check_receivable(rma: Return) -> None:
    if rma.status not in RECEIVABLE_STATUSES:
        raise InvalidTransition(
            entity="return",
            current=rma.status,
            target=ReturnStatus.RECEIVED,
            message=f"Return {rma.number} is {rma.status}: nothing more can be received.",
        )


def _check_outstanding(
    *, rma: Return, return_lines: dict[int, ReturnLine], lines: Sequence[ReceiveLineInput]
) -> Units:
    """The units received per line and disposition; refused: a line of another return (422), more
    units of a line than it still expects (409 ``receive_exceeds_outstanding``)."""
    foreign = sorted({li.return_line_id for li in lines if li.return_line_id not in return_lines})
    if foreign:
        raise ReturnLineNotInReturn(
            f"Line(s) {', '.join(map(str, foreign))} are not lines of return {rma.number}.",
            extra={"return_lines": foreign},
        )
    units: Units = defaultdict(int)
    per_line: dict[int, int] = defaultdict(int)
    for li in lines:
        units[(li.return_line_id, li.disposition)] += li.quantity
        per_line[li.return_line_id] += li.quantity
    over: list[dict[str, Any]] = [
        {
            "return_line": line_id,
            "sku": return_lines[line_id].order_line.sku,
            "received": quantity,
            "outstanding": return_lines[line_id].quantity_outstanding,
        }
        for line_id, quantity in sorted(per_line.items())
        if quantity > return_lines[line_id].quantity_outstanding
    ]
    if over:
        raise ReceiveExceedsOutstanding(
            f"Return {rma.number} expects fewer units of: {', '.join(o['sku'] for o in over)}.",
            extra={
                "lines": over,
                "outstanding": {str(k): v.quantity_outstanding for k, v in return_lines.items()},
            },
        )
    return units


def _receipts_write(
    *, rma: Return, return_lines: dict[int, ReturnLine], units: Units, actor: Actor
) -> dict[int, int]:
    """One receipt row per line and disposition, and the lines' counters; the units to restock per
    product id."""
    receipts = []
    restock: dict[int, int] = defaultdict(int)  # product id -> units
    for (line_id, disposition), quantity in sorted(units.items()):
        line = return_lines[line_id]
        receipts.append(
            Receipt(
                rma=rma,
                line=line,
                location=rma.location,
                quantity=quantity,
                disposition=disposition,
                received_by_type=actor.type,
                received_by=actor.name[:200],
            )
        )
        line.quantity_received += quantity
        if disposition == Disposition.RESTOCK:
            line.quantity_restocked += quantity
            restock[line.order_line.product_id] += quantity
        else:
            line.quantity_damaged += quantity
    Receipt.objects.bulk_create(receipts)
    touched = [return_lines[line_id] for line_id in sorted({line_id for line_id, _ in units})]
    ReturnLine.objects.bulk_update(touched, ["quantity_received", "quantity_restocked", "quantity_damaged"])
    return restock


def _restock(
    *, rma: Return, return_lines: dict[int, ReturnLine], restock: dict[int, int], actor: Actor
) -> None:
    """Restocked units on hand at the receiving location, stock rows in primary-key order (the
    inventory locking policy)."""
    location = rma.location
    products = {line.order_line.product_id: line.order_line.product for line in return_lines.values()}
    levels = {
        product_id: StockLevel.objects.get_or_create(product_id=product_id, location=location)[0].pk
        for product_id in restock
    }
    for product_id in sorted(restock, key=levels.__getitem__):
        stock_adjust(
            product=products[product_id],
            location=location,
            delta=restock[product_id],
            reason=f"return {rma.number} restocked",
            actor=actor,
            kind=MovementKind.RETURN_RESTOCK,
            reference=f"return:{rma.number}",
        )


def _status_save(*, rma: Return, return_lines: dict[int, ReturnLine]) -> None:
    """Received when no unit is outstanding, else partially received (a refunded return stays
    refunded); ``received_at`` stamped once nothing is outstanding."""
    done = all(line.quantity_outstanding == 0 for line in return_lines.values())
    fields = ["updated_at"]
    if rma.status != ReturnStatus.REFUNDED:
        target = ReturnStatus.RECEIVED if done else ReturnStatus.PARTIALLY_RECEIVED
        if target != rma.status:
            rma.require_transition(target)
            rma.status = target
            fields.append("status")
    if done and rma.received_at is None:
        rma.received_at = timezone.now()
        fields.append("received_at")
    rma.save(update_fields=fields)


def _announce_received(
    *,
    order: Order,
    rma: Return,
    return_lines: dict[int, ReturnLine],
    units: Units,
    previous: str,
    actor: Actor,
) -> None:
    """The order's ``return_received`` event and the ``return.received`` topic."""
    location = rma.location
    restocked = sum(q for (_, d), q in units.items() if d == Disposition.RESTOCK)
    damaged = sum(q for (_, d), q in units.items() if d == Disposition.DAMAGED)
    _return_event_record(
        rma,
        order,
        kind=OrderEventKind.RETURN_RECEIVED,
        actor=actor,
        message=f"Return {rma.number}: {restocked} unit(s) restocked, {damaged} damaged at {location.code}",
        data={
            "location": location.code,
            "from": previous,
            "status": rma.status,
            "lines": [
                {
                    "return_line": line_id,
                    "sku": return_lines[line_id].order_line.sku,
                    "quantity": quantity,
                    "disposition": disposition,
                }
                for (line_id, disposition), quantity in sorted(units.items())
            ],
        },
    )
    _return_publish(
        rma,
        "return.received",
        location=location.code,
        restocked=restocked,
        damaged=damaged,
        status=rma.status,
    )
