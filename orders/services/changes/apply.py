"""Changing a placed order: one durable transaction locks the order, works the operations out on its
lines and held units (``work``), gives back the units it no longer needs, sources and holds the
units it needs more of with the sourcing engine (409 ``insufficient_stock`` and nothing changed
when they are not there), writes the lines, the totals, the change rows, the timeline and the
``order.changed`` outbox event, and lets fulfilment adjust the fulfilment orders its locations have
not accepted and set the order's status (``order.changing``, in the transaction). Routing and the
payment's adjustment follow after commit. A preview runs the same transaction and rolls it back.

Locking policy: ``orders.services.locks`` (order, then reservations, then stock rows)."""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from inventory.services import StockLine, stock_release
from inventory.sourcing import Need, load_candidates_for_skus
from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from oms.money import quantize
from orders.choices import FulfillmentMethod, OrderChangeKind, OrderEventKind, OrderStatus, ReservationStatus
from orders.errors import FulfillmentInProgress, OrderNotChangeable, RequestInProgress
from orders.events import order_event_record
from orders.models import Order, OrderChange, OrderChangeRequest, OrderLine, Reservation
from orders.services.checks import check_products
from orders.services.idempotency import (
    IdempotencyClaim,
    idempotency_claim_taken,
    idempotency_record_build,
    idempotency_replay,
)
from orders.services.inputs import PlacementResult
from orders.services.locks import order_lock
from orders.services.reservations import reservations_of_plan, reserve_for_needs, sourcing_request_for

from .hooks import QUEUED, STARTED, UNROUTED, reservation_work_states
from .inputs import ChangeInput, ChangeRenderer, ChangeResult, operations_to_json
from .work import ChangeWork, Held

MAX_OPERATIONS = 50


def order_change(
    *,
    order_id: int,
    data: ChangeInput,
    actor: Actor,
    preview: bool = False,
    wait_for_location: bool = False,
    idempotency: IdempotencyClaim | None = None,
    render: ChangeRenderer | None = None,
) -> ChangeResult:
    """Apply the operations to the order in one durable transaction, all or nothing, once per
    idempotency key; with ``preview`` the same work is done and rolled back (nothing is kept, no
    event leaves), and the answer says what the change would do. With ``wait_for_location`` a
    change that needs units a location has accepted is kept for that location to confirm (202)
    instead of refused (409)."""
    if preview:
        return _preview(order_id=order_id, data=data, actor=actor, render=render, wait=wait_for_location)
    if idempotency is not None:
        replayed = _replayed(idempotency)
        if replayed is not None:
            return replayed
    try:
        with transaction.atomic(durable=True):
            result = order_change_in_transaction(
                order_id=order_id, data=data, actor=actor, wait_for_location=wait_for_location
            )
            if render is not None:
                result.response = render(result)
            if idempotency is not None:
                response = result.response or {"order": result.order.pk, "revision": result.revision}
                record = idempotency_record_build(
                    claim=idempotency, order=result.order, response=response, status_code=result.status_code
                )
                record.save(force_insert=True)
            return result
    except IntegrityError:
        # a concurrent request with the same key committed first: its answer
        if idempotency is None:
            raise
        replayed = _replayed(idempotency)
        if replayed is not None:
            return replayed
        if idempotency_claim_taken(idempotency):
            raise RequestInProgress(extra={"idempotency_key": idempotency.key}) from None
        raise


def _replayed(claim: IdempotencyClaim) -> ChangeResult | None:
    """The stored answer to a repeated key (None: none, or it expired and was forgotten)."""
    replay = idempotency_replay(claim)
    if not isinstance(replay, PlacementResult):
        return None
    return ChangeResult(
        order=replay.order,
        revision=0,
        changes=[],
        money_delta=Decimal("0"),
        status_code=replay.status_code,
        response=replay.response,
        replayed=True,
    )


def _preview(
    *, order_id: int, data: ChangeInput, actor: Actor, render: ChangeRenderer | None, wait: bool
) -> ChangeResult:
    with transaction.atomic(durable=True):
        result = order_change_in_transaction(
            order_id=order_id, data=data, actor=actor, wait_for_location=wait
        )
        result.preview = True
        result.status_code = 200 if result.request is None else 202
        if render is not None:
            result.response = render(result)
        transaction.set_rollback(True)  # nothing is kept: rows, stock, outbox rows and tasks
    return result


