"""The registry of the event types the OMS announces to integrators (webhooks): one entry per public
topic, with what its ``data`` holds. Webhook subscriptions are checked against it, deliveries take
their CloudEvents ``source`` and ``subject`` from it, and the OpenAPI document's ``webhooks``
section is built from it (``oms.api.schema_webhooks``). Topics not registered here (internal ones
such as ``order.cancelling``) never leave the OMS.

A feature adds an event in one line, here or in its app's ``AppConfig.ready()``::

    event_type_register("cart.updated", "A cart changed", "carts", "cart_id", {"cart_id": ID, "lines": COUNT})

then publishes it with ``oms.events.publish(topic="cart.updated", payload={...})``. ``data`` maps
each key of the payload to its JSON Schema; keys in ``optional`` may be missing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Schema = Mapping[str, Any]

# Building blocks of the data schemas (JSON Schema, as OpenAPI 3.1 takes it).
ID: Schema = MappingProxyType({"type": "integer", "description": "An id (use it with the REST API)."})
IDS: Schema = MappingProxyType({"type": "array", "items": {"type": "integer"}})
TEXT: Schema = MappingProxyType({"type": "string"})
CODE: Schema = MappingProxyType({"type": "string", "description": "A code (channel, location ...)."})
NUMBER: Schema = MappingProxyType({"type": "string", "description": "A human-readable number."})
COUNT: Schema = MappingProxyType({"type": "integer", "minimum": 0})
MONEY: Schema = MappingProxyType(
    {"type": "string", "format": "decimal", "description": "An amount, as a decimal string."}
)
CURRENCY: Schema = MappingProxyType({"type": "string", "minLength": 3, "maxLength": 3})
NULLABLE_ID: Schema = MappingProxyType({"type": ["integer", "null"]})
UNITS_BY_LINE: Schema = MappingProxyType(
    {
        "type": "object",
        "additionalProperties": {"type": "integer"},
        "description": "The units the step moved, by order line id.",
    }
)


@dataclass(frozen=True)
class EventType:
    """A public topic: its ``name`` (the CloudEvents ``type``, what endpoints subscribe to), a
    ``summary``, the REST ``collection`` of the thing it is about (part of the ``source``), the
    ``subject`` key of ``data`` that holds that thing's id, and the schema of ``data``."""

    name: str
    summary: str
    collection: str
    subject: str
    data: Mapping[str, Schema]
    optional: frozenset[str] = frozenset()

    @property
    def required(self) -> list[str]:
        return [key for key in self.data if key not in self.optional]

    def subject_of(self, data: Mapping[str, Any]) -> str | None:
        value = data.get(self.subject)
        return None if value is None or value == "" else str(value)

    def data_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {key: dict(schema) for key, schema in self.data.items()},
            "required": self.required,
        }


_REGISTRY: dict[str, EventType] = {}


def event_type_register(
    name: str,
    summary: str,
    collection: str,
    subject: str,
    data: Mapping[str, Schema],
    *,
    optional: Iterable[str] = (),
) -> EventType:
    """Add (or replace: a module imported twice) a public event type."""
    if not name or name == "*" or name != name.strip():
        raise ValueError(f"not an event name: {name!r}")
    if subject not in data:
        raise ValueError(f"{name}: the subject {subject!r} is not a key of its data")
    entry = EventType(name, summary, collection, subject, MappingProxyType(dict(data)), frozenset(optional))
    _REGISTRY[name] = entry
    return entry


def event_types() -> tuple[EventType, ...]:
    """Every public event type, in the order registered."""
    return tuple(_REGISTRY.values())


def event_type_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def event_type_get(name: str) -> EventType | None:
    return _REGISTRY.get(name)


# --- The OMS's own events ------------------------------------------------------------------------------

_ORDER = {"order_id": ID, "number": NUMBER}
_FO = {"fulfillment_order_id": ID, "order_id": ID, "location": CODE, "lines": UNITS_BY_LINE}
_RETURN = {"return_id": ID, "number": NUMBER, "order_id": ID}
_PAYMENT = {
    "order_id": ID,
    "transaction_id": ID,
    "kind": TEXT,
    "amount": MONEY,
    "currency": CURRENCY,
    "reference": TEXT,
}


def _order(name: str, summary: str, data: Mapping[str, Schema] = _ORDER, **kw: Any) -> None:
    event_type_register(name, summary, "orders", "order_id", data, **kw)


def _fulfillment(name: str, summary: str) -> None:
    event_type_register(name, summary, "fulfillment-orders", "fulfillment_order_id", _FO, optional={"lines"})


