"""Fulfilment's services, by responsibility: routing (``routing``, with its re-planning of held units
in ``replan``), the order's status as work progresses (``status``), the lifecycle of a fulfilment
order (``steps``: the table of steps and the one step function; the services that take them in
``lifecycle`` and ``pickups``; the pickup code in ``pickup_codes``), backorders (``backorders``)
and the sweeper (``sweep``). Every name other apps and tests use is importable from here.

Locking policy (same as orders): the order row first, then its fulfilment orders, then
reservations, then stock rows in pk order. Every top-level service is one durable transaction and
is idempotent: run twice, it changes nothing the second time (tasks may be delivered twice).

Invariant, per order line: quantity == cancelled + fulfilled + backordered + units in active
reservations; and every active reservation of a routed order belongs to one open fulfilment order.
"""

from .backorders import backordered_orders_for, backorders_allocate
from .changes import RESERVATION_WORK, fulfillment_orders_apply_change
from .common import NOT_ROUTED, ROUTER
from .lifecycle import (
    fulfillment_order_accept,
    fulfillment_order_pack,
    fulfillment_order_pick,
    fulfillment_order_reject,
    fulfillment_order_ship,
    fulfillment_orders_cancel_for_order,
)
from .pickup_codes import fulfillment_order_pickup_code_reissue
from .pickups import (
    fulfillment_order_expire,
    fulfillment_order_picked_up,
    fulfillment_order_ready_for_pickup,
    pickups_due_to_expire,
)
from .routing import RoutingResult, route_order, route_orders
from .status import order_status_sync
from .steps import pickup_hold_until
from .sweep import routing_sweep

__all__ = [
    "NOT_ROUTED",
    "RESERVATION_WORK",
    "ROUTER",
    "RoutingResult",
    "backordered_orders_for",
    "backorders_allocate",
    "fulfillment_order_accept",
    "fulfillment_order_expire",
    "fulfillment_order_pack",
    "fulfillment_order_pick",
    "fulfillment_order_picked_up",
    "fulfillment_order_pickup_code_reissue",
    "fulfillment_order_ready_for_pickup",
    "fulfillment_order_reject",
    "fulfillment_order_ship",
    "fulfillment_orders_apply_change",
    "fulfillment_orders_cancel_for_order",
    "order_status_sync",
    "pickup_hold_until",
    "pickups_due_to_expire",
    "route_order",
    "route_orders",
    "routing_sweep",
]