def order_change_in_transaction(
    *,
    order_id: int,
    data: ChangeInput,
    actor: Actor,
    wait_for_location: bool = False,
    confirmed_location_ids: frozenset[int] = frozenset(),
) -> ChangeResult:
    """``order_change`` inside the caller's transaction (its body). ``confirmed_location_ids``:
    locations that confirmed a change request; their accepted units may be taken."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_change_in_transaction must run inside the caller's transaction")
    if not data.operations:
        raise InvalidInput("A change needs at least one operation.", code="empty_change")
    if len(data.operations) > MAX_OPERATIONS:
        raise InvalidInput(f"A change has at most {MAX_OPERATIONS} operations.", code="too_many_operations")
    order = order_lock(order_id=order_id, actor=actor)
    _check_may_change(order, actor)
    work = _work_for(order=order, data=data, actor=actor, confirmed=confirmed_location_ids)
    try:
        for op in data.operations:
            work.apply(op)
        to_source = work.finish()
    except FulfillmentInProgress:
        if not wait_for_location:
            raise
        return _wait_for_locations(work=work, data=data)  # nothing was written yet
    return _write(work=work, to_source=to_source, confirmed=confirmed_location_ids)


def _wait_for_locations(*, work: ChangeWork, data: ChangeInput) -> ChangeResult:
    """Keep the change for the locations working on the order's units to confirm."""
    started = sorted({h.reservation.location_id for h in work.held if h.state == STARTED})
    request = change_request_create(order=work.order, data=data, actor=work.actor, location_ids=started)
    return ChangeResult(
        order=work.order, revision=0, changes=[], money_delta=Decimal("0"), status_code=202, request=request
    )


def change_request_create(
    *, order: Order, data: ChangeInput, actor: Actor, location_ids: list[int]
) -> OrderChangeRequest:
    """Keep the change for the locations to answer (in the caller's transaction, order locked)."""
    request = OrderChangeRequest.objects.create(
        order=order,
        operations=operations_to_json(data.operations),
        reason=data.reason[:300],
        location_ids=sorted(location_ids),
        actor_type=actor.type,
        actor_name=actor.name[:200],
    )
    order_event_record(
        order=order,
        kind=OrderEventKind.CHANGE_REQUESTED,
        actor=actor,
        message="A change waits for the location working on its units.",
        data={"request": request.pk, "locations": request.location_ids, "reason": data.reason},
    )
    events.publish(
        topic="order.change_requested",
        payload={"order_id": order.pk, "request_id": request.pk, "location_ids": request.location_ids},
    )
    return request


def order_change_check_actor(*, order: Order, actor: Actor) -> None:
    """PermissionDenied unless the actor may change the order: its channel, a manager, the system."""
    owner = actor.is_channel and actor.channel_id == order.channel_id
    if not (actor.is_manager or actor.is_system or owner):
        raise PermissionDenied("Only the order's channel or a manager may change it.")


def _check_may_change(order: Order, actor: Actor) -> None:
    order_change_check_actor(order=order, actor=actor)
    if order.status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
        raise OrderNotChangeable(
            f"Order {order.number} is {order.status}; it can no longer be changed.",
            extra={"status": order.status},
        )


def _work_for(*, order: Order, data: ChangeInput, actor: Actor, confirmed: frozenset[int]) -> ChangeWork:
    """The order's lines, its held units with where each stands (units of a location that
    confirmed the change count as not started), and the products being added."""
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order).order_by("line_number")}
    reservations = list(
        Reservation.objects.filter(order=order, status=ReservationStatus.ACTIVE).order_by("pk")
    )
    states = reservation_work_states(order_id=order.pk) if reservations else {}
    held = [Held(reservation=r, state=_state(states.get(r.pk, UNROUTED), r, confirmed)) for r in reservations]
    skus = sorted({op.sku for op in data.operations if op.kind == OrderChangeKind.ADD_LINE and op.sku})
    products = check_products(skus, load_candidates_for_skus(skus=skus).products) if skus else {}
    last = OrderChange.objects.filter(order=order).aggregate(last=Max("revision"))["last"] or 0
    return ChangeWork(
        order=order,
        lines=lines,
        held=held,
        products=products,
        actor=actor,
        reason=data.reason,
        revision=last + 1,
    )


def _state(state: str, reservation: Reservation, confirmed: frozenset[int]) -> str:
    return QUEUED if state == STARTED and reservation.location_id in confirmed else state


# --- Writing ------------------------------------------------------------------------------------------


def _write(*, work: ChangeWork, to_source: dict[int, int], confirmed: frozenset[int]) -> ChangeResult:
    order = work.order
    # what the reservations routed to a location keep (0: nothing), before they are made smaller
    queued = {str(h.reservation.pk): h.remaining for h in work.held if h.release and h.state != UNROUTED}
    released = _release(work)
    _write_lines(work)
    reserved, backordered = _source_and_hold(work, to_source)
    _write_order(work)
    OrderChange.objects.bulk_create(work.changes)
    money_delta = sum((c.money_delta for c in work.changes), Decimal("0"))
    order_event_record(
        order=order,
        kind=OrderEventKind.CHANGED,
        actor=work.actor,
        message=_summary(work, money_delta),
        data={
            "revision": work.revision,
            "changes": [c.kind for c in work.changes],
            "money_delta": str(money_delta),
            "released_units": released,
            "reserved_units": reserved,
            "backordered_units": backordered,
            "reason": work.reason,
        },
    )
    # Fulfilment adjusts what its locations have not accepted and sets the order's status (in
    # the transaction, first); the world hears of the change after commit. One INSERT for both.
    changed = {
        "order_id": order.pk,
        "number": order.number,
        "revision": work.revision,
        "changes": [c.kind for c in work.changes],
        "money_delta": str(money_delta),
        "currency": order.currency,
    }
    events.publish_many(
        [
            (
                "order.changing",
                {
                    "order_id": order.pk,
                    "reservations": queued,
                    "actor": work.actor.name,
                    "confirmed_location_ids": sorted(confirmed),
                },
            ),
            ("order.changed", changed),
        ]
    )
    order.refresh_from_db(fields=["status", "status_before_hold", "allocated_at", "completed_at"])
    return ChangeResult(
        order=order,
        revision=work.revision,
        changes=work.changes,
        money_delta=money_delta,
        released_units=released,
        reserved_units=reserved,
        backordered_units=backordered,
    )


