"""The order timeline: one OrderEvent row per change, with who did it. Every app writes here. And
the cart's timeline (``CartEvent``: with the channel it was done on)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from oms.actors import Actor
from oms.models import Channel

from .models import Cart, CartEvent, Order, OrderEvent


def order_event_build(
    *, order: Order | int, kind: str, actor: Actor, message: str = "", data: dict[str, Any] | None = None
) -> OrderEvent:
    order_id = order if isinstance(order, int) else order.pk
    if actor.via:  # a staff member acting through a channel's key (an associate at a POS)
        data = {**(data or {}), "via": actor.via}
    return OrderEvent(
        order_id=order_id,
        kind=kind,
        message=message[:500],
        data=data or {},
        actor_type=actor.type,
        actor_name=actor.name[:200],
    )


def order_event_record(
    *, order: Order | int, kind: str, actor: Actor, message: str = "", data: dict[str, Any] | None = None
) -> OrderEvent:
    event = order_event_build(order=order, kind=kind, actor=actor, message=message, data=data)
    event.save(force_insert=True)
    return event


def order_events_record(events: Iterable[OrderEvent]) -> list[OrderEvent]:
    return OrderEvent.objects.bulk_create(list(events))


def cart_event_build(
    *, cart: Cart, kind: str, actor: Actor, channel: Channel | None, **data: Any
) -> CartEvent:
    """An unsaved row of the cart's timeline: ``kind`` done on ``channel`` by ``actor``."""
    if actor.via:
        data["via"] = actor.via
    return CartEvent(
        cart=cart,
        kind=kind,
        channel=channel,
        actor_type=actor.type,
        actor_name=actor.name[:200],
        data=data,
    )
