"""Ship-to-store for BOPIS in fulfilment (docs/transfers.md).

A pickup order placed with ``allow_transfer`` counts the units its store lacks as backordered and
has transfer orders on their way to the store. Routing gives it one fulfilment order at the store in
``awaiting_transfer`` (with the units the store held already, if any), which routing and the store's
queues leave alone. When a transfer of the order is received, the received units become the
order's reservations at the store in the receipt's transaction (``transfer.received``, an
in-transaction event) and, once no unit waits any more, the fulfilment order goes ``pending``: the
normal pickup flow (accept, ready for pickup, which e-mails the customer, picked up) follows.

Lock order: the receipt locks the transfer, then the order (``transfer.receiving``, before any
stock row), then the fulfilment order and stock rows, as everywhere else (order first, stock
last); nothing locks an order and then a transfer (cancelling the order leaves its transfers
alone: their units arrive as ordinary stock at the store)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import FulfillmentOrder, FulfillmentOrderLine
from inventory.capacity import location_load_change
from inventory.choices import TransferStatus
from inventory.models import StockLevel, TransferOrder
from inventory.services import StockLine, stock_reserve
from inventory.transfers.models import ON_THE_ROAD
from oms.batch import WriteBatch
from oms.events import publish
from orders.choices import FulfillmentMethod, OrderEventKind, OrderStatus, ReservationStatus
from orders.events import order_event_build
from orders.models import Order, OrderLine, Reservation

from .common import ROUTER
from .status import order_status_sync

AWAITING = FulfillmentStatus.AWAITING_TRANSFER
_OPEN_TRANSFERS = frozenset({TransferStatus.DRAFT, *ON_THE_ROAD})


def waits_for_transfer(*, order: Order, lines: Iterable[OrderLine]) -> bool:
    """A pickup with units waiting whose own transfers are not all received (a query only for a
    pickup with backordered units: never on the usual routing)."""
    if order.method != FulfillmentMethod.PICKUP or not any(line.quantity_backordered for line in lines):
        return False
    return TransferOrder.objects.filter(order_id=order.pk, status__in=_OPEN_TRANSFERS).exists()


def route_awaiting_transfer(
    *, order: Order, lines: dict[int, OrderLine], fulfillment_orders: list[FulfillmentOrder]
) -> tuple[list[int], str]:
    """Routing of an order that waits for its transfers: the store's ``awaiting_transfer``
    fulfilment order (made once) takes the units held at the store; (new ids, order status)."""
    waiting = next((fo for fo in fulfillment_orders if fo.status == AWAITING), None)
    created: list[int] = []
    batch = WriteBatch.for_connection()
    if waiting is None:
        assert order.pickup_location_id is not None  # noqa: S101 (a pickup has its store)
        waiting = FulfillmentOrder.objects.create(
            order=order,
            location_id=order.pickup_location_id,
            number=f"{order.number}-{len(fulfillment_orders) + 1}",
            method=FulfillmentMethod.PICKUP,
            status=AWAITING,
            day=timezone.localdate(),
        )
        location_load_change(location_id=waiting.location_id, day=waiting.day, delta=1)
        fulfillment_orders.append(waiting)
        created.append(waiting.pk)
        message = f"Waiting at the pickup store for a transfer ({waiting.number})."
        _record(batch, order, OrderEventKind.ROUTED, message, {"location_id": waiting.location_id}, waiting)
    unrouted = Reservation.objects.filter(
        order=order, status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True
    ).order_by("pk")
    FulfillmentOrderLine.objects.bulk_create(
        FulfillmentOrderLine(
            fulfillment_order=waiting, order_line_id=r.line_id, reservation=r, quantity=r.quantity
        )
        for r in unrouted
    )
    status = order_status_sync(
        order=order,
        actor=ROUTER,
        batch=batch,
        lines=list(lines.values()),
        has_unrouted=False,
        fulfillment_orders=fulfillment_orders,
    )
    batch.write()
    return created, status


def _record(
    batch: WriteBatch, order: Order, kind: str, message: str, data: dict[str, Any], fo: FulfillmentOrder
) -> None:
    """The order's timeline row of a ship-to-store step of ``fo``, in ``batch``."""
    data = {**data, "fulfillment_order": fo.pk}
    batch.add(order_event_build(order=order, kind=kind, actor=ROUTER, message=message, data=data))


