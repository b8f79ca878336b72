"""Shared by the return services: the inputs and results, the locks, the permission checks."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from oms.actors import Actor
from oms.errors import PermissionDenied
from orders.models import Order
from returns.errors import (
    LocationNotPermitted,
)
from returns.models import Refund, Return

MAX_LINES = 200

# --- Inputs and results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLineInput:
    order_line_id: int
    quantity: int
    reason: str
    note: str = ""


@dataclass(frozen=True)
class ExchangeLineInput:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class ReceiveLineInput:
    return_line_id: int
    quantity: int
    disposition: str


@dataclass
class ReturnCreated:
    rma: Return
    replayed: bool = False


@dataclass
class RefundCreated:
    refund: Refund
    refundable: Decimal  # what the order may still refund after this one
    replayed: bool = False


# --- Helpers --------------------------------------------------------------------------------------------


def _lock(*, order_id: int, return_id: int | None = None) -> tuple[Order, Return | None]:
    """The original order row first, then the return row (the locking order of this module)."""
    order = (
        Order.objects.select_for_update(of=("self",)).select_related("channel", "customer").get(pk=order_id)
    )
    rma = None
    if return_id is not None:
        rma = (
            Return.objects.select_for_update(of=("self",))
            .select_related("location", "channel", "exchange_order")
            .get(pk=return_id)
        )
    return order, rma


def _require_staff_at(actor: Actor, rma: Return, *, doing: str) -> None:
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied(f"Only store staff and managers may {doing} returns.")
    if not actor.may_act_at(rma.location_id):
        raise LocationNotPermitted(
            f"You may {doing} returns only at your own locations.",
            extra={"location_id": rma.location_id},
        )
