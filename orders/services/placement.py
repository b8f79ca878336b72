"""Placing an order: accepted only with its stock held. One durable transaction (or the caller's,
for an exchange) checks the order, reads its products and stock, resolves the customer, plans the
sourcing, then writes the order and its lines, holds the units and records the timeline, the
idempotency record and the outbox row: five statements on PostgreSQL whatever the number of lines
(tests/orders/test_place.py), and one more to check the prices when a price list applies to the
channel (``orders.pricing``; tests/orders/test_price_lists.py). A lost race for the units places
the whole order again."""

from __future__ import annotations

import re
from collections.abc import Hashable
from decimal import Decimal
from typing import Literal

from django.db import IntegrityError, connection, transaction

from inventory.errors import InsufficientStock
from inventory.geocoding import delivery_point
from inventory.models import Location
from inventory.sourcing import (
    CandidateProduct,
    Candidates,
    Need,
    SourcingPlan,
    SourcingRequest,
    load_candidates_for_skus,
    plan_sourcing,
)
from inventory.transfers.planning import transfer_plan_for_pickup
from oms.actors import Actor
from oms.batch import WriteBatch
from oms.customers import customer_resolve
from oms.errors import DomainError
from oms.models import Channel, Customer
from oms.money import quantize
from oms.sql import next_ids
from orders import writes
from orders.choices import FulfillmentMethod, OrderEventKind, OrderStatus
from orders.errors import DuplicateExternalId
from orders.events import order_event_build
from orders.models import Order, OrderEvent, OrderLine, Reservation
from orders.pricing import check_order_prices

from .checks import check_order_input, check_products
from .idempotency import (
    EXPIRED,
    Forgotten,
    IdempotencyClaim,
    idempotency_duplicate_answer,
    idempotency_record_build,
    idempotency_replay,
)
from .inputs import OrderInput, PlacementResult, Renderer
from .loyalty import PointsTender, order_points_tender
from .payments import payment_rows_for_placement
from .reservations import (
    RESERVE_ATTEMPTS,
    insufficient_stock_for,
    reservations_of_plan,
    sourcing_request_for,
    stock_lines_for,
)
from .ship_to_store import transfers_for_pickup


class _LostRace(Exception):
    """The planned units were taken between the read and the reservation: plan again."""


def order_place(
    *,
    data: OrderInput,
    actor: Actor,
    idempotency: IdempotencyClaim | None = None,
    render: Renderer | None = None,
) -> PlacementResult:
    """Accept an order only with its stock held, once per idempotency key.

    Validate, resolve the customer, source and reserve every unit (or backorder it when allowed),
    and write the order, its lines, reservations, timeline and idempotency record in one durable
    transaction; routing starts on commit.

    With an idempotency claim, a repeat of the same request answers the first response; another
    body under the same key is refused (422); a concurrent duplicate waits for the first and
    answers its response. The key is not looked up beforehand: the unique (scope, key) index
    refuses the record of a repeat at the end of its transaction, which then rolls back and
    answers the stored response (a repeat is rare; a look-up on every order is not)."""
    for _attempt in range(2):  # a second time only after forgetting an expired key
        try:
            return _order_place(data=data, actor=actor, idempotency=idempotency, render=render)
        except IntegrityError as exc:
            answer = placement_duplicate_answer(exc, data=data, idempotency=idempotency)
            if answer is EXPIRED:
                continue
            return answer
        except DomainError:
            # A repeat (or a duplicate that waited on the first request's locks) may fail only
            # because the first took the units or sent the external_id: answer the first response.
            if idempotency is not None:
                replay = idempotency_replay(idempotency)
                if isinstance(replay, PlacementResult):
                    return replay
            raise
    raise RuntimeError("unreachable: an expired idempotency key is forgotten once")


def placement_duplicate_answer(
    exc: IntegrityError, *, data: OrderInput, idempotency: IdempotencyClaim | None
) -> PlacementResult | Literal[Forgotten.EXPIRED]:
    """A concurrent or earlier request committed first (the same idempotency key or the same
    external_id): its stored response, ``EXPIRED`` (the key is free again: place once more), or
    the error that says which."""
    if idempotency is not None:
        answer = idempotency_duplicate_answer(exc, idempotency, idempotency_replay)
        if answer is not None:
            return answer
    if data.external_id and Order.objects.filter(channel=data.channel, external_id=data.external_id).exists():
        raise DuplicateExternalId(extra={"external_id": data.external_id}) from exc
    raise exc


