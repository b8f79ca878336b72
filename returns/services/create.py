"""Opening a return: ``return_create`` and the checks of what may still be returned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.choices import LocationKind
from inventory.models import Location
from inventory.services import location_get_by_code
from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from oms.models import Channel
from oms.money import quantize
from orders.choices import OrderEventKind
from orders.models import Order, OrderLine
from orders.selectors import order_get_for_actor
from orders.services import IdempotencyClaim
from returns.choices import ReturnMethod, ReturnReason
from returns.errors import (
    LocationNotAcceptingReturns,
    LocationNotPermitted,
    OrderLineNotInOrder,
    ReturnExceedsReturnable,
    ReturnWindowExpired,
    WindowOverrideNotPermitted,
)
from returns.models import Return, ReturnLine
from returns.selectors import fulfilled_at_by_line, returnable_quantities
from returns.services.common import (
    ExchangeLineInput,
    ReturnCreated,
    ReturnLineInput,
    _check_choice,
    _check_each,
    _claim_fields,
    _lock_order,
    _replayed,
    _return_event_record,
    _return_publish,
)
from returns.services.exchange import _exchange_create


def _window_days(order: Order) -> int:
    """The return window of the order's channel: OMS_RETURN_WINDOW_DAYS, unless the optional
    OMS_RETURN_WINDOW_DAYS_BY_CHANNEL setting ({channel code: days}) names the channel."""
    per_channel: dict[str, int] = getattr(settings, "OMS_RETURN_WINDOW_DAYS_BY_CHANNEL", {}) or {}
    return int(per_channel.get(order.channel.code, settings.OMS_RETURN_WINDOW_DAYS))


def _check_request(
    *, method: str, lines: Sequence[ReturnLineInput], actor: Actor, override_window: bool
) -> None:
    """What can be refused before anything is read: who asks, the method, the lines, the override."""
    if not (actor.is_staff or actor.is_channel or actor.is_system):
        raise PermissionDenied("Authenticate as a channel or as staff to open a return.")
    _check_choice(method, ReturnMethod.values, what="return method", hint="in_store or mail")
    _check_lines(lines)
    if override_window and not (actor.is_manager or actor.is_system):
        raise WindowOverrideNotPermitted()


def _check_lines(lines: Sequence[ReturnLineInput]) -> None:
    seen: set[int] = set()

    def check(line: ReturnLineInput) -> None:
        _check_choice(line.reason, ReturnReason.values, what="return reason")
        if line.order_line_id in seen:
            raise InvalidInput(
                f"Order line {line.order_line_id} is listed twice.",
                code="duplicate_order_line",
                extra={"order_line": line.order_line_id},
            )
        seen.add(line.order_line_id)

    _check_each(
        lines,
        check,
        noun="A return",
        empty_message="A return needs at least one line.",
        empty_code="empty_return",
    )


def _receiving_location(*, code: str, method: str, actor: Actor) -> Location:
    location = location_get_by_code(code=code)  # 422 unknown_location
    if not (location.active and location.accepts_returns):
        raise LocationNotAcceptingReturns(
            f"{location.code} does not accept returns.", extra={"location": location.code}
        )
    if method == ReturnMethod.IN_STORE and location.kind != LocationKind.STORE:
        raise InvalidInput(
            f"An in-store return is received at a store; {location.code} is a {location.kind}.",
            code="location_not_a_store",
            extra={"location": location.code},
        )
    if actor.is_associate and not actor.may_act_at(location.pk):
        raise LocationNotPermitted(
            f"You may take returns only at your own locations, not at {location.code}.",
            extra={"location": location.code},
        )
    return location


def _returning_channel(*, actor: Actor, order: Order, channel_code: str) -> Channel:
    if actor.is_channel and actor.channel_id is not None:
        return Channel.objects.get(pk=actor.channel_id)
    if not channel_code:
        return order.channel
    channel = Channel.objects.filter(code=channel_code).first()
    if channel is None:
        raise InvalidInput(
            f"Unknown channel '{channel_code}'.", code="unknown_channel", extra={"channel": channel_code}
        )
    return channel


def _check_returnable(*, order_lines: dict[int, OrderLine], lines: Sequence[ReturnLineInput]) -> None:
    foreign = sorted(line.order_line_id for line in lines if line.order_line_id not in order_lines)
    if foreign:
        raise OrderLineNotInOrder(
            f"Order line(s) {', '.join(map(str, foreign))} are not lines of this order.",
            extra={"order_lines": foreign},
        )
    remaining = returnable_quantities(lines=list(order_lines.values()))
    over: list[dict[str, Any]] = [
        {
            "order_line": line.order_line_id,
            "sku": order_lines[line.order_line_id].sku,
            "requested": line.quantity,
            "returnable": remaining[line.order_line_id],
        }
        for line in lines
        if line.quantity > remaining[line.order_line_id]
    ]
    if over:
        skus = ", ".join(o["sku"] for o in over)
        raise ReturnExceedsReturnable(
            f"More units than can be returned for: {skus}. Only shipped or collected units that are not "
            "already returned (or in an open return) can be.",
            extra={"lines": over, "returnable": {str(k): v for k, v in remaining.items()}},
        )


def _late_lines(*, order: Order, lines: Sequence[ReturnLineInput]) -> tuple[int, list[dict[str, Any]]]:
    days = _window_days(order)
    fulfilled = fulfilled_at_by_line(order=order, order_line_ids=[line.order_line_id for line in lines])
    now = timezone.now()
    late = []
    for line in lines:
        deadline = fulfilled[line.order_line_id] + timedelta(days=days)
        if now > deadline:
            late.append(
                {
                    "order_line": line.order_line_id,
                    "fulfilled_at": fulfilled[line.order_line_id].isoformat(),
                    "deadline": deadline.isoformat(),
                }
            )
    return days, late


def _check_window(*, order: Order, lines: Sequence[ReturnLineInput], override_window: bool) -> bool:
    """Whether some line is past the return window (409 unless ``override_window``)."""
    window_days, late = _late_lines(order=order, lines=lines)
    if late and not override_window:
        raise ReturnWindowExpired(
            f"The {window_days}-day return window has passed for {len(late)} line(s); a manager may "
            "accept it with override_window.",
            extra={"window_days": window_days, "lines": late},
        )
    return bool(late)


def _order_lines(order: Order) -> dict[int, OrderLine]:
    return {line.pk: line for line in OrderLine.objects.filter(order=order).order_by("line_number")}


def _line_values(
    *, lines: Sequence[ReturnLineInput], order_lines: dict[int, OrderLine]
) -> dict[int, Decimal]:
    """What each returned line's units were paid: its ``line_total`` pro rata, tax included."""
    values = {}
    for line in lines:
        paid = order_lines[line.order_line_id]
        values[line.order_line_id] = quantize(paid.line_total * line.quantity / paid.quantity)
    return values


