"""Receiving a return's units: ``return_receive`` (restock or damaged, at the receiving location)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from inventory.choices import MovementKind
from inventory.models import StockLevel
from inventory.services import check_quantity, stock_adjust
from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput, InvalidTransition
from orders.choices import OrderEventKind
from orders.events import order_event_record
from returns.choices import Disposition, ReturnStatus
from returns.errors import (
    ReceiveExceedsOutstanding,
    ReturnLineNotInReturn,
)
from returns.models import RECEIVABLE_STATUSES, Receipt, Return, ReturnLine
from returns.selectors import (
    return_get_for_actor,
)
from returns.services.common import MAX_LINES, ReceiveLineInput, _lock, _require_staff_at


@transaction.atomic(durable=True)
def return_receive(*, return_id: int | str, lines: Sequence[ReceiveLineInput], actor: Actor) -> Return:
    """Receive units of a return at its location, in part or whole, each with a disposition:
    ``restock`` puts them on hand at the RECEIVING location (a ``return_restock`` ledger row; waiting
    backorders there are retried), ``damaged`` records them only. Associates receive only at their
    own locations (403)."""
    if not lines:
        raise InvalidInput("Say which units were received ('lines').", code="empty_receipt")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"A receipt has at most {MAX_LINES} lines.", code="too_many_lines")
    for index, item in enumerate(lines):
        check_quantity(item.quantity, field=f"lines[{index}].quantity")
        if item.disposition not in Disposition.values:
            raise InvalidInput(
                f"Unknown disposition '{item.disposition}'; use restock or damaged.",
                code="unknown_disposition",
                extra={"allowed": list(Disposition.values)},
            )
    visible = return_get_for_actor(return_id=return_id, actor=actor)
    _require_staff_at(actor, visible, doing="receive")
    order, rma = _lock(order_id=visible.order_id, return_id=visible.pk)
    assert rma is not None  # noqa: S101 (narrowing for mypy)
    if rma.status not in RECEIVABLE_STATUSES:
        raise InvalidTransition(
            entity="return",
            current=rma.status,
            target=ReturnStatus.RECEIVED,
            message=f"Return {rma.number} is {rma.status}: nothing more can be received.",
        )
    return_lines = {
        line.pk: line for line in ReturnLine.objects.filter(rma=rma).select_related("order_line__product")
    }
    foreign = sorted({li.return_line_id for li in lines if li.return_line_id not in return_lines})
    if foreign:
        raise ReturnLineNotInReturn(
            f"Line(s) {', '.join(map(str, foreign))} are not lines of return {rma.number}.",
            extra={"return_lines": foreign},
        )
    merged: dict[tuple[int, str], int] = defaultdict(int)
    per_line: dict[int, int] = defaultdict(int)
    for li in lines:
        merged[(li.return_line_id, li.disposition)] += li.quantity
        per_line[li.return_line_id] += li.quantity
    over = [
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
            f"Return {rma.number} expects fewer units of: {', '.join(o['sku'] for o in over)}.",  # type: ignore[misc]
            extra={
                "lines": over,
                "outstanding": {str(k): v.quantity_outstanding for k, v in return_lines.items()},
            },
        )

    location = rma.location
    receipts = []
    restock: dict[int, int] = defaultdict(int)  # product id -> units
    for (line_id, disposition), quantity in sorted(merged.items()):
        line = return_lines[line_id]
        receipts.append(
            Receipt(
                rma=rma,
                line=line,
                location=location,
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
    touched = [return_lines[line_id] for line_id in sorted(per_line)]
    ReturnLine.objects.bulk_update(touched, ["quantity_received", "quantity_restocked", "quantity_damaged"])
    # Stock rows in primary-key order (the inventory locking policy).
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

    previous = rma.status
    fields = ["updated_at"]
    if rma.status != ReturnStatus.REFUNDED:
        done = all(line.quantity_outstanding == 0 for line in return_lines.values())
        target = ReturnStatus.RECEIVED if done else ReturnStatus.PARTIALLY_RECEIVED
        if target != rma.status:
            rma.require_transition(target)
            rma.status = target
            fields.append("status")
    if all(line.quantity_outstanding == 0 for line in return_lines.values()) and rma.received_at is None:
        rma.received_at = timezone.now()
        fields.append("received_at")
    rma.save(update_fields=fields)
    restocked = sum(q for (_, d), q in merged.items() if d == Disposition.RESTOCK)
    damaged = sum(q for (_, d), q in merged.items() if d == Disposition.DAMAGED)
    order_event_record(
        order=order,
        kind=OrderEventKind.RETURN_RECEIVED,
        actor=actor,
        message=f"Return {rma.number}: {restocked} unit(s) restocked, {damaged} damaged at {location.code}",
        data={
            "return": rma.pk,
            "number": rma.number,
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
                for (line_id, disposition), quantity in sorted(merged.items())
            ],
        },
    )
    events.publish(
        topic="return.received",
        payload={
            "return_id": rma.pk,
            "number": rma.number,
            "order_id": order.pk,
            "location": location.code,
            "restocked": restocked,
            "damaged": damaged,
            "status": rma.status,
        },
    )
    return rma
