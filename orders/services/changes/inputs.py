"""What changing a placed order takes (``ChangeInput``: its ``ChangeOperation``s, in order) and
answers (``ChangeResult``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orders.models import Order, OrderChange, OrderChangeRequest, OrderLine


@dataclass(frozen=True)
class ChangeOperation:
    """One operation (``kind`` is an ``OrderChangeKind``); each kind reads only its own fields:
    add_line (sku, quantity, unit_price, tax), remove_line (order_line), change_quantity
    (order_line, quantity: the new number of units), cancel_units (order_line, quantity: how many),
    change_address (shipping_address, latitude, longitude), change_method (method, and
    pickup_location or shipping_address), change_pickup_store (pickup_location)."""

    kind: str
    order_line: int | None = None
    quantity: int | None = None
    sku: str = ""
    unit_price: Decimal | None = None
    tax: Decimal = Decimal("0")
    method: str = ""
    pickup_location: str = ""  # a store code
    shipping_address: dict[str, Any] | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True)
class ChangeInput:
    operations: Sequence[ChangeOperation]
    reason: str = ""


@dataclass
class ChangeResult:
    """The changed order (as it is inside the change's transaction), the change rows written
    and the change of the total. ``preview``: nothing was kept."""

    order: Order
    revision: int
    changes: list[OrderChange]
    money_delta: Decimal
    preview: bool = False
    status_code: int = 201
    response: dict[str, Any] | None = None
    replayed: bool = False
    request: OrderChangeRequest | None = None  # kept for the locations to confirm (202)
    lines: list[OrderLine] = field(default_factory=list)  # all the order's, as the change leaves them
    released_units: int = 0
    reserved_units: int = 0
    backordered_units: int = 0
    notes: list[str] = field(default_factory=list)


ChangeRenderer = Callable[[ChangeResult], dict[str, Any]]


_DECIMALS = ("unit_price", "tax", "latitude", "longitude")


def operations_to_json(operations: Sequence[ChangeOperation]) -> list[dict[str, Any]]:
    """The operations as JSON (decimals as strings, unset fields left out), for a change request."""
    out = []
    for op in operations:
        row = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(op).items()}
        out.append({k: v for k, v in row.items() if v not in (None, "")})
    return out


def operations_from_json(rows: list[dict[str, Any]]) -> list[ChangeOperation]:
    """``operations_to_json`` undone."""
    operations = []
    for row in rows:
        fields: dict[str, Any] = {k: (Decimal(v) if k in _DECIMALS else v) for k, v in row.items()}
        operations.append(ChangeOperation(**fields))
    return operations
