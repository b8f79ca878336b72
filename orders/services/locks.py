"""The order lock that every change to an existing order takes first.

Locking policy: a change to an existing order locks the order row first (``select_for_update``),
then its reservations in pk order, then stock rows in pk order (inventory services). Placing an
order locks only stock rows (one conditional UPDATE each, in pk order) and inserts the rest."""

from __future__ import annotations

from oms.actors import Actor
from orders.models import Order
from orders.selectors import order_get_for_actor


def order_lock(*, order_id: int, actor: Actor) -> Order:
    """The order row, locked, with its channel; 404 for an order the actor may not see."""
    order_get_for_actor(order_id=order_id, actor=actor)  # 404 for what the actor may not see
    return Order.objects.select_for_update(of=("self",)).select_related("channel").get(pk=order_id)
