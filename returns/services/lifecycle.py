"""The end of a return: ``return_cancel`` (withdrawn) and ``return_close`` (finished)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from oms.actors import Actor
from oms.errors import PermissionDenied
from orders import services as order_services
from orders.choices import OrderEventKind, OrderStatus
from returns.choices import ReturnStatus
from returns.errors import LocationNotPermitted
from returns.models import Return
from returns.selectors import return_get_for_actor
from returns.services.common import _lock_for_staff, _lock_return, _return_event_record, _return_publish


@transaction.atomic(durable=True)
def return_cancel(*, return_id: int | str, actor: Actor, reason: str = "") -> Return:
    """Withdraw a return before anything was received or refunded, with its exchange order; twice is a no-op.

    Its units become returnable again and its exchange order (if any, and not shipped yet) is
    cancelled in the same transaction. The returning channel, a manager, or an associate of its
    location may."""
    visible = return_get_for_actor(return_id=return_id, actor=actor)
    _check_may_cancel(actor, visible)
    order, rma = _lock_return(visible)
    if rma.status == ReturnStatus.CANCELLED:
        return rma
    rma.require_transition(ReturnStatus.CANCELLED)
    exchange = rma.exchange_order
    if exchange is not None and exchange.status != OrderStatus.CANCELLED:
        order_services.order_cancel_in_transaction(
            order_id=exchange.pk,
            reason=f"return {rma.number} cancelled",
            actor=Actor.system(f"returns ({actor.label})"[:200]),
        )
    _status_stamp(rma, ReturnStatus.CANCELLED, stamp="cancelled_at")
    _return_event_record(
        rma,
        order,
        kind=OrderEventKind.RETURN_CANCELLED,
        actor=actor,
        message=f"Return {rma.number} cancelled" + (f": {reason}" if reason else ""),
        data={"reason": reason, "exchange_order": rma.exchange_order_id},
    )
    _return_publish(rma, "return.cancelled")
    return rma


@transaction.atomic(durable=True)
def return_close(*, return_id: int | str, actor: Actor) -> Return:
    """Finish a return so that no more receipts or refunds are taken; twice is a no-op.

    Units never received stop counting as returned. Managers, or associates of its location."""
    order, rma = _lock_for_staff(return_id=return_id, actor=actor, doing="close")
    if rma.status == ReturnStatus.CLOSED:
        return rma
    rma.require_transition(ReturnStatus.CLOSED)
    previous = rma.status
    _status_stamp(rma, ReturnStatus.CLOSED, stamp="closed_at")
    outstanding = sum(line.quantity_outstanding for line in rma.lines.all())
    _return_event_record(
        rma,
        order,
        kind=OrderEventKind.RETURN_CLOSED,
        actor=actor,
        message=f"Return {rma.number} closed"
        + (f"; {outstanding} unit(s) never received" if outstanding else ""),
        data={"from": previous, "status": rma.status},
    )
    _return_publish(rma, "return.closed")
    return rma


def _check_may_cancel(actor: Actor, visible: Return) -> None:
    """The returning channel, or staff who may act at the return's location."""
    channel_owner = actor.is_channel and actor.channel_id == visible.channel_id
    if not (channel_owner or ((actor.is_staff or actor.is_system) and actor.may_act_at(visible.location_id))):
        if actor.is_associate:
            raise LocationNotPermitted(extra={"location_id": visible.location_id})
        raise PermissionDenied("Only the returning channel or staff of the location may cancel a return.")


def _status_stamp(rma: Return, status: str, *, stamp: str) -> None:
    """Save ``status`` and stamp its time in the field ``stamp``."""
    rma.status = status
    setattr(rma, stamp, timezone.now())
    rma.save(update_fields=["status", stamp, "updated_at"])
