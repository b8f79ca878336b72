"""Re-planning what routing holds before it routes: the order's unrouted reservations moved when the sourcing
engine now prefers other locations, and backordered units held where stock has arrived."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from django.db import transaction
from django.db.models import F

from inventory.errors import InsufficientStock
from inventory.services import stock_reserve
from inventory.sourcing import (
    Allocation,
    CandidateLocation,
    CandidateStock,
    Need,
    SourcingPlan,
    SourcingRequest,
    load_candidates,
    plan_sourcing,
)
from orders.choices import OrderEventKind, OrderStatus, ReservationStatus
from orders.events import order_event_record
from orders.models import Order, OrderLine, Reservation
from orders.services import (
    reservations_of_plan,
    reservations_release,
    reserve_for_needs,
    sourcing_request_for,
    stock_lines_for,
)

from .common import ROUTER, RouteNote


def _request_for(order: Order, excluded: frozenset[int]) -> SourcingRequest:
    origin, note = order.origin_placed()
    return sourcing_request_for(
        method=order.method,
        channel=order.channel,
        origin=origin,
        origin_note=note,
        pickup_location_id=order.pickup_location_id,
        excluded_location_ids=excluded,
    )


def _line_id(allocation: Allocation) -> int:
    """The order line an allocation is for (routing's needs are keyed by order line id)."""
    return cast(int, allocation.key)


def _reservations_for(order: Order, plan: SourcingPlan) -> list[Reservation]:
    """The reservations of the plan's allocations, written (one INSERT)."""
    return Reservation.objects.bulk_create(
        reservations_of_plan(order_id=order.pk, plan=plan, line_id=_line_id)
    )


def _record(order: Order, kind: str, message: str, data: dict[str, Any]) -> None:
    """A routing event on the order's timeline, by the router."""
    order_event_record(order=order, kind=kind, actor=ROUTER, message=message, data=data)


# --- Unrouted reservations moved to better locations -------------------------------------------


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
    needs = _needs_of(lines, unrouted)
    if candidates is None:
        candidates = load_candidates(product_ids={n.product_id for n in needs})
    stock, locations = candidates
    plan = plan_sourcing(
        needs=needs,
        stock=_with_own_holds(stock, lines, unrouted),
        locations=locations,
        request=_request_for(order, excluded),
    )
    return plan, locations, bool(plan.shortages) or _placement(plan) == _held_placement(unrouted)


def _needs_of(lines: dict[int, OrderLine], unrouted: list[Reservation]) -> list[Need]:
    """What the unrouted reservations hold, as the engine's needs: units by order line."""
    needs_qty: dict[int, int] = defaultdict(int)
    for r in unrouted:
        needs_qty[r.line_id] += r.quantity
    return [
        Need(key=line_id, product_id=lines[line_id].product_id, sku=lines[line_id].sku, quantity=q)
        for line_id, q in sorted(needs_qty.items())
    ]


def _with_own_holds(
    stock: list[CandidateStock], lines: dict[int, OrderLine], unrouted: list[Reservation]
) -> list[CandidateStock]:
    """The candidate stock rows with the units the order holds counted as available, and the rows
    it holds at that are no candidates now (their location is full, say) added with its units."""
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
    return virtual


def _held_placement(unrouted: list[Reservation]) -> dict[tuple[int, int], int]:
    """Units held, by (order line, stock row)."""
    current: dict[tuple[int, int], int] = defaultdict(int)
    for r in unrouted:
        current[(r.line_id, r.stock_level_id)] += r.quantity
    return current


def _placement(plan: SourcingPlan) -> dict[tuple[int, int], int]:
    """Units the plan places, by (order line, stock row)."""
    proposed: dict[tuple[int, int], int] = defaultdict(int)
    for a in plan.allocations:
        proposed[(_line_id(a), a.stock_level_id)] += a.quantity
    return proposed


def _improve(
    *, order: Order, lines: dict[int, OrderLine], unrouted: list[Reservation], excluded: frozenset[int]
) -> tuple[list[Reservation], int, RouteNote]:
    """Re-plan the order's held-but-unrouted units with the units it holds counted as available;
    if the engine now prefers other locations (a better one got stock, one became inactive or
    full), move the reservations. Returns the reservations to route, units moved, and the note
    for the ``routed`` events (the plan's reason, the locations' codes)."""
    plan, locations, keep = _replan(order=order, lines=lines, unrouted=unrouted, excluded=excluded)
    note = RouteNote(reason=plan.reason, locations=locations)
    if keep:
        return unrouted, 0, note
    try:
        moved = _move_holds(order=order, unrouted=unrouted, plan=plan)
    except InsufficientStock:
        for r in unrouted:
            r.status = ReservationStatus.ACTIVE
        return unrouted, 0, note
    codes = {loc_id: loc.code for loc_id, loc in locations.items()}
    moves = {
        "from": sorted({codes.get(r.location_id, str(r.location_id)) for r in unrouted}),
        "to": sorted({codes.get(a.location_id, str(a.location_id)) for a in plan.allocations}),
        "considered": plan.considered,
    }
    _record(order, OrderEventKind.REROUTED, f"Reservations moved: {plan.reason}", moves)
    return moved, sum(r.quantity for r in moved), note


def _move_holds(*, order: Order, unrouted: list[Reservation], plan: SourcingPlan) -> list[Reservation]:
    """Release the unrouted reservations and hold the plan's units instead, in a savepoint: if the
    new units were taken meanwhile (``InsufficientStock``), the current holds stay."""
    with transaction.atomic():
        reservations_release(
            order=order, reservations=unrouted, actor=ROUTER, reason="moved to a better location"
        )
        stock_reserve(
            lines=stock_lines_for(plan),
            actor=ROUTER,
            reference=f"order:{order.number}",
            reason="moved to a better location",
        )
        return _reservations_for(order, plan)


# --- Backordered units held where stock arrived -------------------------------------------------


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
) -> tuple[list[Reservation], int, RouteNote]:
    """Hold the order's backordered units where stock is there now (with ``first_come``, not for
    a product an older order waits for): returns the new reservations, the units filled and the
    note for their ``routed`` events."""
    waiting = _waiting_lines(order=order, lines=lines, first_come=first_come)
    if not waiting:
        return [], 0, RouteNote()
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
    note = RouteNote(reason=plan.reason, locations=locations)
    if not plan.allocations:
        return [], 0, note
    created = _reservations_for(order, plan)
    filled = _off_backorder(lines=lines, plan=plan)
    held = [
        {"sku": a.sku, "location": locations[a.location_id].code, "quantity": a.quantity}
        for a in plan.allocations
    ]
    data = {"reservations": held, "still_waiting": {str(k): v for k, v in plan.shortages.items()}}
    _record(
        order, OrderEventKind.BACKORDER_FILLED, f"{filled} backordered unit(s) now held. {plan.reason}", data
    )
    return created, filled, note


def _waiting_lines(*, order: Order, lines: dict[int, OrderLine], first_come: bool) -> list[OrderLine]:
    """The order's lines with backordered units, less those an older order waits for first."""
    waiting = [line for line in lines.values() if line.quantity_backordered > 0]
    if waiting and first_come:
        queued = _older_orders_waiting_for(order=order, product_ids={line.product_id for line in waiting})
        waiting = [line for line in waiting if line.product_id not in queued]
    return waiting


def _off_backorder(*, lines: dict[int, OrderLine], plan: SourcingPlan) -> int:
    """Take the plan's units off their lines' backorder (in the database and in ``lines``);
    returns the units."""
    filled: dict[int, int] = defaultdict(int)
    for a in plan.allocations:
        filled[_line_id(a)] += a.quantity
    for line_id, quantity in filled.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_backordered=F("quantity_backordered") - quantity)
        lines[line_id].quantity_backordered -= quantity
    return sum(filled.values())
