"""How orders react to the kernel's events (imports stay one way: oms publishes, orders listens).
In-transaction: an erased customer's personal data is scrubbed from their orders."""

from __future__ import annotations

from typing import Any

from oms import events
from oms.customers import customer_erasing_actor

from .services.erasure import customer_orders_scrub


def _customer_erased(topic: str, payload: dict[str, Any]) -> None:
    customer_orders_scrub(customer_id=payload["customer_id"], actor=customer_erasing_actor())


def connect() -> None:
    events.subscribe_in_transaction("customer.erased", _customer_erased)
