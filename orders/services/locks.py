"""The order lock that every change to an existing order takes first.

Locking policy: a change to an existing order locks the order row first (``select_for_update``),
then its reservations in pk order, then stock rows in pk order (inventory services). Placing an
order locks only stock rows (one conditional UPDATE each, in pk order) and inserts the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from oms.actors import Actor
from orders.errors import OrderNotFound
from orders.models import Order
from orders.selectors import order_queryset_for_actor


def order_lock(
    *, order_id: int, actor: Actor, related: Sequence[str] = (), annotate: dict[str, Any] | None = None
) -> Order:
    """The order row, locked, with its channel (and the ``related`` rows, the ``annotate``
    values a caller asks for), in one statement; 404 for an order the actor may not see (then
    nothing is locked)."""
    found = list(order_lock_queryset(order_id=order_id, actor=actor, related=related, annotate=annotate))
    if not found:
        raise OrderNotFound(f"No order '{order_id}'.")
    return found[0]


def order_lock_queryset(
    *, order_id: int, actor: Actor, related: Sequence[str] = (), annotate: dict[str, Any] | None = None
) -> QuerySet[Order]:
    """``order_lock``'s read, not yet run (for a caller that sends it with others: empty for an
    order the actor may not see)."""
    qs = order_queryset_for_actor(actor, lookup=True).filter(pk=order_id).order_by()
    qs = qs.select_for_update(of=("self",)).select_related("channel", *related)
    return qs.annotate(**annotate) if annotate else qs
