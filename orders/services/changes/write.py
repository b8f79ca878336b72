"""Writing a change worked out in memory (``work``), in the caller's transaction with the order
locked: the stock the change gives back (one statement: the stock rows and their ledger rows),
the units it needs more of sourced and held with the reservations of them (one statement, as at
placement), then every other row in one write batch (one statement on PostgreSQL): the lines,
the reservations made smaller or released, the order's totals, the change rows, the timeline,
what fulfilment adjusts and the order's status (``hooks.change_applied``), and the
``order.changed`` outbox event.

A lost race for the units to hold (another order took them between the read and the reservation)
raises ``LostRace`` when the caller retries its whole transaction (``retry=True``: the durable
one of ``order_change``, placement's way, with no savepoint), or is retried in a savepoint."""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal

from inventory.errors import InsufficientStock
from inventory.services import StockLine, stock_release
from inventory.sourcing import Need, SourcingPlan, SourcingRequest, load_candidates, plan_sourcing
from oms.batch import WriteBatch
from oms.money import quantize
from orders import writes
from orders.choices import FulfillmentMethod, OrderEventKind, ReservationStatus
from orders.events import order_event_build
from orders.models import OrderLine, Reservation
from orders.services.reservations import (
    insufficient_stock_for,
    reservations_of_plan,
    reserve_for_needs,
    sourcing_request_for,
    stock_lines_for,
)

from .hooks import UNROUTED, ChangeApplied, change_applied
from .inputs import ChangeResult
from .work import ChangeWork


class LostRace(Exception):
    """The planned units were taken between the read and the reservation: change again."""


