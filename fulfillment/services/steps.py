"""The steps of a fulfilment order's lifecycle: their table (``STEPS``, by the status a step moves
to) and ``step_take``, the one function every step runs through. Which moves are allowed is the
model's table (``FULFILLMENT_TRANSITIONS``); a step here says what it consumes or releases, writes
and announces. The services that take the steps are in ``lifecycle`` and ``pickups``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import FulfillmentOrder, RoutingExclusion
from inventory.capacity import location_load_change
from inventory.choices import MovementKind
from inventory.services import stock_consume
from oms.actors import Actor
from oms.batch import WriteBatch
from orders.choices import OrderEventKind, ReservationStatus
from orders.events import order_event_build
from orders.models import Order, OrderLine, Reservation
from orders.services import reservations_release, stock_lines_of

from .locks import fulfillment_order_lock
from .pickup_codes import pickup_code_fields
from .status import order_status_sync

Note = tuple[str, dict[str, Any]]  # the timeline event's message and data


@dataclass
class Move:
    """A step under way: the locked order and fulfilment order, who acts, the step's inputs (a
    carrier, a reason ...), when, the fields it sets and the units its effect moved, by line."""

    order: Order
    fo: FulfillmentOrder
    actor: Actor
    inputs: Mapping[str, str]
    now: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    per_line: dict[int, int] = field(default_factory=dict)

    @property
    def units(self) -> int:
        return sum(self.per_line.values())


def _no_fields(move: Move) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Step:
    """One step: the status it moves to, the timeline event it writes (``kind``; ``note`` gives its
    message and data), the fields it sets besides the status, what it first does to the units
    (``effect``: consume or release them) and the outbox topic that announces it (None: none)."""

    target: str
    kind: str
    note: Callable[[Move], Note]
    fields: Callable[[Move], dict[str, Any]] = _no_fields
    effect: Callable[[Move], None] | None = None
    topic: str | None = None


# --- The one step function ------------------------------------------------------------------------


def step_take(
    target: str,
    *,
    fulfillment_order_id: int,
    actor: Actor,
    inputs: Mapping[str, str] | None = None,
    due: Callable[[FulfillmentOrder], bool] | None = None,
    guard: Callable[[Order, FulfillmentOrder, Actor], None] | None = None,
) -> tuple[FulfillmentOrder, bool]:
    """Move the fulfilment order to ``target`` once, by its step; returns it and whether it moved.

    Caller: a durable transaction. Already there, or not ``due`` (an expiry before its deadline):
    nothing changes, so a repeated click or task is a no-op. Otherwise the move must be allowed
    (409) and its ``guard`` (a pickup's code) must not raise; then the step's effect runs, and the
    fulfilment order's fields, its timeline event, the order's status and the outbox event are
    written in one batch (``oms.batch``)."""
    step = STEPS[target]
    order, fo = fulfillment_order_lock(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if fo.status == step.target or (due is not None and not due(fo)):
        return fo, False
    if guard is not None:
        guard(order, fo, actor)
    fo.require_transition(step.target)
    move = Move(order=order, fo=fo, actor=actor, inputs=inputs or {}, now=timezone.now())
    if step.effect is not None:
        step.effect(move)
    move.fields = step.fields(move)
    fo.status = step.target
    for name, value in move.fields.items():
        setattr(fo, name, value)
    _write_step(step, move)
    return fo, True


def _write_step(step: Step, move: Move) -> None:
    """The step's writes, in one batch: the fulfilment order's fields, its timeline event, the
    order's status (and its own event and milestone) and the step's outbox event."""
    order, fo = move.order, move.fo
    batch = WriteBatch.for_connection()
    batch.change(fo, ["status", *move.fields, "updated_at"])
    message, data = step.note(move)
    batch.add(order_event_build(order=order, kind=step.kind, actor=move.actor, message=message, data=data))
    order_status_sync(order=order, actor=move.actor, batch=batch, stepped=fo)
    if step.topic:
        payload: dict[str, Any] = {
            "fulfillment_order_id": fo.pk,
            "order_id": order.pk,
            "location": fo.location.code,
        }
        if move.per_line:  # the units the step moved, by order line (payments capture their value)
            payload["lines"] = {str(line_id): units for line_id, units in move.per_line.items()}
        batch.publish(step.topic, payload)
    batch.write()


# --- Effects: what a step does to the units -------------------------------------------------------


def _fo_reservations(fo: FulfillmentOrder) -> list[Reservation]:
    return list(
        Reservation.objects.filter(
            fulfillment_line__fulfillment_order=fo, status=ReservationStatus.ACTIVE
        ).order_by("pk")
    )


def _per_line(reservations: Iterable[Reservation]) -> dict[int, int]:
    per_line: dict[int, int] = defaultdict(int)
    for r in reservations:
        per_line[r.line_id] += r.quantity
    return per_line


def _count_on_lines(per_line: Mapping[int, int], counter: str) -> None:
    """Add each line's units to its ``counter`` (quantity_fulfilled, _backordered, _cancelled)."""
    for line_id, quantity in per_line.items():
        OrderLine.objects.filter(pk=line_id).update(**{counter: F(counter) + quantity})


def _consume(*, order: Order, fo: FulfillmentOrder, actor: Actor, kind: str, reason: str) -> dict[int, int]:
    """Units leave the building: on_hand and reserved drop, reservations are consumed, lines count
    the units as fulfilled. Returns the units by order line."""
    reservations = _fo_reservations(fo)
    if not reservations:
        return {}
    stock_consume(
        lines=stock_lines_of(reservations),
        actor=actor,
        reference=f"order:{order.number}",
        reason=reason,
        kind=kind,
    )
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(
        status=ReservationStatus.CONSUMED, updated_at=timezone.now()
    )
    per_line = _per_line(reservations)
    _count_on_lines(per_line, "quantity_fulfilled")
    return per_line


def _units_leave(verb: str) -> Callable[[Move], None]:
    """The effect of a step that hands the units over (shipped, handed over): consumed."""

    def effect(move: Move) -> None:
        move.per_line = _consume(
            order=move.order,
            fo=move.fo,
            actor=move.actor,
            kind=MovementKind.SHIPMENT,
            reason=f"{verb} {move.fo.number}",
        )

    return effect


_ship_out = _units_leave("shipped")
_hand_over = _units_leave("handed over")


def _units_back(move: Move, *, status: str, why: str, counter: str) -> None:
    """Close an open fulfilment order: release its units, give back its capacity for its day, and
    count the units on their lines as ``counter``."""
    fo = move.fo
    reservations = _fo_reservations(fo)
    reservations_release(
        order=move.order, reservations=reservations, actor=move.actor, reason=f"{status}: {why}"[:300]
    )
    location_load_change(location_id=fo.location_id, day=fo.day, delta=-1)
    move.per_line = _per_line(reservations)
    _count_on_lines(move.per_line, counter)


def _reject(move: Move) -> None:
    """Rejected: the units are released and wait, backordered, for the router to source them
    elsewhere; the location is excluded for this order."""
    reason = move.inputs["reason"]
    _units_back(move, status=FulfillmentStatus.REJECTED, why=reason, counter="quantity_backordered")
    RoutingExclusion.objects.get_or_create(
        order=move.order, location=move.fo.location, defaults={"reason": reason[:300]}
    )


def _expire(move: Move) -> None:
    """Not collected in time: the units go back on sale and are cancelled on their lines."""
    _units_back(move, status=FulfillmentStatus.EXPIRED, why="not collected", counter="quantity_cancelled")


# --- What each step sets and says -----------------------------------------------------------------


def pickup_hold_until(fo: FulfillmentOrder, now: datetime) -> datetime:
    """When a pickup made ready at ``now`` expires: the location's hold days, else the default."""
    days = fo.location.pickup_hold_days
    return now + timedelta(days=days if days is not None else settings.OMS_PICKUP_HOLD_DAYS)


def _at(word: str) -> Callable[[Move], Note]:
    """The note of a plain step: "<number> at <location>: <word>", with the fields it set."""

    def note(move: Move) -> Note:
        fo = move.fo
        return f"{fo.number} at {fo.location.code}: {word}", {
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            **{k: str(v) for k, v in move.fields.items()},
        }

    return note


def _ready_note(move: Move) -> Note:
    fo, expires_at = move.fo, move.fields["pickup_expires_at"]
    message = f"{fo.number} ready for pickup at {fo.location.code} until {expires_at:%Y-%m-%d %H:%M} UTC"
    return message, {
        "fulfillment_order": fo.pk,
        "location": fo.location.code,
        "expires_at": expires_at.isoformat(),
    }


def _shipped_note(move: Move) -> Note:
    fo, carrier, tracking_number = move.fo, move.inputs["carrier"], move.inputs["tracking_number"]
    return f"{fo.number} shipped from {fo.location.code} with {carrier} ({tracking_number})", {
        "fulfillment_order": fo.pk,
        "carrier": carrier,
        "tracking_number": tracking_number,
        "units": move.units,
    }


def _picked_up_note(move: Move) -> Note:
    fo = move.fo
    return f"{fo.number} handed over at {fo.location.code}", {"fulfillment_order": fo.pk, "units": move.units}


def _rejected_note(move: Move) -> Note:
    fo, reason = move.fo, move.inputs["reason"]
    return f"{fo.number} rejected by {fo.location.code}: {reason}"[:500], {
        "fulfillment_order": fo.pk,
        "location": fo.location.code,
        "reason": reason,
        "units": move.units,
    }


def _expired_note(move: Move) -> Note:
    fo = move.fo
    message = (
        f"{fo.number} was not collected at {fo.location.code} in time; {move.units} unit(s) back on sale"
    )
    return message, {"fulfillment_order": fo.pk, "lines": {str(k): v for k, v in move.per_line.items()}}


def _accepted(move: Move) -> dict[str, Any]:
    return {"accepted_at": move.now}


def _shipped(move: Move) -> dict[str, Any]:
    carrier, tracking_number = move.inputs["carrier"], move.inputs["tracking_number"]
    return {"carrier": carrier[:64], "tracking_number": tracking_number[:128], "completed_at": move.now}


def _ready(move: Move) -> dict[str, Any]:
    return {
        "ready_at": move.now,
        "pickup_expires_at": pickup_hold_until(move.fo, move.now),
        **pickup_code_fields(),
    }


def _completed(move: Move) -> dict[str, Any]:
    return {"completed_at": move.now}


def _rejected(move: Move) -> dict[str, Any]:
    return {"closed_at": move.now, "reject_reason": move.inputs["reason"][:300]}


def _closed(move: Move) -> dict[str, Any]:
    return {"closed_at": move.now}


S, K = FulfillmentStatus, OrderEventKind
# The lifecycle's steps, by the status each moves to: (target, event kind, note, fields, effect, topic).
STEPS: dict[str, Step] = {
    step.target: step
    for step in (
        Step(S.ACCEPTED, K.FULFILLMENT_ACCEPTED, _at("accepted"), _accepted, None, "fulfillment.accepted"),
        Step(S.PICKED, K.FULFILLMENT_PICKED, _at("picked")),
        Step(S.PACKED, K.FULFILLMENT_PACKED, _at("packed")),
        Step(S.SHIPPED, K.SHIPPED, _shipped_note, _shipped, _ship_out, "fulfillment.shipped"),
        Step(
            S.READY_FOR_PICKUP, K.READY_FOR_PICKUP, _ready_note, _ready, None, "fulfillment.ready_for_pickup"
        ),
        Step(S.PICKED_UP, K.PICKED_UP, _picked_up_note, _completed, _hand_over, "fulfillment.picked_up"),
        Step(S.REJECTED, K.FULFILLMENT_REJECTED, _rejected_note, _rejected, _reject, "fulfillment.rejected"),
        Step(S.EXPIRED, K.PICKUP_EXPIRED, _expired_note, _closed, _expire, "fulfillment.pickup_expired"),
    )
}
