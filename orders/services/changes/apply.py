"""Changing a placed order: one durable transaction locks the order, works the operations out on its
lines and held units (``work``), then writes it (``write``): gives back the units it no longer
needs, sources and holds the units it needs more of with the sourcing engine (409
``insufficient_stock`` and nothing changed when they are not there), writes the lines, the totals,
the change rows, the timeline and the ``order.changed`` outbox event, and lets fulfilment adjust
the fulfilment orders its locations have not accepted and set the order's status
(``hooks.change_applied``, in the transaction). Routing and the payment's adjustment follow after
commit. A preview runs the same transaction and rolls it back.

Locking policy: ``orders.services.locks`` (order, then reservations, then stock rows)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Subquery

from inventory.sourcing import load_candidates_for_skus
from oms import events
from oms.actors import Actor
from oms.errors import DomainError, InvalidInput, PermissionDenied
from oms.sql import Prepared, read_together
from orders.choices import OrderChangeKind, OrderEventKind, OrderStatus, ReservationStatus
from orders.errors import FulfillmentInProgress, OrderNotChangeable, OrderNotFound
from orders.events import order_event_record
from orders.models import Order, OrderChange, OrderChangeRequest, OrderLine, Reservation
from orders.services.checks import check_products
from orders.services.idempotency import (
    EXPIRED,
    Forgotten,
    IdempotencyClaim,
    idempotency_duplicate_answer,
    idempotency_record_build,
    idempotency_replay,
)
from orders.services.inputs import PlacementResult
from orders.services.locks import order_lock_queryset
from orders.services.reservations import RESERVE_ATTEMPTS

from .hooks import QUEUED, STARTED, with_work_states, work_state
from .inputs import ChangeInput, ChangeRenderer, ChangeResult, operations_to_json
from .work import ChangeWork, Held
from .write import LostRace, change_write

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
    instead of refused (409).

    As at placement, the key is not looked up beforehand: the unique (scope, key) index refuses
    the record of a repeat at the end of its transaction, which then rolls back and answers the
    stored response; a repeat that fails (its units were taken by the first) answers it too."""
    for _attempt in range(2):  # a second time only after forgetting an expired key
        try:
            return _order_change(
                order_id=order_id,
                data=data,
                actor=actor,
                preview=preview,
                wait=wait_for_location,
                idempotency=idempotency,
                render=render,
            )
        except IntegrityError as exc:
            # a concurrent or earlier request with the same key committed first: its answer
            answer = idempotency_duplicate_answer(exc, idempotency, _replayed) if idempotency else None
            if answer is EXPIRED:
                continue
            if answer is not None:
                return answer
            raise
        except DomainError:
            if idempotency is not None:
                replayed = _replayed(idempotency)
                if isinstance(replayed, ChangeResult):
                    return replayed
            raise
    raise RuntimeError("unreachable: an expired idempotency key is forgotten once")


def _order_change(
    *,
    order_id: int,
    data: ChangeInput,
    actor: Actor,
    preview: bool,
    wait: bool,
    idempotency: IdempotencyClaim | None,
    render: ChangeRenderer | None,
) -> ChangeResult:
    """The durable transaction, made again from the start when another order took the planned
    units between the read and the reservation (the last attempt retries in a savepoint)."""
    for attempt in range(RESERVE_ATTEMPTS):
        try:
            with transaction.atomic(durable=True):
                result = order_change_in_transaction(
                    order_id=order_id,
                    data=data,
                    actor=actor,
                    wait_for_location=wait,
                    retry=attempt < RESERVE_ATTEMPTS - 1,
                )
                if preview:
                    result.preview = True
                    result.status_code = 200 if result.request is None else 202
                if render is not None:
                    result.response = render(result)
                if preview:
                    transaction.set_rollback(True)  # nothing is kept: rows, stock, outbox rows and tasks
                elif idempotency is not None:
                    response = result.response or {"order": result.order.pk, "revision": result.revision}
                    record = idempotency_record_build(
                        claim=idempotency,
                        order=result.order,
                        response=response,
                        status_code=result.status_code,
                    )
                    record.save(force_insert=True)
                return result
        except LostRace:
            continue
    raise RuntimeError("unreachable: the last attempt retries its lost races in a savepoint")