def change_write(
    *, work: ChangeWork, to_source: dict[int, int], confirmed: frozenset[int], retry: bool
) -> ChangeResult:
    order = work.order
    batch = WriteBatch.for_connection()
    # what the reservations routed to a location keep (0: nothing), before they are made smaller
    queued = {h.reservation.pk: h.remaining for h in work.held if h.release and h.state != UNROUTED}
    released, given_back = _release(work, batch)
    _lines(work, batch)
    reserved, backordered, new = _source_and_hold(work, to_source, batch, retry=retry, first=given_back)
    _totals(work, batch)
    for change in work.changes:  # a line added has its id only now
        change.line_id = change.line.pk if change.line is not None else None
    batch.add(*work.changes)
    money_delta = sum((c.money_delta for c in work.changes), Decimal("0"))
    batch.add(
        order_event_build(
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
    )
    # Fulfilment adjusts what its locations have not accepted and sets the order's status, in the
    # batch; the world hears of the change after commit.
    unrouted = bool(new) or any(h.state == UNROUTED and h.remaining for h in work.held)
    change_applied(
        ChangeApplied(
            order=order,
            lines=work.all_lines(),
            reservations=queued,
            has_unrouted=unrouted,
            actor=work.actor,
            confirmed_location_ids=confirmed,
            batch=batch,
        )
    )
    batch.publish(
        "order.changed",
        {
            "order_id": order.pk,
            "number": order.number,
            "revision": work.revision,
            "changes": [c.kind for c in work.changes],
            "money_delta": str(money_delta),
            "currency": order.currency,
        },
    )
    batch.write()
    return ChangeResult(
        order=order,
        revision=work.revision,
        changes=work.changes,
        money_delta=money_delta,
        lines=work.all_lines(),
        released_units=released,
        reserved_units=reserved,
        backordered_units=backordered,
    )


def _release(work: ChangeWork, batch: WriteBatch) -> tuple[int, list[Reservation]]:
    """Give back the units the change takes off held reservations: the stock (one ledger row per
    stock row), the reservations (fully released, or kept smaller with a released row for the
    units given back, so the trail adds up). Answers the units and those released rows, unsaved."""
    giving = [h for h in work.held if h.release]
    if not giving:
        return 0, []
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
    rows = []
    for h in giving:
        reservation = h.reservation
        if h.remaining == 0:
            reservation.status = ReservationStatus.RELEASED
            batch.change(reservation, ["status", "updated_at"])
            continue
        reservation.quantity = h.remaining
        batch.change(reservation, ["quantity", "updated_at"])
        rows.append(
            Reservation(
                order_id=order.pk,
                line_id=reservation.line_id,
                stock_level_id=reservation.stock_level_id,
                product_id=reservation.product_id,
                location_id=reservation.location_id,
                quantity=h.release,
                status=ReservationStatus.RELEASED,
            )
        )
    return sum(h.release for h in giving), rows


_LINE_FIELDS = ["quantity", "tax", "line_total", "quantity_cancelled", "quantity_backordered"]


def _lines(work: ChangeWork, batch: WriteBatch) -> None:
    for line in work.lines.values():
        if id(line) in work.touched:
            batch.change(line, _LINE_FIELDS)
    if work.new_lines:
        batch.given_keys(OrderLine, work.line_ids)  # drawn with the products (PostgreSQL)
        batch.keyed(work.new_lines)


def _source_and_hold(
    work: ChangeWork, to_source: dict[int, int], batch: WriteBatch, *, retry: bool, first: list[Reservation]
) -> tuple[int, int, list[Reservation]]:
    """Source and hold the units the change needs (the order's own released units count as
    free): 409 when they are not there, or backordered when the order allows it. The reservation
    rows ``first`` are written before the new ones (in their INSERT: the ids follow the trail).
    Answers the units held, those left waiting and the new reservations."""
    if not to_source:
        batch.add(*first)
        return 0, 0, []
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
    reference = f"order:{order.number}"
    if retry:
        plan = _plan(work, needs, request)
        new = reservations_of_plan(order_id=order.pk, plan=plan, line_id=lambda a: by_key[a.key].pk)
        if new:
            try:
                writes.reservations_reserve_and_insert(
                    lines=stock_lines_for(plan),
                    reservations=[*first, *new],
                    actor=work.actor,
                    reference=reference,
                    reason="order changed",
                )
            except InsufficientStock as exc:
                raise LostRace from exc
        else:
            batch.add(*first)
    else:
        plan, _locations = reserve_for_needs(
            needs=needs,
            request=request,
            actor=work.actor,
            reference=reference,
            allow_shortage=order.allow_backorder,
            reason="order changed",
        )
        new = reservations_of_plan(order_id=order.pk, plan=plan, line_id=lambda a: by_key[a.key].pk)
        Reservation.objects.bulk_create([*first, *new])
    for key, missing in plan.shortages.items():
        line = by_key[key]
        line.quantity_backordered += missing
        batch.change(line, ["quantity_backordered"])
    return sum(a.quantity for a in plan.allocations), sum(plan.shortages.values()), new


def _plan(work: ChangeWork, needs: list[Need], request: SourcingRequest) -> SourcingPlan:
    """The plan on the stock read with the products of the lines added, when it has every product
    to source and none of them had units given back just now (those are free only since); else
    on the stock read now. 409 ``insufficient_stock`` when units lack and the order does not wait."""
    product_ids = {n.product_id for n in needs}
    given_back = {h.reservation.product_id for h in work.held if h.release}
    read = work.candidates
    if read is not None and product_ids <= work.read_product_ids and not product_ids & given_back:
        stock = [s for s in read.stock if s.product_id in product_ids]
        locations = read.locations
    else:
        stock, locations = load_candidates(product_ids=product_ids)
    plan = plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
    if plan.shortages and not work.order.allow_backorder:
        raise insufficient_stock_for(
            needs=needs, plan=plan, stock=stock, locations=locations, request=request
        )
    return plan


def _totals(work: ChangeWork, batch: WriteBatch) -> None:
    order = work.order
    net, tax = work.money()
    order.subtotal = quantize(order.subtotal + net)
    order.tax_total = quantize(order.tax_total + tax)
    order.total = quantize(order.subtotal + order.tax_total + order.shipping_total)
    batch.change(
        order,
        [
            "method",
            "pickup_location",
            "shipping_address",
            "ship_latitude",
            "ship_longitude",
            "subtotal",
            "tax_total",
            "total",
            "updated_at",
        ],
    )


def _summary(work: ChangeWork, money_delta: Decimal) -> str:
    kinds = ", ".join(dict.fromkeys(c.get_kind_display().lower() for c in work.changes))
    text = f"Order changed ({kinds}); the total changes by {money_delta} {work.order.currency}"
    return f"{text}: {work.reason}." if work.reason else f"{text}."
