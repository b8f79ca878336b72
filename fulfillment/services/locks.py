"""The locks a fulfilment order's change takes, in the house order: the order row, then the
fulfilment order, each only if the actor may work on it."""

from __future__ import annotations

from fulfillment.models import FulfillmentOrder
from fulfillment.selectors import fulfillment_order_get_for_actor
from oms.actors import Actor
from oms.errors import PermissionDenied
from orders.models import Order


def fulfillment_order_lock(*, fulfillment_order_id: int, actor: Actor) -> tuple[Order, FulfillmentOrder]:
    """The order and the fulfilment order, locked in that order, if the actor may work on it."""
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied("Only store staff and managers work on fulfilment orders.")
    visible = fulfillment_order_get_for_actor(fulfillment_order_id=fulfillment_order_id, actor=actor)
    if not actor.may_act_at(visible.location_id):
        raise PermissionDenied("You may act only at your own locations.")
    order = Order.objects.select_for_update(of=("self",)).select_related("channel").get(pk=visible.order_id)
    fo = (
        FulfillmentOrder.objects.select_for_update(of=("self",))
        .select_related("location")
        .get(pk=fulfillment_order_id)
    )
    return order, fo
