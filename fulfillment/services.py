"""Routing and the fulfilment lifecycle.

``route_order`` turns an order's unrouted reservations (and backordered units, when stock is there)
into fulfilment orders, one per location, moving reservations first if the sourcing engine now
prefers other locations. The lifecycle services (accept, pick, pack, ship, ready for pickup, picked
up, reject, expire, cancel) move one fulfilment order and keep the order's status in step.

Locking policy (same as orders): the order row first, then its fulfilment orders, then
reservations, then stock rows in pk order. Every top-level service is one durable transaction and
is idempotent: run twice, it changes nothing the second time (tasks may be delivered twice).

Invariant, per order line: quantity == cancelled + fulfilled + backordered + units in active
reservations; and every active reservation of a routed order belongs to one open fulfilment order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.capacity import location_load_change, location_loads_add_sql
from inventory.choices import MovementKind
from inventory.errors import InsufficientStock
from inventory.models import StockLevel
from inventory.services import StockLine, stock_consume, stock_reserve
from inventory.sourcing import (
    CandidateLocation,
    CandidateStock,
    Need,
    SourcingPlan,
    candidates_from_rows,
    load_candidate_rows,
    load_candidates,
    plan_sourcing,
)
from oms import events
from oms.actors import Actor
from oms.batch import WriteBatch
from oms.errors import InvalidInput, PermissionDenied
from oms.sql import Prepared
from orders.choices import OrderEventKind, OrderStatus, ReservationStatus
from orders.events import order_event_build, order_event_record
from orders.models import Order, OrderLine, Reservation
from orders.services import (
    order_has_unrouted,
    order_status_derive,
    order_status_set,
    reservations_release,
    reserve_for_needs,
    sourcing_request_for,
)

from .choices import FulfillmentStatus
from .models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    WORKING_STATUSES,
    FulfillmentOrder,
    FulfillmentOrderLine,
    RoutingExclusion,
)
from .selectors import fulfillment_order_get_for_actor

ROUTER = Actor.system("router")
NOT_ROUTED = frozenset(
    {OrderStatus.ON_HOLD, OrderStatus.CANCELLED, OrderStatus.COMPLETED, OrderStatus.PARTIALLY_CANCELLED}
)


@dataclass
class RoutingResult:
    order_id: int
    status: str
    skipped: str = ""  # why nothing was done (on hold, cancelled ...)
    created: list[int] = field(default_factory=list)  # new fulfilment order ids
    moved_units: int = 0
    filled_units: int = 0


# --- The order's status follows its lines and fulfilment orders ------------------------------------


def order_status_sync(
    *,
    order: Order,
    actor: Actor,
    batch: WriteBatch,
    lines: Sequence[OrderLine] | None = None,
    has_unrouted: bool | None = None,
    fulfillment_orders: Sequence[FulfillmentOrder] | None = None,
) -> str:
    """Set the (locked) order's status in ``batch`` by the order status rule (``orders``), from its
    lines and fulfilment orders; returns the status.

    ``lines`` (all of the order's, as they are now), ``has_unrouted`` and ``fulfillment_orders``
    are for a caller that holds them already (routing): left out, they are read, and only when the
    rule asks."""
    if lines is None:
        lines = list(OrderLine.objects.filter(order=order).order_by("line_number"))
    started = {*WORKING_STATUSES, *DONE_STATUSES}

    def unrouted() -> bool:
        return order_has_unrouted(order_id=order.pk) if has_unrouted is None else has_unrouted

    def has_started() -> bool:
        if fulfillment_orders is None:
            return FulfillmentOrder.objects.filter(order=order, status__in=started).exists()
        return any(fo.status in started for fo in fulfillment_orders)

    target = order_status_derive(lines=lines, has_unrouted=unrouted, has_started=has_started)
    if order.status == OrderStatus.CANCELLED:
        return order.status
    order_status_set(order=order, status=target, actor=actor, batch=batch)
    return target


def order_status_sync_now(*, order: Order, actor: Actor) -> str:
    """``order_status_sync`` for one step of a fulfilment order, written at once."""
    batch = WriteBatch.for_connection()
    status = order_status_sync(order=order, actor=actor, batch=batch)
    batch.write()
    return status


# --- Routing ------------------------------------------------------------------------------------------


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


def _request_for(order: Order, excluded: frozenset[int]):  # type: ignore[no-untyped-def]
    return sourcing_request_for(
        method=order.method,
        channel=order.channel,
        origin=order.origin,
        pickup_location_id=order.pickup_location_id,
        excluded_location_ids=excluded,
    )


def _replan(
    *,
    order: Order,
    lines: dict[int, OrderLine],
    unrouted: list[Reservation],
    excluded: frozenset[int],
    candidates: tuple[list[CandidateStock], dict[int, CandidateLocation]] | None = None,
) -> tuple[SourcingPlan, dict[int, CandidateLocation], bool]:
    """The engine's plan for the order's held-but-unrouted units, with the units it holds counted
    as available (its own holds are no competition), its locations, and whether the plan keeps
    every unit where it is held. ``candidates``: the products' stock rows and locations, when the
    caller has read them already (a batch of routings)."""
    needs_qty: dict[int, int] = defaultdict(int)
    for r in unrouted:
        needs_qty[r.line_id] += r.quantity
    needs = [
        Need(key=line_id, product_id=lines[line_id].product_id, sku=lines[line_id].sku, quantity=q)
        for line_id, q in sorted(needs_qty.items())
    ]
    if candidates is None:
        candidates = load_candidates(product_ids={n.product_id for n in needs})
    stock, locations = candidates
    held: dict[int, int] = defaultdict(int)
    for r in unrouted:
        held[r.stock_level_id] += r.quantity
    virtual: list[CandidateStock] = []
    seen: set[int] = set()
    for row in stock:
        seen.add(row.stock_level_id)
        virtual.append(row._replace(available=row.available + held.get(row.stock_level_id, 0)))
    skus = {lines[r.line_id].product_id: lines[r.line_id].sku for r in unrouted}
    for r in unrouted:
        if r.stock_level_id not in seen:
            seen.add(r.stock_level_id)
            virtual.append(
                CandidateStock(
                    stock_level_id=r.stock_level_id,
                    product_id=r.product_id,
                    sku=skus[r.product_id],
                    location_id=r.location_id,
                    available=held[r.stock_level_id],
                )
            )
    plan = plan_sourcing(
        needs=needs, stock=virtual, locations=locations, request=_request_for(order, excluded)
    )
    current = defaultdict(int)
    for r in unrouted:
        current[(r.line_id, r.stock_level_id)] += r.quantity
    proposed = defaultdict(int)
    for a in plan.allocations:
        proposed[(a.key, a.stock_level_id)] += a.quantity
    return plan, locations, bool(plan.shortages) or proposed == current


def _improve(
    *, order: Order, lines: dict[int, OrderLine], unrouted: list[Reservation], excluded: frozenset[int]
) -> tuple[list[Reservation], int, str]:
    """Re-plan the order's held-but-unrouted units with the units it holds counted as available;
    if the engine now prefers other locations (a better one got stock, one became inactive or
    full), move the reservations. Returns the reservations to route, units moved, and the reason."""
    plan, locations, keep = _replan(order=order, lines=lines, unrouted=unrouted, excluded=excluded)
    if keep:
        return unrouted, 0, plan.reason
    try:
        with transaction.atomic():  # a savepoint: keep the current holds if the move loses a race
            reservations_release(
                order=order, reservations=unrouted, actor=ROUTER, reason="moved to a better location"
            )
            stock_reserve(
                lines=[
                    StockLine(
                        stock_level_id=a.stock_level_id,
                        product_id=a.product_id,
                        location_id=a.location_id,
                        quantity=a.quantity,
                    )
                    for a in plan.allocations
                ],
                actor=ROUTER,
                reference=f"order:{order.number}",
                reason="moved to a better location",
            )
            moved = Reservation.objects.bulk_create(
                [
                    Reservation(
                        order=order,
                        line_id=a.key,  # type: ignore[misc]
                        stock_level_id=a.stock_level_id,
                        product_id=a.product_id,
                        location_id=a.location_id,
                        quantity=a.quantity,
                    )
                    for a in plan.allocations
                ]
            )
    except InsufficientStock:
        for r in unrouted:
            r.status = ReservationStatus.ACTIVE
        return unrouted, 0, plan.reason
    codes = {loc_id: loc.code for loc_id, loc in locations.items()}
    order_event_record(
        order=order,
        kind=OrderEventKind.REROUTED,
        actor=ROUTER,
        message=f"Reservations moved: {plan.reason}",
        data={
            "from": sorted({codes.get(r.location_id, str(r.location_id)) for r in unrouted}),
            "to": sorted({codes.get(a.location_id, str(a.location_id)) for a in plan.allocations}),
            "considered": plan.considered,
        },
    )
    return moved, sum(r.quantity for r in moved), plan.reason


def _older_orders_waiting_for(*, order: Order, product_ids: set[int]) -> set[int]:
    """Products for which an older order also waits: arriving stock goes to the oldest first."""
    return set(
        OrderLine.objects.filter(
            product_id__in=product_ids, quantity_backordered__gt=0, order__created_at__lt=order.created_at
        )
        .exclude(order__status__in=[OrderStatus.ON_HOLD, OrderStatus.CANCELLED])
        .values_list("product_id", flat=True)
    )


def _fill_backorders(
    *, order: Order, lines: dict[int, OrderLine], excluded: frozenset[int], first_come: bool
) -> tuple[list[Reservation], int]:
    waiting = [line for line in lines.values() if line.quantity_backordered > 0]
    if waiting and first_come:
        queued = _older_orders_waiting_for(order=order, product_ids={line.product_id for line in waiting})
        waiting = [line for line in waiting if line.product_id not in queued]
    if not waiting:
        return [], 0
    needs = [
        Need(key=line.pk, product_id=line.product_id, sku=line.sku, quantity=line.quantity_backordered)
        for line in waiting
    ]
    plan, locations = reserve_for_needs(
        needs=needs,
        request=_request_for(order, excluded),
        actor=ROUTER,
        reference=f"order:{order.number}",
        allow_shortage=True,
    )
    if not plan.allocations:
        return [], 0
    created = Reservation.objects.bulk_create(
        [
            Reservation(
                order=order,
                line_id=a.key,  # type: ignore[misc]
                stock_level_id=a.stock_level_id,
                product_id=a.product_id,
                location_id=a.location_id,
                quantity=a.quantity,
            )
            for a in plan.allocations
        ]
    )
    filled: dict[int, int] = defaultdict(int)
    for a in plan.allocations:
        filled[a.key] += a.quantity  # type: ignore[index]
    for line_id, quantity in filled.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_backordered=F("quantity_backordered") - quantity)
        lines[line_id].quantity_backordered -= quantity
    codes = {loc_id: loc.code for loc_id, loc in locations.items()}
    order_event_record(
        order=order,
        kind=OrderEventKind.BACKORDER_FILLED,
        actor=ROUTER,
        message=f"{sum(filled.values())} backordered unit(s) now held. {plan.reason}",
        data={
            "reservations": [
                {"sku": a.sku, "location": codes[a.location_id], "quantity": a.quantity}
                for a in plan.allocations
            ],
            "still_waiting": {str(k): v for k, v in plan.shortages.items()},
        },
    )
    return created, sum(filled.values())


def _create_fulfillment_orders(
    *,
    order: Order,
    reservations: Sequence[Reservation],
    reason: str,
    fulfillment_orders: list[FulfillmentOrder],
    batch: WriteBatch,
) -> list[FulfillmentOrder]:
    """Route the reservations in ``batch``: into the order's pending fulfilment order at their
    location, or a new one (returned; the caller counts them in the locations' daily load).
    ``fulfillment_orders`` holds every fulfilment order of the order; new ones are added to it.
    The new fulfilment orders get their ids at once (``WriteBatch.keyed``); their lines, the
    ``routed`` events and the ``fulfillment.created`` outbox events go to the batch. Statements do
    not grow with the locations."""
    by_location: dict[int, list[Reservation]] = defaultdict(list)
    for r in reservations:
        by_location[r.location_id].append(r)
    if not by_location:
        return []
    today = timezone.localdate()
    pending = {fo.location_id: fo for fo in fulfillment_orders if fo.status == FulfillmentStatus.PENDING}
    new: dict[int, FulfillmentOrder] = {}
    for location_id in sorted(by_location):
        if location_id not in pending:
            new[location_id] = FulfillmentOrder(
                order=order,
                location_id=location_id,
                number=f"{order.number}-{len(fulfillment_orders) + len(new) + 1}",
                method=order.method,
                day=today,
            )
    batch.keyed(list(new.values()))
    fulfillment_orders.extend(new.values())
    for location_id in sorted(by_location):
        fo = pending.get(location_id) or new[location_id]
        held = by_location[location_id]
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
                order=order,
                kind=OrderEventKind.ROUTED,
                actor=ROUTER,
                message=f"Fulfilment order {fo.number} sent to location {location_id}. {reason}"[:500],
                data={
                    "fulfillment_order": fo.pk,
                    "location_id": location_id,
                    "units": sum(r.quantity for r in held),
                },
            )
        )
    for fo in new.values():
        batch.publish("fulfillment.created", {"fulfillment_order_id": fo.pk, "order_id": order.pk})
    return list(new.values())


@transaction.atomic(durable=True)
def route_order(*, order_id: int, first_come: bool = True) -> RoutingResult:
    """Route what is not routed yet: move unrouted reservations to better locations if the engine
    now prefers them, hold backordered units where stock has arrived, and create one fulfilment
    order per location. A held, cancelled or finished order is left alone. Idempotent.

    With ``first_come`` a backordered unit is filled only if no older order waits for the same
    SKU (``backorders_allocate`` walks the waiting orders oldest first with it off)."""
    order = _order_locked.first(order_id=order_id)
    if order is None:
        return RoutingResult(order_id=order_id, status="", skipped="not_found")
    if order.status in NOT_ROUTED:
        return RoutingResult(order_id=order_id, status=order.status, skipped=order.status)
    lines = {line.pk: line for line in _lines_of(order_id=order.pk)}
    fulfillment_orders = _fulfillment_orders_of(order_id=order.pk)
    excluded: frozenset[int] = frozenset()
    if any(fo.status == FulfillmentStatus.REJECTED for fo in fulfillment_orders):
        # A location is excluded only when it rejects, and a rejected fulfilment order stays.
        excluded = frozenset(
            RoutingExclusion.objects.filter(order=order).values_list("location_id", flat=True)
        )
    result = RoutingResult(order_id=order_id, status=order.status)
    unrouted = _unrouted_of(order_id=order.pk)
    reason = ""
    if unrouted:
        unrouted, result.moved_units, reason = _improve(
            order=order, lines=lines, unrouted=unrouted, excluded=excluded
        )
    filled, result.filled_units = _fill_backorders(
        order=order, lines=lines, excluded=excluded, first_come=first_come
    )
    # What routing decides is written at the end: on PostgreSQL in one statement, elsewhere one
    # statement per table (``oms.batch``).
    batch = WriteBatch.for_connection()
    created, result.status = _route_held(
        order=order,
        lines=lines,
        reservations=[*unrouted, *filled],
        reason=reason,
        fulfillment_orders=fulfillment_orders,
        batch=batch,
    )
    result.created = [fo.pk for fo in created]
    _write_routing(batch=batch, created=created)
    return result


def _route_held(
    *,
    order: Order,
    lines: dict[int, OrderLine],
    reservations: Sequence[Reservation],
    reason: str,
    fulfillment_orders: list[FulfillmentOrder],
    batch: WriteBatch,
) -> tuple[list[FulfillmentOrder], str]:
    """Route the order's reservations that routing now holds for it (``_create_fulfillment_orders``)
    and set its status, in ``batch``: the new fulfilment orders and the status. Every unrouted
    reservation was just routed, and ``lines`` and ``fulfillment_orders`` are as in the database
    (the callers keep them in step; the order lock keeps others out): the status needs no lookup."""
    created = _create_fulfillment_orders(
        order=order,
        reservations=reservations,
        reason=reason,
        fulfillment_orders=fulfillment_orders,
        batch=batch,
    )
    status = order_status_sync(
        order=order,
        actor=ROUTER,
        batch=batch,
        lines=list(lines.values()),
        has_unrouted=False,
        fulfillment_orders=fulfillment_orders,
    )
    return created, status


def route_orders(*, order_ids: Sequence[int]) -> list[RoutingResult]:
    """Route several orders (a drain of the routing inbox), with the same rows, events and
    results as ``route_order`` for each.

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


@transaction.atomic(durable=True)
def _route_together(order_ids: list[int]) -> tuple[dict[int, RoutingResult], list[int]]:
    """``route_orders``' one transaction: the results of the orders it routed or skipped, and the
    orders left to ``route_order``."""
    orders = _orders_locked_many(order_ids=order_ids)
    results = {i: RoutingResult(order_id=i, status="", skipped="not_found") for i in order_ids}
    lines_of: dict[int, dict[int, OrderLine]] = defaultdict(dict)
    for line in _lines_of_many(order_ids=order_ids):
        lines_of[line.order_id][line.pk] = line
    with_fulfillment = {fo.order_id for fo in _fulfillment_orders_of_many(order_ids=order_ids)}
    unrouted_of: dict[int, list[Reservation]] = defaultdict(list)
    for r in _unrouted_of_many(order_ids=order_ids):
        unrouted_of[r.order_id].append(r)
    alone: list[int] = []
    together: list[Order] = []
    for order in orders:
        if order.status in NOT_ROUTED:
            results[order.pk] = RoutingResult(order_id=order.pk, status=order.status, skipped=order.status)
        elif (
            order.pk in with_fulfillment
            or not unrouted_of[order.pk]
            or any(line.quantity_backordered > 0 for line in lines_of[order.pk].values())
        ):
            alone.append(order.pk)
        else:
            together.append(order)
    if not together:
        return results, alone
    rows = load_candidate_rows(product_ids={r.product_id for o in together for r in unrouted_of[o.pk]})
    added: Counter[int] = Counter()  # fulfilment orders this batch gives each location today
    planned: list[tuple[Order, str]] = []
    for order in together:
        unrouted = unrouted_of[order.pk]
        stock, locations = candidates_from_rows(rows, product_ids={r.product_id for r in unrouted})
        for location_id in added.keys() & locations.keys():
            location = locations[location_id]
            locations[location_id] = replace(location, load_today=location.load_today + added[location_id])
        plan, _, keep = _replan(
            order=order,
            lines=lines_of[order.pk],
            unrouted=unrouted,
            excluded=frozenset(),
            candidates=(stock, locations),
        )
        if not keep:  # units to move: alone, with its own reads and savepoint
            alone.append(order.pk)
            continue
        added.update({r.location_id for r in unrouted})
        planned.append((order, plan.reason))
    if not planned:
        return results, alone
    batch = WriteBatch.for_connection()
    # one new fulfilment order per location, their ids drawn at once
    batch.reserve_keys(
        FulfillmentOrder, sum(len({r.location_id for r in unrouted_of[o.pk]}) for o, _ in planned)
    )
    created: list[FulfillmentOrder] = []
    for order, reason in planned:
        mine, status = _route_held(
            order=order,
            lines=lines_of[order.pk],
            reservations=unrouted_of[order.pk],
            reason=reason,
            fulfillment_orders=[],  # none yet: an order with some is routed alone
            batch=batch,
        )
        created += mine
        results[order.pk] = RoutingResult(order_id=order.pk, status=status, created=[fo.pk for fo in mine])
    _write_routing(batch=batch, created=created)
    return results, alone


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


# --- The lifecycle of one fulfilment order -------------------------------------------------------------


def _lock(*, fulfillment_order_id: int, actor: Actor) -> tuple[Order, FulfillmentOrder]:
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied("Only store staff and managers work on fulfilment orders.")
    visible = fulfillment_order_get_for_actor(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if not actor.may_act_at(visible.location_id):
        raise PermissionDenied("You may act only at your own locations.")
    order = Order.objects.select_for_update(of=("self",)).select_related("channel").get(pk=visible.order_id)
    fo = (
        FulfillmentOrder.objects.select_for_update(of=("self",))
        .select_related("location")
        .get(pk=fulfillment_order_id)
    )
    return order, fo


def _fo_reservations(fo: FulfillmentOrder) -> list[Reservation]:
    return list(
        Reservation.objects.filter(
            fulfillment_line__fulfillment_order=fo, status=ReservationStatus.ACTIVE
        ).order_by("pk")
    )


def _step(
    *,
    fulfillment_order_id: int,
    actor: Actor,
    target: str,
    kind: str,
    message: str,
    fields: dict[str, Any] | None = None,
    topic: str | None = None,
) -> FulfillmentOrder:
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == target:
        return fo  # a repeated click or task: nothing more to do
    fo.require_transition(target)
    fo.status = target
    for name, value in (fields or {}).items():
        setattr(fo, name, value)
    fo.save()
    order_event_record(
        order=order,
        kind=kind,
        actor=actor,
        message=f"{fo.number} at {fo.location.code}: {message}",
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            **{k: str(v) for k, v in (fields or {}).items()},
        },
    )
    order_status_sync_now(order=order, actor=actor)
    if topic:
        events.publish(
            topic=topic,
            payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
        )
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_accept(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    return _step(
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        target=FulfillmentStatus.ACCEPTED,
        kind=OrderEventKind.FULFILLMENT_ACCEPTED,
        message="accepted",
        fields={"accepted_at": timezone.now()},
        topic="fulfillment.accepted",
    )


@transaction.atomic(durable=True)
def fulfillment_order_pick(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    return _step(
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        target=FulfillmentStatus.PICKED,
        kind=OrderEventKind.FULFILLMENT_PICKED,
        message="picked",
    )


@transaction.atomic(durable=True)
def fulfillment_order_pack(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    return _step(
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        target=FulfillmentStatus.PACKED,
        kind=OrderEventKind.FULFILLMENT_PACKED,
        message="packed",
    )


def pickup_hold_until(fo: FulfillmentOrder, now: datetime) -> datetime:
    days = fo.location.pickup_hold_days
    return now + timedelta(days=days if days is not None else settings.OMS_PICKUP_HOLD_DAYS)


@transaction.atomic(durable=True)
def fulfillment_order_ready_for_pickup(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The store has the units ready at the counter; the customer is told and the hold clock starts."""
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.READY_FOR_PICKUP:
        return fo
    fo.require_transition(FulfillmentStatus.READY_FOR_PICKUP)
    now = timezone.now()
    fo.status = FulfillmentStatus.READY_FOR_PICKUP
    fo.ready_at = now
    fo.pickup_expires_at = pickup_hold_until(fo, now)
    fo.save()
    order_event_record(
        order=order,
        kind=OrderEventKind.READY_FOR_PICKUP,
        actor=actor,
        message=(
            f"{fo.number} ready for pickup at {fo.location.code} "
            f"until {fo.pickup_expires_at:%Y-%m-%d %H:%M} UTC"
        ),
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            "expires_at": fo.pickup_expires_at.isoformat(),
        },
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.ready_for_pickup",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


def _consume(*, order: Order, fo: FulfillmentOrder, actor: Actor, kind: str, reason: str) -> int:
    """Units leave the building: on_hand and reserved drop, reservations are consumed, lines count
    the units as fulfilled."""
    reservations = _fo_reservations(fo)
    if not reservations:
        return 0
    stock_consume(
        lines=[
            StockLine(
                stock_level_id=r.stock_level_id,
                product_id=r.product_id,
                location_id=r.location_id,
                quantity=r.quantity,
            )
            for r in reservations
        ],
        actor=actor,
        reference=f"order:{order.number}",
        reason=reason,
        kind=kind,
    )
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(
        status=ReservationStatus.CONSUMED, updated_at=timezone.now()
    )
    per_line: dict[int, int] = defaultdict(int)
    for r in reservations:
        per_line[r.line_id] += r.quantity
    for line_id, quantity in per_line.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_fulfilled=F("quantity_fulfilled") + quantity)
    return sum(per_line.values())


@transaction.atomic(durable=True)
def fulfillment_order_ship(
    *, fulfillment_order_id: int, carrier: str, tracking_number: str, actor: Actor
) -> FulfillmentOrder:
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if not carrier or not tracking_number:
        raise InvalidInput("Shipping needs a carrier and a tracking number.", code="tracking_required")
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.SHIPPED:
        return fo
    fo.require_transition(FulfillmentStatus.SHIPPED)
    units = _consume(
        order=order, fo=fo, actor=actor, kind=MovementKind.SHIPMENT, reason=f"shipped {fo.number}"
    )
    fo.status = FulfillmentStatus.SHIPPED
    fo.carrier, fo.tracking_number = carrier[:64], tracking_number[:128]
    fo.completed_at = timezone.now()
    fo.save()
    order_event_record(
        order=order,
        kind=OrderEventKind.SHIPPED,
        actor=actor,
        message=f"{fo.number} shipped from {fo.location.code} with {carrier} ({tracking_number})",
        data={
            "fulfillment_order": fo.pk,
            "carrier": carrier,
            "tracking_number": tracking_number,
            "units": units,
        },
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.shipped",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_picked_up(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.PICKED_UP:
        return fo
    fo.require_transition(FulfillmentStatus.PICKED_UP)
    units = _consume(
        order=order, fo=fo, actor=actor, kind=MovementKind.SHIPMENT, reason=f"handed over {fo.number}"
    )
    fo.status = FulfillmentStatus.PICKED_UP
    fo.completed_at = timezone.now()
    fo.save()
    order_event_record(
        order=order,
        kind=OrderEventKind.PICKED_UP,
        actor=actor,
        message=f"{fo.number} handed over at {fo.location.code}",
        data={"fulfillment_order": fo.pk, "units": units},
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.picked_up",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


def _close(
    *, order: Order, fo: FulfillmentOrder, status: str, actor: Actor, reason: str
) -> list[Reservation]:
    """Close an open fulfilment order: release its units and give back its capacity."""
    reservations = _fo_reservations(fo)
    reservations_release(
        order=order, reservations=reservations, actor=actor, reason=f"{status}: {reason}"[:300]
    )
    fo.status = status
    fo.closed_at = timezone.now()
    if status == FulfillmentStatus.REJECTED:
        fo.reject_reason = reason[:300]
    fo.save()
    location_load_change(location_id=fo.location_id, day=fo.day, delta=-1)
    return reservations


@transaction.atomic(durable=True)
def fulfillment_order_reject(*, fulfillment_order_id: int, reason: str, actor: Actor) -> FulfillmentOrder:
    """The location cannot do it: its units are released, the location is excluded for this order,
    and the units wait (backordered) until the router sources them elsewhere, at once on commit."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the fulfilment order is rejected ('reason').", code="reason_required")
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == FulfillmentStatus.REJECTED:
        return fo
    fo.require_transition(FulfillmentStatus.REJECTED)
    released = _close(order=order, fo=fo, status=FulfillmentStatus.REJECTED, actor=actor, reason=reason)
    RoutingExclusion.objects.get_or_create(
        order=order, location=fo.location, defaults={"reason": reason[:300]}
    )
    per_line: dict[int, int] = defaultdict(int)
    for r in released:
        per_line[r.line_id] += r.quantity
    for line_id, quantity in per_line.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_backordered=F("quantity_backordered") + quantity)
    order_event_record(
        order=order,
        kind=OrderEventKind.FULFILLMENT_REJECTED,
        actor=actor,
        message=f"{fo.number} rejected by {fo.location.code}: {reason}"[:500],
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            "reason": reason,
            "units": sum(per_line.values()),
        },
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.rejected",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return fo


def fulfillment_orders_cancel_for_order(topic: str, payload: dict[str, Any]) -> None:
    """In the order-cancel transaction (the order row is locked): close its open fulfilment orders.
    The order service releases the reservations itself."""
    now = timezone.now()
    for fo in FulfillmentOrder.objects.select_for_update(of=("self",)).filter(
        order_id=payload["order_id"], status__in=OPEN_STATUSES
    ):
        fo.status = FulfillmentStatus.CANCELLED
        fo.closed_at = now
        fo.save(update_fields=["status", "closed_at", "updated_at"])
        location_load_change(location_id=fo.location_id, day=fo.day, delta=-1)


# --- Pickups not collected in time --------------------------------------------------------------------


@transaction.atomic(durable=True)
def fulfillment_order_expire(
    *, fulfillment_order_id: int, actor: Actor = ROUTER, now: datetime | None = None
) -> bool:
    """A pickup not collected by its deadline: units go back on sale, the lines are cancelled for
    those units, the customer is told. Returns whether it expired (False if collected meanwhile)."""
    now = now or timezone.now()
    order, fo = _lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if (
        fo.status != FulfillmentStatus.READY_FOR_PICKUP
        or fo.pickup_expires_at is None
        or fo.pickup_expires_at > now
    ):
        return False
    released = _close(
        order=order, fo=fo, status=FulfillmentStatus.EXPIRED, actor=actor, reason="not collected"
    )
    per_line: dict[int, int] = defaultdict(int)
    for r in released:
        per_line[r.line_id] += r.quantity
    for line_id, quantity in per_line.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_cancelled=F("quantity_cancelled") + quantity)
    order_event_record(
        order=order,
        kind=OrderEventKind.PICKUP_EXPIRED,
        actor=actor,
        message=(
            f"{fo.number} was not collected at {fo.location.code} in time; "
            f"{sum(per_line.values())} unit(s) back on sale"
        ),
        data={"fulfillment_order": fo.pk, "lines": {str(k): v for k, v in per_line.items()}},
    )
    order_status_sync_now(order=order, actor=actor)
    events.publish(
        topic="fulfillment.pickup_expired",
        payload={"fulfillment_order_id": fo.pk, "order_id": order.pk, "location": fo.location.code},
    )
    return True


def pickups_due_to_expire(*, now: datetime | None = None) -> list[int]:
    return list(
        FulfillmentOrder.objects.filter(
            status=FulfillmentStatus.READY_FOR_PICKUP, pickup_expires_at__lte=now or timezone.now()
        )
        .order_by("pickup_expires_at", "pk")
        .values_list("pk", flat=True)
    )


# --- Backorders and the sweeper -----------------------------------------------------------------------


def backordered_orders_for(*, product_ids: Iterable[int] | None = None) -> list[int]:
    """Orders with units waiting for stock, oldest first (first come, first served)."""
    lines = OrderLine.objects.filter(quantity_backordered__gt=0).exclude(
        order__status__in=[OrderStatus.ON_HOLD, OrderStatus.CANCELLED]
    )
    if product_ids is not None:
        lines = lines.filter(product_id__in=list(product_ids))
    ids = lines.order_by("order__created_at", "order_id").values_list("order_id", flat=True)
    return list(dict.fromkeys(ids))


def _sellable_products(product_ids: Iterable[int]) -> set[int]:
    return set(
        StockLevel.objects.filter(
            product_id__in=list(product_ids),
            location__active=True,
            on_hand__gt=F("reserved") + F("safety_stock"),
        ).values_list("product_id", flat=True)
    )


def backorders_allocate(*, product_ids: Iterable[int]) -> list[int]:
    """Stock arrived for these products: route the waiting orders, oldest first, each in its own
    transaction (the conditional UPDATEs keep it from overselling). Stops once nothing is left."""
    routed: list[int] = []
    product_ids = set(product_ids)
    for order_id in backordered_orders_for(product_ids=product_ids):
        if not _sellable_products(product_ids):
            break
        result = route_order(order_id=order_id, first_come=False)
        if result.filled_units:
            routed.append(order_id)
    return routed


def routing_sweep(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Find work a lost task left behind: orders still ``received`` (or with unrouted units) past
    the threshold, backordered orders whose stock is now there, and pickups past their deadline."""
    now = now or timezone.now()
    threshold = now - timedelta(seconds=settings.OMS_SWEEPER_STUCK_SECONDS)
    stuck = set(
        Reservation.objects.filter(
            status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True, created_at__lt=threshold
        )
        .exclude(order__status__in=NOT_ROUTED)
        .values_list("order_id", flat=True)
    )
    stuck |= set(
        Order.objects.filter(status=OrderStatus.RECEIVED, updated_at__lt=threshold).values_list(
            "pk", flat=True
        )
    )
    waiting = OrderLine.objects.filter(quantity_backordered__gt=0, order__updated_at__lt=threshold).exclude(
        order__status__in=NOT_ROUTED
    )
    products = set(waiting.values_list("product_id", flat=True))
    sellable = _sellable_products(products) if products else set()
    backordered = list(
        dict.fromkeys(
            waiting.filter(product_id__in=sellable)
            .order_by("order__created_at")
            .values_list("order_id", flat=True)
        )
    )
    return {
        "stuck": sorted(stuck),
        "backordered": [o for o in backordered if o not in stuck],
        "backordered_products": sorted(sellable),
        "expired_pickups": pickups_due_to_expire(now=now),
    }
