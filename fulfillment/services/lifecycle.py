"""The services that move one fulfilment order along its lifecycle (accept, pick, pack, ship,
reject; a pickup's own steps are in ``pickups``), each through ``steps.step_take``, and the closing
of its fulfilment orders when an order is cancelled."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from fulfillment.choices import FulfillmentStatus
from fulfillment.models import OPEN_STATUSES, FulfillmentOrder
from inventory.capacity import location_load_change
from oms.actors import Actor
from oms.errors import InvalidInput

from .steps import step_take


@transaction.atomic(durable=True)
def fulfillment_order_accept(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The location takes the work on (announced); accepting again is a no-op."""
    fo, _ = step_take(FulfillmentStatus.ACCEPTED, fulfillment_order_id=fulfillment_order_id, actor=actor)
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_pick(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The units are picked from the shelves; picking again is a no-op."""
    fo, _ = step_take(FulfillmentStatus.PICKED, fulfillment_order_id=fulfillment_order_id, actor=actor)
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_pack(*, fulfillment_order_id: int, actor: Actor) -> FulfillmentOrder:
    """The units of a shipment are packed; packing again is a no-op."""
    fo, _ = step_take(FulfillmentStatus.PACKED, fulfillment_order_id=fulfillment_order_id, actor=actor)
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_ship(
    *, fulfillment_order_id: int, carrier: str, tracking_number: str, actor: Actor
) -> FulfillmentOrder:
    """The parcel left with a carrier and a tracking number (both required); its units are taken once.

    The units are consumed and counted as fulfilled; shipping again is a no-op."""
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if not carrier or not tracking_number:
        raise InvalidInput("Shipping needs a carrier and a tracking number.", code="tracking_required")
    fo, _ = step_take(
        FulfillmentStatus.SHIPPED,
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        inputs={"carrier": carrier, "tracking_number": tracking_number},
    )
    return fo


@transaction.atomic(durable=True)
def fulfillment_order_reject(*, fulfillment_order_id: int, reason: str, actor: Actor) -> FulfillmentOrder:
    """The location cannot do it (a reason is required): its units are released and re-routed.

    The location is excluded for this order, and the units wait (backordered) until the router
    sources them elsewhere, at once on commit. Rejecting again is a no-op."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the fulfilment order is rejected ('reason').", code="reason_required")
    fo, _ = step_take(
        FulfillmentStatus.REJECTED,
        fulfillment_order_id=fulfillment_order_id,
        actor=actor,
        inputs={"reason": reason},
    )
    return fo


def fulfillment_orders_cancel_for_order(topic: str, payload: dict[str, Any]) -> None:
    """Cancel the cancelled order's open fulfilment orders, with the order, giving back their capacity.

    Runs in the order-cancel transaction (the order row is locked); the order service releases
    the reservations itself."""
    now = timezone.now()
    for fo in FulfillmentOrder.objects.select_for_update(of=("self",)).filter(
        order_id=payload["order_id"], status__in=OPEN_STATUSES
    ):
        fo.status = FulfillmentStatus.CANCELLED
        fo.closed_at = now
        fo.save(update_fields=["status", "closed_at", "updated_at"])
        location_load_change(location_id=fo.location_id, day=fo.day, delta=-1)