def _release(work: ChangeWork) -> int:
    """Give back the units the change takes off held reservations: the stock (one ledger row per
    stock row), the reservations (fully released, or kept smaller with a released row for the
    units given back, so the trail adds up)."""
    giving = [h for h in work.held if h.release]
    if not giving:
        return 0
    order = work.order
    stock_release(
        lines=[
            StockLine(
                stock_level_id=h.reservation.stock_level_id,
                product_id=h.reservation.product_id,
                location_id=h.reservation.location_id,
                quantity=h.release,
            )
            for h in giving
        ],
        actor=work.actor,
        reference=f"order:{order.number}",
        reason=f"order changed: {work.reason}"[:300] if work.reason else "order changed",
    )
    whole = [h for h in giving if h.remaining == 0]
    part = [h for h in giving if h.remaining > 0]
    if whole:
        Reservation.objects.filter(pk__in=[h.reservation.pk for h in whole]).update(
            status=ReservationStatus.RELEASED
        )
    for h in whole:
        h.reservation.status = ReservationStatus.RELEASED
    if part:
        now = timezone.now()
        smaller = [Reservation(pk=h.reservation.pk, quantity=h.remaining, updated_at=now) for h in part]
        Reservation.objects.bulk_update(smaller, ["quantity", "updated_at"])
        Reservation.objects.bulk_create(
            [
                Reservation(
                    order_id=order.pk,
                    line_id=h.reservation.line_id,
                    stock_level_id=h.reservation.stock_level_id,
                    product_id=h.reservation.product_id,
                    location_id=h.reservation.location_id,
                    quantity=h.release,
                    status=ReservationStatus.RELEASED,
                )
                for h in part
            ]
        )
    return sum(h.release for h in giving)


_LINE_FIELDS = ["quantity", "tax", "line_total", "quantity_cancelled", "quantity_backordered"]


def _write_lines(work: ChangeWork) -> None:
    touched = [line for line in work.lines.values() if id(line) in work.touched]
    if touched:
        OrderLine.objects.bulk_update(touched, _LINE_FIELDS)
    if work.new_lines:
        work.new_lines = OrderLine.objects.bulk_create(work.new_lines)


def _source_and_hold(work: ChangeWork, to_source: dict[int, int]) -> tuple[int, int]:
    """Source and hold the units the change needs (the order's own released units count as
    free): 409 when they are not there, or backordered when the order allows it."""
    if not to_source:
        return 0, 0
    order = work.order
    by_key: dict[Hashable, OrderLine] = {id(line): line for line in work.all_lines()}
    needs = [
        Need(key=key, product_id=by_key[key].product_id, sku=by_key[key].sku, quantity=units)
        for key, units in to_source.items()
    ]
    request = sourcing_request_for(
        method=order.method,
        channel=order.channel,
        origin=order.origin,
        pickup_location_id=order.pickup_location_id if order.method == FulfillmentMethod.PICKUP else None,
    )
    plan, _locations = reserve_for_needs(
        needs=needs,
        request=request,
        actor=work.actor,
        reference=f"order:{order.number}",
        allow_shortage=order.allow_backorder,
        reason="order changed",
    )
    Reservation.objects.bulk_create(
        reservations_of_plan(order_id=order.pk, plan=plan, line_id=lambda a: by_key[a.key].pk)
    )
    waiting = []
    for key, missing in plan.shortages.items():
        line = by_key[key]
        line.quantity_backordered += missing
        waiting.append(line)
    if waiting:
        OrderLine.objects.bulk_update(waiting, ["quantity_backordered"])
    return sum(a.quantity for a in plan.allocations), sum(plan.shortages.values())


def _write_order(work: ChangeWork) -> None:
    order = work.order
    net, tax = work.money()
    order.subtotal = quantize(order.subtotal + net)
    order.tax_total = quantize(order.tax_total + tax)
    order.total = quantize(order.subtotal + order.tax_total + order.shipping_total)
    order.save(
        update_fields=[
            "method",
            "pickup_location",
            "shipping_address",
            "ship_latitude",
            "ship_longitude",
            "subtotal",
            "tax_total",
            "total",
            "updated_at",
        ]
    )


def _summary(work: ChangeWork, money_delta: Decimal) -> str:
    kinds = ", ".join(dict.fromkeys(c.get_kind_display().lower() for c in work.changes))
    text = f"Order changed ({kinds}); the total changes by {money_delta} {work.order.currency}"
    return f"{text}: {work.reason}." if work.reason else f"{text}."