def order_place_in_transaction(
    *,
    data: OrderInput,
    actor: Actor,
    render: Renderer | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> PlacementResult:
    """``order_place`` inside the caller's transaction.

    For an exchange order that must commit or roll back with its return, or a cart's checkout
    (with its idempotency record: a repeated key fails the caller's transaction with an
    ``IntegrityError`` on the unique index, for the caller to answer). Each attempt runs in a
    savepoint, so a lost race undoes only that attempt."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_place_in_transaction must run inside the caller's transaction")
    for _attempt in range(RESERVE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _order_place_body(data=data, actor=actor, idempotency=idempotency, render=render)
        except _LostRace:
            continue
    raise _sold_out(data)


def _order_place(
    *, data: OrderInput, actor: Actor, idempotency: IdempotencyClaim | None, render: Renderer | None
) -> PlacementResult:
    """The durable transaction, placed again from the start when another order took the planned
    units between the read and the reservation (rare: the whole order is re-planned on fresh stock,
    without a savepoint per attempt)."""
    for _attempt in range(RESERVE_ATTEMPTS):
        try:
            with transaction.atomic(durable=True):
                return _order_place_body(data=data, actor=actor, idempotency=idempotency, render=render)
        except _LostRace:
            continue
    # Every attempt lost a race for the same units: the stock is being sold out right now.
    raise _sold_out(data)


def _sold_out(data: OrderInput) -> InsufficientStock:
    """The refusal after every attempt lost its race, computed from the stock as it is now."""
    _currency, pickup = check_order_input(data)
    candidates = load_candidates_for_skus(skus=[line.sku for line in data.lines])
    request, needs = _sourcing_for(data=data, pickup=pickup, products=candidates.products)
    plan = plan_sourcing(needs=needs, stock=candidates.stock, locations=candidates.locations, request=request)
    if not plan.shortages:  # the units came back meanwhile (a cancellation): the race goes on
        skus = sorted({line.sku for line in data.lines})
        return InsufficientStock(
            f"The stock of {', '.join(skus)} is being sold right now; please try again.",
            extra={"skus": skus, "shortages": []},
        )
    return insufficient_stock_for(
        needs=needs, plan=plan, stock=candidates.stock, locations=candidates.locations, request=request
    )


def _sourcing_for(
    *, data: OrderInput, pickup: Location | None, products: dict[str, CandidateProduct]
) -> tuple[SourcingRequest, list[Need]]:
    if pickup is not None:
        origin: tuple[float, float] | None = (float(pickup.latitude), float(pickup.longitude))
        note = ""
    else:  # the address's coordinates, or where the offline geocoder places it (no statement)
        origin, note = delivery_point(
            latitude=data.latitude, longitude=data.longitude, address=data.shipping_address
        )
    request = sourcing_request_for(
        method=data.method,
        channel=data.channel,
        origin=origin,
        pickup_location_id=pickup.pk if pickup else None,
        origin_note=note,
        nearby_radius_km=data.nearby_radius_km,
    )
    needs = [
        Need(key=index, product_id=products[line.sku].id, sku=line.sku, quantity=line.quantity)
        for index, line in enumerate(data.lines)
    ]
    return request, needs


# --- One attempt ----------------------------------------------------------------------------------


def _order_place_body(
    *, data: OrderInput, actor: Actor, idempotency: IdempotencyClaim | None, render: Renderer | None
) -> PlacementResult:
    """One attempt at placing, in the caller's (save)point: check and read, plan, then write the
    order and its lines, hold the units (last) and record the rest. Raises ``_LostRace``."""
    currency, pickup = check_order_input(data)
    if data.external_id and Order.objects.filter(channel=data.channel, external_id=data.external_id).exists():
        raise DuplicateExternalId(
            f"The channel already sent order '{data.external_id}'.", extra={"external_id": data.external_id}
        )
    # One round trip: the products, their stock rows with locations and today's load, and the
    # order's id (PostgreSQL draws it from the sequence in the same statement).
    candidates = load_candidates_for_skus(
        skus=[line.sku for line in data.lines], next_id_of=Order._meta.db_table
    )
    products = check_products([line.sku for line in data.lines], candidates.products)
    check_order_prices(channel=data.channel, lines=data.lines)  # one query, none without a list
    customer = customer_resolve(channel=data.channel, data=data.customer) if data.customer else None
    order_id = candidates.next_value if candidates.next_value is not None else _next_order_id()
    request, needs = _sourcing_for(data=data, pickup=pickup, products=products)
    plan = plan_sourcing(needs=needs, stock=candidates.stock, locations=candidates.locations, request=request)
    transfers = None  # ship-to-store: where the units the pickup store lacks come from
    if plan.shortages and (data.allow_transfer or not data.allow_backorder):
        transfers = _transfers_or_refusal(
            data=data, pickup=pickup, needs=needs, plan=plan, candidates=candidates, request=request
        )
    lines = _lines_build(data=data, order_id=order_id, products=products, plan=plan)
    order = _order_build(
        data=data,
        actor=actor,
        order_id=order_id,
        currency=currency,
        pickup=pickup,
        customer=customer,
        lines=lines,
    )
    lines = writes.order_and_lines_insert(order, lines)
    # Reserve last: the stock rows stay locked only for the rest of the transaction (the hot-row
    # lock of a flash sale), and a lost race rolls back what was written.
    reservations = _reserve(order=order, lines=lines, plan=plan, actor=actor)
    if transfers is not None:
        assert pickup is not None  # noqa: S101 (narrowing for mypy)
        try:
            transfers_for_pickup(order=order, plan=transfers, store=pickup, actor=actor)
        except InsufficientStock as exc:
            raise _LostRace from exc
    tender = order_points_tender(order=order, points=data.loyalty_points, actor=actor)
    result = PlacementResult(
        order=order,
        lines=lines,
        reservations=reservations,
        location_codes={loc_id: loc.code for loc_id, loc in candidates.locations.items()},
        plan_reason=plan.reason,
    )
    _answer_and_record(
        result, data=data, actor=actor, plan=plan, idempotency=idempotency, render=render, tender=tender
    )
    return result


def _transfers_or_refusal(
    *,
    data: OrderInput,
    pickup: Location | None,
    needs: list[Need],
    plan: SourcingPlan,
    candidates: Candidates,
    request: SourcingRequest,
) -> SourcingPlan | None:
    """A plan with shortages: the transfer plan of a pickup that allows one, None for a backorder,
    or the 409 ``insufficient_stock``."""
    stock, locations = candidates.stock, candidates.locations
    transfers = None
    if data.allow_transfer and pickup is not None:
        transfers = transfer_plan_for_pickup(
            needs=needs, plan=plan, stock=stock, locations=locations, request=request
        )
    if transfers is None and not data.allow_backorder:
        raise insufficient_stock_for(
            needs=needs, plan=plan, stock=stock, locations=locations, request=request
        )
    return transfers


def _next_order_id() -> int:
    """The id the new order will get, so its number is known before the INSERT (one statement)."""
    if connection.vendor == "postgresql":
        return next_ids(Order, 1)[0]
    with connection.cursor() as cursor:  # SQLite: writers are serialised, so max + 1 is safe
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM orders_order")
        return int(cursor.fetchone()[0])


def order_number_for(*, channel: Channel, order_id: int) -> str:
    """The order's number: the channel's code (letters and digits, at most 10) and its id."""
    prefix = re.sub(r"[^A-Z0-9]", "", channel.code.upper())[:10] or "ORD"
    return f"{prefix}-{order_id:07d}"


def _lines_build(
    *, data: OrderInput, order_id: int, products: dict[str, CandidateProduct], plan: SourcingPlan
) -> list[OrderLine]:
    """The order's unsaved lines, with their amounts and the units the plan left waiting."""
    lines: list[OrderLine] = []
    for index, line in enumerate(data.lines):
        unit_price, tax = quantize(line.unit_price), quantize(line.tax)
        lines.append(
            OrderLine(
                order_id=order_id,
                line_number=index + 1,
                product_id=products[line.sku].id,
                sku=line.sku,
                name=products[line.sku].name[:200],
                quantity=line.quantity,
                unit_price=unit_price,
                tax=tax,
                line_total=quantize(unit_price * line.quantity + tax),
                quantity_backordered=plan.shortages.get(index, 0),
            )
        )
    return lines


def _order_build(
    *,
    data: OrderInput,
    actor: Actor,
    order_id: int,
    currency: str,
    pickup: Location | None,
    customer: Customer | None,
    lines: list[OrderLine],
) -> Order:
    """The unsaved order: received, or backordered when some of its units wait for stock."""
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    tax_total = sum((line.tax for line in lines), Decimal("0"))
    shipping_total = quantize(data.shipping_total)
    backordered = any(line.quantity_backordered for line in lines)
    ship = data.method == FulfillmentMethod.SHIP
    return Order(
        id=order_id,
        channel=data.channel,
        customer=customer,
        external_id=data.external_id,
        number=order_number_for(channel=data.channel, order_id=order_id),
        status=OrderStatus.BACKORDERED if backordered else OrderStatus.RECEIVED,
        method=data.method,
        pickup_location=pickup,
        shipping_address=data.shipping_address if ship else {},
        ship_latitude=data.latitude if ship else None,
        ship_longitude=data.longitude if ship else None,
        currency=currency,
        subtotal=quantize(subtotal),
        tax_total=quantize(tax_total),
        shipping_total=shipping_total,
        total=quantize(subtotal + tax_total + shipping_total),
        allow_backorder=data.allow_backorder,
        placed_by_type=actor.type,
        placed_by_name=actor.name[:200],
    )


def _reserve(*, order: Order, lines: list[OrderLine], plan: SourcingPlan, actor: Actor) -> list[Reservation]:
    """Hold the plan's units for the written lines and write the reservations (one statement on
    PostgreSQL); ``_LostRace`` when another order took them since the read."""
    line_of: dict[Hashable, OrderLine] = dict(enumerate(lines))  # the plan's keys: line indexes
    reservations = reservations_of_plan(order_id=order.pk, plan=plan, line_id=lambda a: line_of[a.key].pk)
    if reservations:
        try:
            writes.reservations_reserve_and_insert(
                lines=stock_lines_for(plan),
                reservations=reservations,
                actor=actor,
                reference=f"order:{order.number}",
            )
        except InsufficientStock as exc:
            raise _LostRace from exc
    return reservations


def _answer_and_record(
    result: PlacementResult,
    *,
    data: OrderInput,
    actor: Actor,
    plan: SourcingPlan,
    idempotency: IdempotencyClaim | None,
    render: Renderer | None,
    tender: PointsTender | None = None,
) -> None:
    """Render the answer, then write the idempotency record (with the answer), the timeline and
    the ``order.created`` outbox row in one batch: one statement on PostgreSQL (a repeated key
    fails it on the unique index, and the transaction with it), one per table elsewhere."""
    order = result.order
    batch = WriteBatch.for_connection()
    if idempotency is not None:
        result.response = render(result) if render is not None else {"id": order.pk, "number": order.number}
        batch.add(idempotency_record_build(claim=idempotency, order=order, response=result.response))
    elif render is not None:
        result.response = render(result)
    batch.add(
        *_placement_timeline(
            order=order,
            lines=result.lines,
            plan=plan,
            location_codes=result.location_codes,
            data=data,
            actor=actor,
        )
    )
    if tender is not None:  # paid partly with loyalty points: its timeline row
        batch.add(tender.event)
    # the storefront's payment, if it sent one (a CTE more in the same statement on PostgreSQL)
    paid_with_points = tender.value if tender is not None else Decimal("0")
    batch.add(*payment_rows_for_placement(order=order, data=data.payment, paid_with_points=paid_with_points))
    batch.publish(
        "order.created", {"order_id": order.pk, "number": order.number, "channel": data.channel.code}
    )
    batch.write()


def _placement_timeline(
    *,
    order: Order,
    lines: list[OrderLine],
    plan: SourcingPlan,
    location_codes: dict[int, str],
    data: OrderInput,
    actor: Actor,
) -> list[OrderEvent]:
    """The timeline of a new order: placed, sourced (where each unit is held), and backordered
    when some units wait for stock."""
    timeline = [
        order_event_build(
            order=order,
            kind=OrderEventKind.PLACED,
            actor=actor,
            message=f"Order placed on {data.channel.code} ({data.method}).",
            data={"channel": data.channel.code, "total": str(order.total), "currency": order.currency},
        ),
        order_event_build(
            order=order,
            kind=OrderEventKind.SOURCED,
            actor=actor,
            message=plan.reason,
            data={
                "reservations": [
                    {"sku": a.sku, "location": location_codes[a.location_id], "quantity": a.quantity}
                    for a in plan.allocations
                ],
                "considered": plan.considered,
            },
        ),
    ]
    if any(line.quantity_backordered for line in lines):
        line_of: dict[Hashable, OrderLine] = dict(enumerate(lines))
        timeline.append(
            order_event_build(
                order=order,
                kind=OrderEventKind.BACKORDERED,
                actor=actor,
                message="Some units wait for stock.",
                data={"lines": {str(line_of[k].line_number): q for k, q in plan.shortages.items()}},
            )
        )
    return timeline
