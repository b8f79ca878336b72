"""The exchange order of a return: placed in the return's transaction, paid by the return's value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from inventory.choices import LocationKind
from inventory.errors import InsufficientStock
from inventory.models import Location
from oms.actors import Actor
from oms.errors import InvalidInput
from oms.models import Channel
from oms.money import quantize
from orders import services as order_services
from orders.choices import FulfillmentMethod, OrderEventKind
from orders.events import order_event_record
from orders.models import Order
from orders.services import CustomerInput, LineInput, OrderInput, PaymentInput
from returns.models import Return
from returns.selectors import order_refund_summary
from returns.services.common import ExchangeLineInput


def _exchange_create(
    *,
    rma: Return,
    order: Order,
    channel: Channel,
    location: Location,
    lines: Sequence[ExchangeLineInput],
    actor: Actor,
) -> Order:
    """Place the exchange order (in this transaction) and apply the return's value to it."""
    _check_currency(order=order, channel=channel)
    exchange = _exchange_place(
        order=order,
        location=location,
        common=_exchange_input(order=order, channel=channel, lines=lines),
        actor=actor,
    )
    _credit_apply(rma=rma, order=order, exchange=exchange)
    _record_exchange(rma=rma, order=order, exchange=exchange, actor=actor)
    return exchange


def _check_currency(*, order: Order, channel: Channel) -> None:
    """The exchange is paid in the order's currency, so the returning channel must sell in it."""
    if channel.currency != order.currency:
        raise InvalidInput(
            f"The exchange would be in {channel.currency} on {channel.code}, but the order was paid in "
            f"{order.currency}.",
            code="currency_mismatch",
            extra={"currency": order.currency, "channel_currency": channel.currency},
        )


def _exchange_input(*, order: Order, channel: Channel, lines: Sequence[ExchangeLineInput]) -> dict[str, Any]:
    """What the exchange order has whatever its method: channel, lines, currency, customer."""
    customer = order.customer
    return {
        "channel": channel,
        "lines": [LineInput(sku=li.sku, quantity=li.quantity, unit_price=li.unit_price) for li in lines],
        "currency": order.currency,
        # paid by the return's value, which the retailer holds: store credit, never the card again
        "payment": PaymentInput(
            method="exchange_credit", provider="store_credit", provider_reference=f"exchange:{order.number}"
        ),
        "customer": (
            CustomerInput(email=customer.email, phone=customer.phone, name=customer.name)
            if customer is not None
            else None
        ),
    }


def _exchange_place(*, order: Order, location: Location, common: dict[str, Any], actor: Actor) -> Order:
    """A pickup at the receiving store when it offers pickup and has the units, otherwise shipped to
    the original order's address (neither: the store's shortage, or 422 ``shipping_address_required``)."""
    place = order_services.order_place_in_transaction
    pickup_shortage: InsufficientStock | None = None
    if location.kind == LocationKind.STORE and location.pickup and location.active:
        try:
            with transaction.atomic():  # a savepoint: a store without the units undoes only this try
                placed = place(
                    data=OrderInput(method=FulfillmentMethod.PICKUP, pickup_location=location.code, **common),
                    actor=actor,
                )
            return placed.order
        except InsufficientStock as exc:
            pickup_shortage = exc
    if not order.shipping_address:
        if pickup_shortage is not None:
            raise pickup_shortage
        raise InvalidInput(
            "The exchange cannot be collected here and the order has no address to ship it to.",
            code="shipping_address_required",
        )
    placed = place(
        data=OrderInput(
            method=FulfillmentMethod.SHIP,
            shipping_address=dict(order.shipping_address),
            latitude=order.ship_latitude,
            longitude=order.ship_longitude,
            **common,
        ),
        actor=actor,
    )
    return placed.order


def _credit_apply(*, rma: Return, order: Order, exchange: Order) -> None:
    """The return's value, up to what the order may still refund, pays for the exchange."""
    creditable = min(rma.value, order_refund_summary(order=order).refundable)
    rma.exchange_order = exchange
    rma.exchange_credit = min(creditable, exchange.total)
    rma.exchange_balance = quantize(exchange.total - creditable)
    rma.save(update_fields=["exchange_order", "exchange_credit", "exchange_balance", "updated_at"])


def _record_exchange(*, rma: Return, order: Order, exchange: Order, actor: Actor) -> None:
    """An ``exchange_created`` event on the original order and a note on the exchange order."""
    order_event_record(
        order=order,
        kind=OrderEventKind.EXCHANGE_CREATED,
        actor=actor,
        message=(
            f"Exchange order {exchange.number} ({exchange.method}) for return {rma.number}; "
            f"balance {rma.exchange_balance} {order.currency}"
        ),
        data={
            "return": rma.pk,
            "exchange_order": exchange.pk,
            "exchange_number": exchange.number,
            "method": exchange.method,
            "exchange_total": str(exchange.total),
            "exchange_credit": str(rma.exchange_credit),
            "exchange_balance": str(rma.exchange_balance),
        },
    )
    order_event_record(
        order=exchange,
        kind=OrderEventKind.NOTE,
        actor=actor,
        message=f"Exchange for return {rma.number} of order {order.number}",
        data={"return": rma.pk, "original_order": order.pk, "exchange_credit": str(rma.exchange_credit)},
    )