def order_lock_for_transfer(topic: str, payload: dict[str, Any]) -> None:
    """``transfer.receiving``: lock the order a transfer serves before the receipt touches stock."""
    if payload.get("order_id"):
        Order.objects.select_for_update(of=("self",)).filter(pk=payload["order_id"]).first()


def pickup_fill_from_transfer(topic: str, payload: dict[str, Any]) -> None:
    """``transfer.received`` (in the receipt's transaction): the units that arrived for a waiting
    pickup become its reservations at the store; with nothing left waiting, the fulfilment order
    goes ``pending`` (sent to the store). Units beyond what the order waits for stay on sale."""
    order = Order.objects.select_for_update(of=("self",)).filter(pk=payload.get("order_id") or 0).first()
    if order is None or order.status == OrderStatus.CANCELLED:
        return
    fo = (
        FulfillmentOrder.objects.select_for_update(of=("self",))
        .filter(order=order, status=AWAITING, location_id=payload["location_id"])
        .first()
    )
    if fo is None:
        return
    lines = list(OrderLine.objects.filter(order=order).order_by("line_number"))
    takes = _takes(lines, {int(pid): n for pid, n in payload["units"].items()})
    batch = WriteBatch.for_connection()
    if takes:
        _hold_at_store(order=order, fo=fo, takes=takes)
        message = f"{sum(n for _, n in takes)} unit(s) arrived at the pickup store by transfer."
        _record(
            batch,
            order,
            OrderEventKind.BACKORDER_FILLED,
            message,
            {"transfer_id": payload["transfer_id"]},
            fo,
        )
    if not any(line.quantity_backordered for line in lines):
        fo.require_transition(FulfillmentStatus.PENDING)
        fo.status = FulfillmentStatus.PENDING
        fo.save(update_fields=["status", "updated_at"])
        publish(topic="fulfillment.created", payload={"fulfillment_order_id": fo.pk, "order_id": order.pk})
    order_status_sync(order=order, actor=ROUTER, batch=batch, lines=lines, has_unrouted=False)
    batch.write()


def _takes(lines: list[OrderLine], units: dict[int, int]) -> list[tuple[OrderLine, int]]:
    """How many of the arrived ``units`` (per product) each waiting line takes, first line first."""
    takes = []
    for line in lines:
        n = min(units.get(line.product_id, 0), line.quantity_backordered)
        if n > 0:
            takes.append((line, n))
            units[line.product_id] -= n
    return takes


def _hold_at_store(*, order: Order, fo: FulfillmentOrder, takes: list[tuple[OrderLine, int]]) -> None:
    """Reserve the lines' units at the store (safety stock aside: they came for this order), as
    reservations routed into ``fo``; the lines wait for that many fewer."""
    levels = {
        level.product_id: level
        for level in StockLevel.objects.filter(
            location_id=fo.location_id, product_id__in=[line.product_id for line, _ in takes]
        )
    }
    stock_reserve(
        lines=[
            StockLine(
                stock_level_id=levels[line.product_id].pk,
                product_id=line.product_id,
                location_id=fo.location_id,
                quantity=n,
            )
            for line, n in takes
        ],
        actor=ROUTER,
        reference=f"order:{order.number}",
        reason="transfer received for a pickup",
        respect_safety_stock=False,
    )
    reservations = Reservation.objects.bulk_create(
        Reservation(
            order=order,
            line=line,
            stock_level=levels[line.product_id],
            product_id=line.product_id,
            location_id=fo.location_id,
            quantity=n,
        )
        for line, n in takes
    )
    FulfillmentOrderLine.objects.bulk_create(
        FulfillmentOrderLine(fulfillment_order=fo, order_line=r.line, reservation=r, quantity=r.quantity)
        for r in reservations
    )
    for line, n in takes:
        OrderLine.objects.filter(pk=line.pk).update(quantity_backordered=F("quantity_backordered") - n)
        line.quantity_backordered -= n