def _replayed(claim: IdempotencyClaim) -> ChangeResult | Literal[Forgotten.EXPIRED] | None:
    """The stored answer to a repeated key (None: none; ``EXPIRED``: it expired and was forgotten)."""
    replay = idempotency_replay(claim)
    if not isinstance(replay, PlacementResult):
        return replay
    return ChangeResult(
        order=replay.order,
        revision=0,
        changes=[],
        money_delta=Decimal("0"),
        status_code=replay.status_code,
        response=replay.response,
        replayed=True,
    )


def order_change_in_transaction(
    *,
    order_id: int,
    data: ChangeInput,
    actor: Actor,
    wait_for_location: bool = False,
    confirmed_location_ids: frozenset[int] = frozenset(),
    retry: bool = False,
) -> ChangeResult:
    """``order_change`` inside the caller's transaction (its body). ``confirmed_location_ids``:
    locations that confirmed a change request; their accepted units may be taken. ``retry``: the
    caller makes its whole transaction again on ``LostRace`` (else a lost race for the units is
    retried in a savepoint)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_change_in_transaction must run inside the caller's transaction")
    if not data.operations:
        raise InvalidInput("A change needs at least one operation.", code="empty_change")
    if len(data.operations) > MAX_OPERATIONS:
        raise InvalidInput(f"A change has at most {MAX_OPERATIONS} operations.", code="too_many_operations")
    work = _work_for(order_id=order_id, data=data, actor=actor, confirmed=confirmed_location_ids)
    try:
        for op in data.operations:
            work.apply(op)
        to_source = work.finish()
    except FulfillmentInProgress:
        if not wait_for_location:
            raise
        return _wait_for_locations(work=work, data=data)  # nothing was written yet
    return change_write(work=work, to_source=to_source, confirmed=confirmed_location_ids, retry=retry)


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


# compiled once per process (oms.sql.Prepared)
_lines_of = Prepared(lambda order_id: OrderLine.objects.filter(order_id=order_id).order_by("line_number"))
_held_of = Prepared(
    lambda order_id: with_work_states(
        Reservation.objects.filter(order_id=order_id, status=ReservationStatus.ACTIVE).order_by("pk")
    )
)


def _work_for(*, order_id: int, data: ChangeInput, actor: Actor, confirmed: frozenset[int]) -> ChangeWork:
    """The order locked (``order_lock``: 404, then 403, then refused if closed), with its customer,
    pickup store and last revision, its lines, its held units with where each stands (units of a
    location that confirmed the change count as not started), in one round trip; then the
    products being added, read with their stock and the ids of the new lines."""
    last = (
        OrderChange.objects.filter(order_id=OuterRef("pk"))
        .order_by()
        .values("order_id")
        .annotate(last=Max("revision"))
        .values("last")
    )
    lock = order_lock_queryset(
        order_id=order_id,
        actor=actor,
        related=("customer", "pickup_location"),
        annotate={"last_revision": Subquery(last)},
    )
    orders, lines, reservations = read_together(
        lock, _lines_of.bind(order_id=order_id), _held_of.bind(order_id=order_id)
    )
    if not orders:
        raise OrderNotFound(f"No order '{order_id}'.")
    order = orders[0]
    _check_may_change(order, actor)
    held = [Held(reservation=r, state=_state(work_state(r), r, confirmed)) for r in reservations]
    adding = [op for op in data.operations if op.kind == OrderChangeKind.ADD_LINE]
    skus = sorted({op.sku for op in adding if op.sku})
    candidates = (
        load_candidates_for_skus(skus=skus, draw=(OrderLine._meta.db_table, len(adding))) if skus else None
    )
    work = ChangeWork(
        order=order,
        lines={line.pk: line for line in lines},
        held=held,
        products=check_products(skus, candidates.products) if candidates else {},
        actor=actor,
        reason=data.reason,
        revision=(getattr(order, "last_revision", None) or 0) + 1,
        candidates=candidates,
    )
    work.line_ids = candidates.drawn if candidates else []
    return work


def _state(state: str, reservation: Reservation, confirmed: frozenset[int]) -> str:
    return QUEUED if state == STARTED and reservation.location_id in confirmed else state