def _next_number(order: Order) -> str:
    """``<order number>-R<n>``: the order's n-th return (the order row is locked)."""
    return f"{order.number}-R{Return.objects.filter(order=order).count() + 1}"


def _lines_write(*, rma: Return, lines: Sequence[ReturnLineInput], values: dict[int, Decimal]) -> None:
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                rma=rma,
                order_line_id=line.order_line_id,
                quantity=line.quantity,
                reason=line.reason,
                note=line.note[:300],
                value=values[line.order_line_id],
            )
            for line in lines
        ]
    )


def _record_requested(
    *, rma: Return, lines: Sequence[ReturnLineInput], order_lines: dict[int, OrderLine], actor: Actor
) -> None:
    """The order's ``return_requested`` event."""
    method, location, channel = rma.method, rma.location, rma.channel
    overridden = " (window overridden)" if rma.window_overridden else ""
    _return_event_record(
        rma,
        rma.order,
        kind=OrderEventKind.RETURN_REQUESTED,
        actor=actor,
        message=(
            f"Return {rma.number}: {sum(li.quantity for li in lines)} unit(s) {method.replace('_', ' ')} "
            f"to {location.code} via {channel.code}{overridden}"
        ),
        data={
            "method": method,
            "location": location.code,
            "channel": channel.code,
            "value": str(rma.value),
            "lines": [
                {
                    "order_line": li.order_line_id,
                    "sku": order_lines[li.order_line_id].sku,
                    "quantity": li.quantity,
                    "reason": li.reason,
                }
                for li in lines
            ],
            "window_overridden": rma.window_overridden,
        },
    )


@transaction.atomic(durable=True)
def return_create(
    *,
    order_id: int | str,
    method: str,
    location_code: str,
    lines: Sequence[ReturnLineInput],
    actor: Actor,
    channel_code: str = "",
    exchange_lines: Sequence[ExchangeLineInput] = (),
    override_window: bool = False,
    idempotency: IdempotencyClaim | None = None,
) -> ReturnCreated:
    """Open a return of units fulfilled and not yet returned, with its exchange order, or write nothing.

    From any channel, at a location that accepts returns. Refused: units not fulfilled or already
    returned (409 ``return_exceeds_returnable``), past the channel's return window (409
    ``return_window_expired``, unless a manager passes ``override_window``), a location that does not
    take returns (422 ``location_not_accepting_returns``), a line of another order (422). A repeated
    idempotency key with the same request gives the first return back (``replayed``)."""
    _check_request(method=method, lines=lines, actor=actor, override_window=override_window)
    visible = order_get_for_actor(order_id=order_id, actor=actor)  # 404 for what the actor may not see
    order = _lock_order(order_id=visible.pk)
    if idempotency is not None:
        hash_ = idempotency.request_hash
        existing = _replayed(Return.objects, idempotency, same=lambda rma: rma.request_hash == hash_)
        if existing is not None:
            return ReturnCreated(rma=existing, replayed=True)
    channel = _returning_channel(actor=actor, order=order, channel_code=channel_code)
    location = _receiving_location(code=location_code, method=method, actor=actor)
    order_lines = _order_lines(order)
    _check_returnable(order_lines=order_lines, lines=lines)
    overridden = _check_window(order=order, lines=lines, override_window=override_window)

    values = _line_values(lines=lines, order_lines=order_lines)
    rma = Return.objects.create(
        number=_next_number(order),
        order=order,
        channel=channel,
        method=method,
        location=location,
        window_overridden=overridden,
        value=quantize(sum(values.values(), Decimal("0"))),
        created_by_type=actor.type,
        created_by=actor.name[:200],
        request_hash=idempotency.request_hash if idempotency else "",
        **_claim_fields(idempotency),
    )
    _lines_write(rma=rma, lines=lines, values=values)
    _record_requested(rma=rma, lines=lines, order_lines=order_lines, actor=actor)
    if exchange_lines:
        _exchange_create(
            rma=rma, order=order, channel=channel, location=location, lines=exchange_lines, actor=actor
        )
    _publish_created(rma)
    return ReturnCreated(rma=rma)


def _publish_created(rma: Return) -> None:
    """The ``return.created`` topic (after the exchange, which it names)."""
    _return_publish(
        rma,
        "return.created",
        channel=rma.channel.code,
        location=rma.location.code,
        exchange_order_id=rma.exchange_order_id,
    )
