"""Routing: ``route_order`` turns an order's unrouted reservations (and backordered units, when
stock is there) into fulfilment orders, one per location, after moving reservations if the
sourcing engine now prefers other locations (``holds``); ``route_orders`` routes a batch of orders,
on PostgreSQL the usual ones in one transaction."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import (
    FulfillmentOrder,
    FulfillmentOrderLine,
    RoutingExclusion,
)
from inventory.capacity import location_loads_add_sql
from inventory.sourcing import (
    candidates_from_rows,
    load_candidate_rows,
)
from oms.batch import WriteBatch
from oms.sql import Prepared
from orders.choices import OrderEventKind, ReservationStatus
from orders.events import order_event_build
from orders.models import Order, OrderLine, Reservation

from .common import NOT_ROUTED, ROUTER, RouteNote
from .replan import _fill_backorders, _improve, _replan
from .ship_to_store import route_awaiting_transfer, waits_for_transfer
from .status import order_status_sync


@dataclass
class RoutingResult:
    """What one routing did to an order: its status after, or why it was skipped, and the units."""

    order_id: int
    status: str
    skipped: str = ""  # why nothing was done (on hold, cancelled ...)
    created: list[int] = field(default_factory=list)  # new fulfilment order ids
    moved_units: int = 0
    filled_units: int = 0


@dataclass(frozen=True)
class _Routing:
    """One order's routing as its steps share it: the order (locked), its lines and its fulfilment
    orders as in the database (new ones are added to the list as they are made), why its units go
    where they go, and the batch that writes it all."""

    order: Order
    lines: dict[int, OrderLine]
    fulfillment_orders: list[FulfillmentOrder]
    note: RouteNote
    batch: WriteBatch


# The reads of every routing, compiled once per process (``oms.sql.Prepared``).
_order_locked = Prepared(
    lambda order_id: (
        Order.objects.select_for_update(of=("self",))
        .select_related("channel", "pickup_location")
        .filter(pk=order_id)
    )
)
_lines_of = Prepared(lambda order_id: OrderLine.objects.filter(order_id=order_id))
_fulfillment_orders_of = Prepared(lambda order_id: FulfillmentOrder.objects.filter(order_id=order_id))
_unrouted_of = Prepared(
    lambda order_id: Reservation.objects.filter(
        order_id=order_id, status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True
    ).order_by("pk")
)
# The same reads for every order of a batch at once (``route_orders``), ids bound as one array.
_orders_locked_many = Prepared(
    lambda order_ids: (
        Order.objects.select_for_update(of=("self",))
        .select_related("channel", "pickup_location")
        .filter(pk__any=order_ids)
        .order_by("pk")
    )
)
_lines_of_many = Prepared(lambda order_ids: OrderLine.objects.filter(order_id__any=order_ids))
_fulfillment_orders_of_many = Prepared(
    lambda order_ids: FulfillmentOrder.objects.filter(order_id__any=order_ids)
)
_unrouted_of_many = Prepared(
    lambda order_ids: Reservation.objects.filter(
        order_id__any=order_ids, status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True
    ).order_by("pk")
)


def _create_fulfillment_orders(
    routing: _Routing, reservations: Sequence[Reservation]
) -> list[FulfillmentOrder]:
    """Route the reservations in the routing's batch: into the order's pending fulfilment order at
    their location, or a new one (returned; the caller counts them in the locations' daily load),
    which is added to ``routing.fulfillment_orders``. The new fulfilment orders get their ids at
    once (``WriteBatch.keyed``); their lines, the ``routed`` events and the ``fulfillment.created``
    outbox events go to the batch. Statements do not grow with the locations."""
    order, fulfillment_orders, batch = routing.order, routing.fulfillment_orders, routing.batch
    by_location: dict[int, list[Reservation]] = defaultdict(list)
    for r in reservations:
        by_location[r.location_id].append(r)
    if not by_location:
        return []
    pending = {fo.location_id: fo for fo in fulfillment_orders if fo.status == FulfillmentStatus.PENDING}
    new = _new_fulfillment_orders(
        order=order,
        location_ids=sorted(by_location.keys() - pending.keys()),
        existing=len(fulfillment_orders),
    )
    batch.keyed(list(new.values()))
    fulfillment_orders.extend(new.values())
    for location_id in sorted(by_location):
        fo = pending.get(location_id) or new[location_id]
        _send_to(routing, fo, held=by_location[location_id])
    for fo in new.values():
        batch.publish("fulfillment.created", {"fulfillment_order_id": fo.pk, "order_id": order.pk})
    return list(new.values())


def _new_fulfillment_orders(
    *, order: Order, location_ids: list[int], existing: int
) -> dict[int, FulfillmentOrder]:
    """A new fulfilment order of today for each location, numbered after the ``existing`` ones."""
    today = timezone.localdate()
    return {
        location_id: FulfillmentOrder(
            order=order,
            location_id=location_id,
            number=f"{order.number}-{existing + n}",
            method=order.method,
            day=today,
        )
        for n, location_id in enumerate(location_ids, start=1)
    }


def _send_to(routing: _Routing, fo: FulfillmentOrder, *, held: list[Reservation]) -> None:
    """Route the reservations held at the fulfilment order's location into it, in the routing's
    batch: a line per reservation and the ``routed`` event (the location by its code, and why)."""
    batch = routing.batch
    batch.add(
        *(
            FulfillmentOrderLine(
                fulfillment_order=fo, order_line_id=r.line_id, reservation=r, quantity=r.quantity
            )
            for r in held
        )
    )
    batch.add(
        order_event_build(
            order=routing.order,
            kind=OrderEventKind.ROUTED,
            actor=ROUTER,
            message=routing.note.sent(fo),
            data={
                "fulfillment_order": fo.pk,
                "location_id": fo.location_id,
                "units": sum(r.quantity for r in held),
            },
        )
    )


@transaction.atomic(durable=True)
def route_order(*, order_id: int, first_come: bool = True) -> RoutingResult:
    """Route what is not routed yet, in one transaction; idempotent, and a held order is left alone.

    Move unrouted reservations to better locations if the engine now prefers them, hold
    backordered units where stock has arrived, and create one fulfilment order per location. A
    held, cancelled or finished order is left alone.

    With ``first_come`` a backordered unit is filled only if no older order waits for the same
    SKU (``backorders_allocate`` walks the waiting orders oldest first with it off)."""
    order = _order_locked.first(order_id=order_id)
    if order is None:
        return RoutingResult(order_id=order_id, status="", skipped="not_found")
    if order.status in NOT_ROUTED:
        return RoutingResult(order_id=order_id, status=order.status, skipped=order.status)
    lines = {line.pk: line for line in _lines_of(order_id=order.pk)}
    fulfillment_orders = _fulfillment_orders_of(order_id=order.pk)
    if waits_for_transfer(order=order, lines=lines.values()):  # ship-to-store (docs/transfers.md)
        new, status = route_awaiting_transfer(order=order, lines=lines, fulfillment_orders=fulfillment_orders)
        return RoutingResult(order_id=order_id, status=status, created=new)
    excluded = _excluded_locations(order=order, fulfillment_orders=fulfillment_orders)
    result = RoutingResult(order_id=order_id, status=order.status)
    unrouted = _unrouted_of(order_id=order.pk)
    note = RouteNote()
    if unrouted:
        unrouted, result.moved_units, note = _improve(
            order=order, lines=lines, unrouted=unrouted, excluded=excluded
        )
    filled, result.filled_units, filled_note = _fill_backorders(
        order=order, lines=lines, excluded=excluded, first_come=first_come
    )
    note = note.then(filled_note)  # units held after a rejection: the plan that held them says why
    # What routing decides is written at the end: on PostgreSQL in one statement, elsewhere one
    # statement per table (``oms.batch``).
    batch = WriteBatch.for_connection()
    routing = _Routing(order, lines, fulfillment_orders, note, batch)
    created, result.status = _route_held(routing, reservations=[*unrouted, *filled])
    result.created = [fo.pk for fo in created]
    _write_routing(batch=batch, created=created)
    return result


def _excluded_locations(*, order: Order, fulfillment_orders: list[FulfillmentOrder]) -> frozenset[int]:
    """The locations that rejected the order: read only if one did (a location is excluded only
    when it rejects, and a rejected fulfilment order stays)."""
    if not any(fo.status == FulfillmentStatus.REJECTED for fo in fulfillment_orders):
        return frozenset()
    return frozenset(RoutingExclusion.objects.filter(order=order).values_list("location_id", flat=True))


def _route_held(
    routing: _Routing, *, reservations: Sequence[Reservation]
) -> tuple[list[FulfillmentOrder], str]:
    """Route the order's reservations that routing now holds for it (``_create_fulfillment_orders``)
    and set its status, in the routing's batch: the new fulfilment orders and the status. Every
    unrouted reservation was just routed, and the routing's lines and fulfilment orders are as in
    the database (the callers keep them in step; the order lock keeps others out): the status needs
    no lookup."""
    created = _create_fulfillment_orders(routing, reservations)
    status = order_status_sync(
        order=routing.order,
        actor=ROUTER,
        batch=routing.batch,
        lines=list(routing.lines.values()),
        has_unrouted=False,
        fulfillment_orders=routing.fulfillment_orders,
    )
    return created, status


def route_orders(*, order_ids: Sequence[int]) -> list[RoutingResult]:
    """Route several orders with the same rows, events and results as ``route_order`` for each.

    For a drain of the routing inbox.

    On PostgreSQL the usual case, a new order whose held units stay where they are, is routed for
    every such order of the batch in one transaction, with the statements of one routing: the
    orders locked, their lines, fulfilment orders and unrouted reservations read, the candidates
    of all their products read once, the fulfilment order ids drawn once, and one write (7
    statements, whatever the batch's size). Each order is planned as ``route_order`` would plan it
    alone, the fulfilment orders of the orders before it counted in the locations' load for
    today. An order that needs more (units to move, backordered units, a location that rejected
    it, fulfilment orders already) is left out of that transaction and routed alone by
    ``route_order`` after it, as every order is elsewhere."""
    ids = list(dict.fromkeys(order_ids))
    if connection.vendor != "postgresql" or len(ids) < 2:
        return [route_order(order_id=order_id) for order_id in ids]
    results, alone = _route_together(ids)
    for order_id in alone:
        results[order_id] = route_order(order_id=order_id)
    return [results[order_id] for order_id in ids]


@dataclass
class _Batch:
    """What ``_route_together`` reads of a batch's orders: the orders (locked), and by order its
    lines, whether it has fulfilment orders, and its unrouted reservations."""

    orders: list[Order]
    lines_of: dict[int, dict[int, OrderLine]]
    with_fulfillment: set[int]
    unrouted_of: dict[int, list[Reservation]]


@transaction.atomic(durable=True)
def _route_together(order_ids: list[int]) -> tuple[dict[int, RoutingResult], list[int]]:
    """``route_orders``' one transaction: the results of the orders it routed or skipped, and the
    orders left to ``route_order``."""
    reads = _read_batch(order_ids)
    results = {i: RoutingResult(order_id=i, status="", skipped="not_found") for i in order_ids}
    together, alone = _sort_out(reads, results)
    if not together:
        return results, alone
    planned, to_move = _plan_together(reads, together)
    alone += to_move
    if planned:
        _route_planned(reads, planned, results)
    return results, alone


def _read_batch(order_ids: list[int]) -> _Batch:
    """The batch's orders locked, their lines, fulfilment orders and unrouted reservations: four
    statements, whatever the batch's size."""
    orders = _orders_locked_many(order_ids=order_ids)
    lines_of: dict[int, dict[int, OrderLine]] = defaultdict(dict)
    for line in _lines_of_many(order_ids=order_ids):
        lines_of[line.order_id][line.pk] = line
    with_fulfillment = {fo.order_id for fo in _fulfillment_orders_of_many(order_ids=order_ids)}
    unrouted_of: dict[int, list[Reservation]] = defaultdict(list)
    for r in _unrouted_of_many(order_ids=order_ids):
        unrouted_of[r.order_id].append(r)
    return _Batch(orders, lines_of, with_fulfillment, unrouted_of)


def _sort_out(reads: _Batch, results: dict[int, RoutingResult]) -> tuple[list[Order], list[int]]:
    """The orders routed together (new, with held units, nothing backordered) and those left to
    ``route_order``; an order routing leaves alone gets its result in ``results``."""
    alone: list[int] = []
    together: list[Order] = []
    for order in reads.orders:
        if order.status in NOT_ROUTED:
            results[order.pk] = RoutingResult(order_id=order.pk, status=order.status, skipped=order.status)
        elif (
            order.pk in reads.with_fulfillment
            or not reads.unrouted_of[order.pk]
            or any(line.quantity_backordered > 0 for line in reads.lines_of[order.pk].values())
        ):
            alone.append(order.pk)
        else:
            together.append(order)
    return together, alone


def _plan_together(reads: _Batch, together: list[Order]) -> tuple[list[tuple[Order, RouteNote]], list[int]]:
    """Plan each order as ``route_order`` would alone, the fulfilment orders of the orders before
    it counted in the locations' load for today: the orders whose units stay where they are held
    (with the plan's reason), and those with units to move (routed alone, with their own reads
    and savepoint)."""
    unrouted_of = reads.unrouted_of
    rows = load_candidate_rows(product_ids={r.product_id for o in together for r in unrouted_of[o.pk]})
    added: Counter[int] = Counter()  # fulfilment orders this batch gives each location today
    planned: list[tuple[Order, RouteNote]] = []
    to_move: list[int] = []
    for order in together:
        unrouted = unrouted_of[order.pk]
        stock, locations = candidates_from_rows(rows, product_ids={r.product_id for r in unrouted})
        for location_id in added.keys() & locations.keys():
            location = locations[location_id]
            locations[location_id] = replace(location, load_today=location.load_today + added[location_id])
        plan, _, keep = _replan(
            order=order,
            lines=reads.lines_of[order.pk],
            unrouted=unrouted,
            excluded=frozenset(),
            candidates=(stock, locations),
        )
        if not keep:
            to_move.append(order.pk)
            continue
        added.update({r.location_id for r in unrouted})
        planned.append((order, RouteNote(reason=plan.reason, locations=locations)))
    return planned, to_move


def _route_planned(
    reads: _Batch, planned: list[tuple[Order, RouteNote]], results: dict[int, RoutingResult]
) -> None:
    """Route the planned orders in one batch, their fulfilment order ids drawn at once (one new
    fulfilment order per location: they have none yet), and write it; their results go to
    ``results``."""
    batch = WriteBatch.for_connection()
    batch.reserve_keys(
        FulfillmentOrder, sum(len({r.location_id for r in reads.unrouted_of[o.pk]}) for o, _ in planned)
    )
    created: list[FulfillmentOrder] = []
    for order, note in planned:
        # no fulfilment orders yet: an order with some is routed alone
        routing = _Routing(order, reads.lines_of[order.pk], [], note, batch)
        mine, status = _route_held(routing, reservations=reads.unrouted_of[order.pk])
        created += mine
        results[order.pk] = RoutingResult(order_id=order.pk, status=status, created=[fo.pk for fo in mine])
    _write_routing(batch=batch, created=created)


def _write_routing(*, batch: WriteBatch, created: Sequence[FulfillmentOrder]) -> None:
    """Write a routing's batch (``oms.batch``): on PostgreSQL one statement, each table's write a
    data-modifying CTE: the new fulfilment orders (ids drawn beforehand) and their lines, each
    order's changed fields (one order, or every order of a batch), the timeline events, the
    locations' load for the day, and last the outbox rows, whose ids come back to announce them
    after COMMIT; the statement replaces six round trips on the routing worker's hot path.
    Elsewhere one statement per table. The locations' load comes last: a location's count for the
    day is a row every order routed there updates, so it stays locked only until COMMIT."""
    by_day: dict[date, Counter[int]] = defaultdict(Counter)
    for fo in created:
        by_day[fo.day][fo.location_id] += 1
    for day, added in sorted(by_day.items()):
        batch.then(location_loads_add_sql(day=day, added=added))
    batch.write()
