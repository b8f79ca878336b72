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
from inventory.services import check_quantity, location_get_by_code
from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from oms.models import Channel
from oms.money import quantize
from orders.choices import OrderEventKind
from orders.errors import IdempotencyKeyReused
from orders.events import order_event_record
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
from returns.selectors import (
    fulfilled_at_by_line,
    returnable_quantities,
)
from returns.services.common import MAX_LINES, ExchangeLineInput, ReturnCreated, ReturnLineInput, _lock
from returns.services.exchange import _exchange_create


def _window_days(order: Order) -> int:
    """The return window of the order's channel: OMS_RETURN_WINDOW_DAYS, unless the optional
    OMS_RETURN_WINDOW_DAYS_BY_CHANNEL setting ({channel code: days}) names the channel."""
    per_channel: dict[str, int] = getattr(settings, "OMS_RETURN_WINDOW_DAYS_BY_CHANNEL", {}) or {}
    return int(per_channel.get(order.channel.code, settings.OMS_RETURN_WINDOW_DAYS))


def _check_lines(lines: Sequence[ReturnLineInput]) -> None:
    if not lines:
        raise InvalidInput("A return needs at least one line.", code="empty_return")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"A return has at most {MAX_LINES} lines.", code="too_many_lines")
    seen: set[int] = set()
    for index, line in enumerate(lines):
        check_quantity(line.quantity, field=f"lines[{index}].quantity")
        if line.reason not in ReturnReason.values:
            raise InvalidInput(
                f"Unknown return reason '{line.reason}'.",
                code="unknown_return_reason",
                extra={"allowed": list(ReturnReason.values)},
            )
        if line.order_line_id in seen:
            raise InvalidInput(
                f"Order line {line.order_line_id} is listed twice.",
                code="duplicate_order_line",
                extra={"order_line": line.order_line_id},
            )
        seen.add(line.order_line_id)


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
    over = [
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
        skus = ", ".join(o["sku"] for o in over)  # type: ignore[misc]
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
    """Open a return (RMA) for units of an order, from any channel, at a location that accepts
    returns; optionally with an exchange order. Refused: units not fulfilled or already returned
    (409 ``return_exceeds_returnable``), past the channel's return window (409
    ``return_window_expired``, unless a manager passes ``override_window``), a location that does not
    take returns (422 ``location_not_accepting_returns``), a line of another order (422)."""
    if not (actor.is_staff or actor.is_channel or actor.is_system):
        raise PermissionDenied("Authenticate as a channel or as staff to open a return.")
    if method not in ReturnMethod.values:
        raise InvalidInput(
            f"Unknown return method '{method}'; use in_store or mail.",
            code="unknown_return_method",
            extra={"allowed": list(ReturnMethod.values)},
        )
    _check_lines(lines)
    if override_window and not (actor.is_manager or actor.is_system):
        raise WindowOverrideNotPermitted()
    visible = order_get_for_actor(order_id=order_id, actor=actor)  # 404 for what the actor may not see
    order, _ = _lock(order_id=visible.pk)
    if idempotency is not None:
        existing = Return.objects.filter(
            idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
        ).first()
        if existing is not None:
            if existing.request_hash != idempotency.request_hash:
                raise IdempotencyKeyReused(extra={"idempotency_key": idempotency.key})
            return ReturnCreated(rma=existing, replayed=True)
    channel = _returning_channel(actor=actor, order=order, channel_code=channel_code)
    location = _receiving_location(code=location_code, method=method, actor=actor)
    order_lines = {line.pk: line for line in OrderLine.objects.filter(order=order).order_by("line_number")}
    _check_returnable(order_lines=order_lines, lines=lines)
    window_days, late = _late_lines(order=order, lines=lines)
    if late and not override_window:
        raise ReturnWindowExpired(
            f"The {window_days}-day return window has passed for {len(late)} line(s); a manager may "
            "accept it with override_window.",
            extra={"window_days": window_days, "lines": late},
        )

    values = {
        line.order_line_id: quantize(
            order_lines[line.order_line_id].line_total
            * line.quantity
            / order_lines[line.order_line_id].quantity
        )
        for line in lines
    }
    count = Return.objects.filter(order=order).count()
    rma = Return.objects.create(
        number=f"{order.number}-R{count + 1}",
        order=order,
        channel=channel,
        method=method,
        location=location,
        window_overridden=bool(late),
        value=quantize(sum(values.values(), Decimal("0"))),
        created_by_type=actor.type,
        created_by=actor.name[:200],
        idempotency_scope=idempotency.scope if idempotency else "",
        idempotency_key=idempotency.key if idempotency else "",
        request_hash=idempotency.request_hash if idempotency else "",
    )
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
    order_event_record(
        order=order,
        kind=OrderEventKind.RETURN_REQUESTED,
        actor=actor,
        message=(
            f"Return {rma.number}: {sum(li.quantity for li in lines)} unit(s) {method.replace('_', ' ')} "
            f"to {location.code} via {channel.code}" + (" (window overridden)" if late else "")
        ),
        data={
            "return": rma.pk,
            "number": rma.number,
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
            "window_overridden": bool(late),
        },
    )
    if exchange_lines:
        _exchange_create(
            rma=rma, order=order, channel=channel, location=location, lines=exchange_lines, actor=actor
        )
    events.publish(
        topic="return.created",
        payload={
            "return_id": rma.pk,
            "number": rma.number,
            "order_id": order.pk,
            "channel": channel.code,
            "location": location.code,
            "exchange_order_id": rma.exchange_order_id,
        },
    )
    return ReturnCreated(rma=rma)