def _return(name: str, summary: str, data: Mapping[str, Schema] = _RETURN) -> None:
    event_type_register(name, summary, "returns", "return_id", data)


_order("order.created", "An order was placed (its units are held).", {**_ORDER, "channel": CODE})
_order("order.allocated", "Every unit of the order has a fulfilment order.")
_order("order.backordered", "Some units of the order wait for stock.")
_order("order.held", "The order was put on hold.", {"order_id": ID, "reason": TEXT})
_order("order.hold_released", "The order's hold was released; routing resumes.", {"order_id": ID})
_order("order.cancelled", "The order was cancelled.", {**_ORDER, "reason": TEXT}, optional={"reason"})
_order("order.partially_cancelled", "Some units of the order were cancelled (a pickup expired ...).")
_order("order.completed", "Every unit was shipped or collected.")
_order(
    "order.changed",
    "The order's lines, address or method were changed after placement.",
    {
        **_ORDER,
        "revision": COUNT,
        "changes": {"type": "array", "items": {"type": "string"}},
        "money_delta": MONEY,
        "currency": CURRENCY,
    },
)
event_type_register(
    "fulfillment.created",
    "A location was given work for an order.",
    "fulfillment-orders",
    "fulfillment_order_id",
    {"fulfillment_order_id": ID, "order_id": ID},
)
_fulfillment("fulfillment.accepted", "The location accepted the fulfilment order.")
_fulfillment("fulfillment.shipped", "The parcel left with the carrier.")
_fulfillment("fulfillment.ready_for_pickup", "A pickup order waits at the store counter.")
_fulfillment("fulfillment.picked_up", "The customer collected a pickup order.")
_fulfillment("fulfillment.rejected", "The location could not do the work; its units are re-routed.")
_fulfillment("fulfillment.pickup_expired", "A pickup was not collected in time; its units are back on sale.")
_return(
    "return.created",
    "A return was opened.",
    {**_RETURN, "channel": CODE, "location": CODE, "exchange_order_id": NULLABLE_ID},
)
_return(
    "return.received",
    "Returned units were received.",
    {**_RETURN, "location": CODE, "restocked": COUNT, "damaged": COUNT, "status": TEXT},
)
_return("return.cancelled", "A return was cancelled.")
_return("return.closed", "A return was closed.")
_return(
    "refund.created",
    "A refund was made for a return.",
    {"refund_id": ID, "return_id": ID, "order_id": ID, "amount": MONEY, "currency": CURRENCY, "method": TEXT},
)
_order("payment.captured", "A payment was captured.", _PAYMENT)
_order("payment.failed", "An authorisation or a capture failed.", {**_PAYMENT, "error": TEXT})
event_type_register(
    "stock.changed",
    "Stock was received, adjusted or counted at a location.",
    "locations",
    "location_id",
    {"location_id": ID, "product_ids": IDS},
)
event_type_register(
    "cart.checked_out",
    "A cart was checked out: its order was placed.",
    "carts",
    "cart_id",
    {"cart_id": ID, "order_id": ID, "number": NUMBER, "channel": CODE},
)
event_type_register(
    "cart.hold_placed",
    "A cart's units were held for the customer until a time.",
    "carts",
    "cart_id",
    {"cart_id": ID, "expires_at": {"type": "string", "format": "date-time"}, "units": COUNT},
)
event_type_register(
    "cart.hold_released",
    "A cart's held units went back on sale (released, expired or replaced).",
    "carts",
    "cart_id",
    {"cart_id": ID, "reason": TEXT, "units": COUNT},
)

_POINTS = {
    "customer_id": ID,
    "loyalty_number": CODE,
    "entry_id": ID,
    "kind": TEXT,
    "points": {"type": "integer", "description": "Signed: earned points are positive, spent ones negative."},
    "balance": COUNT,
    "debt": COUNT,
    "order_id": NULLABLE_ID,
    "reference": TEXT,
}


def _points(name: str, summary: str, extra: Mapping[str, Schema]) -> None:
    event_type_register(name, summary, "customers", "customer_id", {**_POINTS, **extra})


_points("loyalty.earned", "A customer earned loyalty points.", {"debt_settled": COUNT})
_points(
    "loyalty.burned",
    "A customer spent loyalty points (as a means of payment).",
    {"value": MONEY, "currency": CURRENCY},
)
_points(
    "loyalty.reversed",
    "Points earned on returned units were taken back (what was already spent became a debt).",
    {"debt_recorded": COUNT},
)
event_type_register(
    "loyalty.expired",
    "A customer's earned points expired.",
    "customers",
    "customer_id",
    {"customer_id": ID, "points": {"type": "integer"}, "balance": COUNT},
)
