"""What the services of fulfilment share: the router's actor, the order statuses routing leaves alone."""

from __future__ import annotations

from oms.actors import Actor
from orders.choices import OrderStatus

ROUTER = Actor.system("router")
NOT_ROUTED = frozenset(
    {OrderStatus.ON_HOLD, OrderStatus.CANCELLED, OrderStatus.COMPLETED, OrderStatus.PARTIALLY_CANCELLED}
)
