"""Changes that wait for a location (``pending_location``). A change that needs units a location has
accepted is refused (409 ``fulfillment_in_progress``) unless the caller asks to wait: then it is kept
as an ``OrderChangeRequest`` and the locations working on those units are asked. When every one of
them confirms (it has not picked them, or puts them back), the change is applied as requested, with
those locations' units taken as if not started; one refusal refuses it. Each answer is one durable
transaction on the locked order."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from oms import events
from oms.actors import Actor
from oms.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from orders.choices import ChangeRequestStatus, OrderEventKind
from orders.errors import OrderNotFound
from orders.events import order_event_record
from orders.models import Order, OrderChangeRequest
from orders.services.locks import order_lock

from .apply import order_change_in_transaction
from .inputs import ChangeInput, operations_from_json

S = ChangeRequestStatus


@transaction.atomic(durable=True)
def change_request_confirm(*, request_id: int, actor: Actor) -> OrderChangeRequest:
    """The actor's locations among those asked confirm; once all have, the change is applied (or,
    if it can no longer be, for instance the stock is gone, the request is refused saying why).
    Confirming an applied request again is a no-op."""
    order, request = _locked(request_id=request_id, actor=actor)
    if request.status == S.APPLIED:
        return request
    mine = _check_answerable(request, actor)
    request.confirmed_location_ids = sorted({*request.confirmed_location_ids, *mine})
    if set(request.confirmed_location_ids) >= set(request.location_ids):
        _apply(order=order, request=request, actor=actor)
    _answered(request, actor, fields=["confirmed_location_ids"])
    return request


@transaction.atomic(durable=True)
def change_request_refuse(*, request_id: int, actor: Actor, reason: str) -> OrderChangeRequest:
    """One of the locations asked refuses: the change is not made (a reason is required)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the change is refused ('reason').", code="reason_required")
    order, request = _locked(request_id=request_id, actor=actor)
    if request.status == S.REFUSED:
        return request
    _check_answerable(request, actor)
    _refused(order=order, request=request, actor=actor, answer=reason)
    return request


def _locked(*, request_id: int, actor: Actor) -> tuple[Order, OrderChangeRequest]:
    order_id = OrderChangeRequest.objects.filter(pk=request_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise OrderNotFound(f"No change request {request_id}.", code="change_request_not_found")
    order = order_lock(order_id=order_id, actor=actor)
    return order, OrderChangeRequest.objects.select_for_update().get(pk=request_id)


def _check_answerable(request: OrderChangeRequest, actor: Actor) -> list[int]:
    if request.status != S.PENDING_LOCATION:
        raise Conflict(
            f"Change request {request.pk} is {request.status}.",
            code="change_request_closed",
            extra={"status": request.status},
        )
    if actor.is_manager or actor.is_system:
        return list(request.location_ids)
    mine = [loc for loc in request.location_ids if actor.may_act_at(loc)]
    if not mine:
        raise PermissionDenied("Only the locations asked may answer this change request.")
    return mine


def _apply(*, order: Order, request: OrderChangeRequest, actor: Actor) -> None:
    data = ChangeInput(operations=operations_from_json(request.operations), reason=request.reason)
    requester = Actor.system(f"{request.actor_name} (confirmed by {actor.name})"[:200])
    try:
        with transaction.atomic():  # a savepoint: a change that cannot be made leaves no trace
            result = order_change_in_transaction(
                order_id=order.pk,
                data=data,
                actor=requester,
                confirmed_location_ids=frozenset(request.location_ids),
            )
    except DomainError as exc:
        _refused(order=order, request=request, actor=actor, answer=f"could not be applied: {exc.message}")
        return
    request.status, request.revision = S.APPLIED, result.revision


def _refused(*, order: Order, request: OrderChangeRequest, actor: Actor, answer: str) -> None:
    request.status, request.answer = S.REFUSED, answer[:500]
    _answered(request, actor, fields=["answer"])
    order_event_record(
        order=order,
        kind=OrderEventKind.CHANGE_REFUSED,
        actor=actor,
        message=f"The change was refused: {answer}"[:500],
        data={"request": request.pk},
    )
    events.publish(
        topic="order.change_refused",
        payload={"order_id": order.pk, "request_id": request.pk, "answer": request.answer},
    )


def _answered(request: OrderChangeRequest, actor: Actor, *, fields: list[str]) -> None:
    request.answered_by, request.answered_at = actor.name[:200], timezone.now()
    request.save(update_fields=["status", "revision", "answered_by", "answered_at", *fields])
