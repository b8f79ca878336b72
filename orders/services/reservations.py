"""Sourcing and holding an order's units: the sourcing request for an order, planning and
reserving with re-planning on a lost race, the refusal that says what is short, and releasing
held units. Placement and routing (fulfillment) both use these."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.errors import InsufficientStock
from inventory.services import StockLine, stock_release, stock_reserve
from inventory.sourcing import (
    PICKUP,
    Allocation,
    CandidateLocation,
    CandidateStock,
    Need,
    SourcingPlan,
    SourcingRequest,
    load_candidates,
    plan_sourcing,
    stores_that_can_supply,
)
from inventory.transfers.planning import transfer_earliest_on, transfer_plan_for_pickup
from oms.actors import Actor
from oms.models import Channel
from orders.choices import ReservationStatus
from orders.models import Order, Reservation

RESERVE_ATTEMPTS = 3


def sourcing_request_for(
    *,
    method: str,
    channel: Channel,
    origin: tuple[float, float] | None,
    pickup_location_id: int | None,
    excluded_location_ids: frozenset[int] = frozenset(),
    origin_note: str = "",
    nearby_radius_km: float | None = None,
) -> SourcingRequest:
    """The sourcing engine's request for an order of ``channel`` (its ship-from-store policy);
    ``origin_note`` says how ``origin`` was found when the address had no coordinates; a pickup's
    409 lists the stores within ``nearby_radius_km`` (default ``OMS_NEARBY_STORES_RADIUS_KM``)."""
    return SourcingRequest(
        method=method,
        origin=origin,
        origin_note=origin_note,
        nearby_radius_km=settings.OMS_NEARBY_STORES_RADIUS_KM
        if nearby_radius_km is None
        else nearby_radius_km,
        pickup_location_id=pickup_location_id,
        ship_from_stores=channel.ship_from_stores,
        excluded_location_ids=excluded_location_ids,
    )


def insufficient_stock_for(
    *,
    needs: Sequence[Need],
    plan: SourcingPlan,
    stock: Sequence[CandidateStock],
    locations: dict[int, CandidateLocation],
    request: SourcingRequest,
) -> InsufficientStock:
    """The 409 for a plan with shortages: what is missing per SKU and, for a pickup, the stores
    within ``request.nearby_radius_km`` of it that have every unit."""
    by_key = {n.key: n for n in needs}
    short: dict[str, dict[str, Any]] = {}
    for key, missing in plan.shortages.items():
        need = by_key[key]
        entry = short.setdefault(need.sku, {"sku": need.sku, "requested": 0, "missing": 0})
        entry["requested"] += need.quantity
        entry["missing"] += missing
    skus = sorted(short)
    extra: dict[str, Any] = {"skus": skus, "shortages": [short[s] for s in skus]}
    if request.method == PICKUP:
        radius = request.nearby_radius_km
        extra["nearby_stores"] = stores_that_can_supply(
            needs=needs, stock=stock, locations=locations, origin=request.origin, radius_km=radius
        )
        extra["nearby_radius_km"] = radius
        transfer = transfer_plan_for_pickup(
            needs=needs, plan=plan, stock=stock, locations=locations, request=request
        )
        extra["transfer_possible"] = transfer is not None
        if transfer is not None:
            extra["transfer_earliest_on"] = transfer_earliest_on(transfer).isoformat()
        message = f"The pickup store cannot supply: {', '.join(skus)}."
        within = "" if radius is None else f" within {radius:g} km"
        if extra["nearby_stores"]:
            nearby = ", ".join(s["location"] for s in extra["nearby_stores"])
            message += f" These stores{within} have every unit: {nearby}."
        else:
            message += f" No other store{within} has every unit."
        if transfer is not None:
            message += f" A transfer could bring them by {extra['transfer_earliest_on']} (allow_transfer)."
    else:
        message = f"Not enough stock for: {', '.join(skus)}."
    return InsufficientStock(message, extra=extra)


class _Held(Protocol):
    """Units of one stock row: a plan's allocation or a reservation."""

    @property
    def stock_level_id(self) -> int: ...
    @property
    def product_id(self) -> int: ...
    @property
    def location_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...


def _stock_lines(held: Iterable[_Held]) -> list[StockLine]:
    return [
        StockLine(
            stock_level_id=h.stock_level_id,
            product_id=h.product_id,
            location_id=h.location_id,
            quantity=h.quantity,
        )
        for h in held
    ]


def stock_lines_for(plan: SourcingPlan) -> list[StockLine]:
    """The stock rows and units a plan holds, as the inventory services take them."""
    return _stock_lines(plan.allocations)


def stock_lines_of(reservations: Iterable[_Held]) -> list[StockLine]:
    """The stock rows and units the reservations (or a cart's holds) hold, as the inventory
    services take them."""
    return _stock_lines(reservations)


def reservations_of_plan(
    *, order_id: int, plan: SourcingPlan, line_id: Callable[[Allocation], int]
) -> list[Reservation]:
    """The unsaved reservations of a plan's allocations, each for the order line ``line_id`` names."""
    return [
        Reservation(
            order_id=order_id,
            line_id=line_id(a),
            stock_level_id=a.stock_level_id,
            product_id=a.product_id,
            location_id=a.location_id,
            quantity=a.quantity,
        )
        for a in plan.allocations
    ]


def reserve_for_needs(
    *,
    needs: Sequence[Need],
    request: SourcingRequest,
    actor: Actor,
    reference: str,
    allow_shortage: bool,
    reason: str = "order placed",
) -> tuple[SourcingPlan, dict[int, CandidateLocation]]:
    """Hold the units of a plan made on fresh stock, or refuse (409) what cannot be held.

    Plans with the sourcing engine and holds the planned units, re-planning when another
    transaction took the units between the read and the conditional UPDATE. Returns the plan that
    was reserved (its ``shortages`` are the units left unreserved, allowed only if
    ``allow_shortage``). Runs inside the caller's transaction."""
    product_ids = {n.product_id for n in needs}
    for _attempt in range(RESERVE_ATTEMPTS):
        stock, locations = load_candidates(product_ids=product_ids)
        plan = plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
        if plan.shortages and not allow_shortage:
            raise insufficient_stock_for(
                needs=needs, plan=plan, stock=stock, locations=locations, request=request
            )
        lines = stock_lines_for(plan)
        if not lines:
            return plan, locations
        try:
            with transaction.atomic():  # a savepoint: a lost race undoes only this attempt
                stock_reserve(lines=lines, actor=actor, reference=reference, reason=reason)
        except InsufficientStock:
            continue
        return plan, locations
    # Every attempt lost a race for the same units: the stock is being sold out right now.
    stock, locations = load_candidates(product_ids=product_ids)
    plan = plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
    raise insufficient_stock_for(needs=needs, plan=plan, stock=stock, locations=locations, request=request)


def reservations_release(
    *, order: Order, reservations: Sequence[Reservation], actor: Actor, reason: str
) -> None:
    """Give the active ones of ``reservations`` back to sale and mark them released (the caller
    holds the order lock). The ledger rows carry the order's reference, like its reservation rows."""
    active = [r for r in reservations if r.status == ReservationStatus.ACTIVE]
    if not active:
        return
    stock_release(
        lines=stock_lines_of(active),
        actor=actor,
        reference=f"order:{order.number}",
        reason=reason,
    )
    Reservation.objects.filter(pk__in=[r.pk for r in active]).update(
        status=ReservationStatus.RELEASED, updated_at=timezone.now()
    )
    for r in active:
        r.status = ReservationStatus.RELEASED
