"""Reserve-in-store (design.md glossary): an associate places a pickup order for a customer at
their own store, from the customer page of the admin. It is an ordinary ``order_place`` (the same
checks, the units held or a 409 that lists the nearby stores that have them) on the network's
in-person channel, by the associate, for the customer the page shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from inventory.models import Location, Product
from oms.actors import Actor
from oms.choices import ChannelKind
from oms.customers import CustomerInput
from oms.errors import InvalidInput, PermissionDenied
from oms.models import Channel, Customer
from orders.errors import CustomerNotFound
from orders.pricing import prices_for_channel

from .idempotency import IdempotencyClaim, idempotency_request_hash
from .inputs import LineInput, OrderInput, PlacementResult
from .placement import order_place

# The channels a reservation may be placed on, the first kind found wins.
RESERVE_CHANNEL_KINDS = (ChannelKind.POS, ChannelKind.CALL_CENTER)


@dataclass(frozen=True)
class ReserveItem:
    sku: str
    quantity: int


def reserve_in_store_channel() -> Channel:
    """The in-person channel reservations are placed on: the active POS channel (``pos`` first,
    else the oldest), or a call centre's without one; InvalidInput when the network has neither."""
    for kind in RESERVE_CHANNEL_KINDS:
        channels = list(Channel.objects.filter(kind=kind, active=True).order_by("pk"))
        if channels:
            return next((c for c in channels if c.code == kind), channels[0])
    raise InvalidInput(
        "The network has no active in-person channel (POS) to place a reservation on.",
        code="no_in_person_channel",
    )


def _check_actor(actor: Actor, location_code: str) -> None:
    location = Location.objects.filter(code=location_code).first()
    if location is None or not (actor.is_staff or actor.is_system) or not actor.may_act_at(location.pk):
        raise PermissionDenied(
            f"You may reserve only at your own stores, not at '{location_code}'.",
            code="not_your_location",
            extra={"location": location_code},
        )


def _customer_details(customer_id: int) -> CustomerInput:
    customer = Customer.objects.filter(pk=customer_id, erased_at__isnull=True).first()
    if customer is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    if not (customer.email or customer.phone):
        raise InvalidInput(
            "The customer has no e-mail or phone to be told when the items are ready.",
            code="customer_unreachable",
        )
    return CustomerInput(
        email=customer.email, phone=customer.phone, name=customer.name, language=customer.language
    )


def _lines(items: Sequence[ReserveItem], channel: Channel) -> list[LineInput]:
    """One line per SKU (the quantities of a SKU given twice added), at the channel's price (its
    price list, else the product's price in its currency: ``orders.pricing``)."""
    quantities: dict[str, int] = {}
    for item in items:
        sku = item.sku.strip()
        quantities[sku] = quantities.get(sku, 0) + item.quantity
    prices = prices_for_channel(channel=channel, products=Product.objects.filter(sku__in=list(quantities)))
    # an unknown SKU gets price 0 here and is refused by placement's own check (unknown_sku)
    return [
        LineInput(sku=sku, quantity=qty, unit_price=prices[sku].unit_price if sku in prices else Decimal("0"))
        for sku, qty in quantities.items()
    ]


def reserve_in_store_place(
    *,
    customer_id: int,
    location_code: str,
    items: Sequence[ReserveItem],
    actor: Actor,
    idempotency_key: str = "",
) -> PlacementResult:
    """Place a pickup order for the customer at ``location_code``, one of the actor's stores
    (PermissionDenied otherwise), with the units held there now: 409 ``insufficient_stock`` naming
    the nearby stores that have every unit when this one lacks some. The order is on the
    in-person channel, by the actor, at the products' prices; the customer is told as for any
    pickup (ready e-mail with the pickup code). With ``idempotency_key`` (the form's, one per
    form shown) a second submission of the same form answers the first order (``replayed``)."""
    _check_actor(actor, location_code)
    channel = reserve_in_store_channel()
    data = OrderInput(
        channel=channel,
        method="pickup",
        pickup_location=location_code,
        currency=channel.currency,
        customer=_customer_details(customer_id),
        lines=_lines(items, channel),
    )
    claim = None
    if idempotency_key:
        body = {
            "customer": customer_id,
            "location": location_code,
            "lines": [(li.sku, li.quantity) for li in data.lines],
        }
        claim = IdempotencyClaim(
            scope=f"user:{actor.user_id}" if actor.user_id else actor.label,
            key=f"reserve-in-store:{idempotency_key}",
            request_hash=idempotency_request_hash(body),
        )
    return order_place(data=data, actor=actor, idempotency=claim)


def reserve_in_store_locations(actor: Actor) -> list[Location]:
    """The stores the actor may reserve at: active pickup stores among their locations (every one
    for a manager), by code."""
    qs = Location.objects.filter(kind="store", pickup=True, active=True).order_by("code")
    if actor.is_manager or actor.is_system:
        return list(qs)
    return list(qs.filter(pk__in=sorted(actor.location_ids))) if actor.is_associate else []
