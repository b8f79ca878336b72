"""Checking what an order means before anything is read or written: its channel, currency,
lines, amounts, customer details, method and pickup store; then its products."""

from __future__ import annotations

from collections.abc import Sequence

from inventory.errors import UnknownLocation, UnknownSku
from inventory.models import Location
from inventory.services import check_quantity
from inventory.sourcing import CandidateProduct
from oms.customers import check_customer
from oms.errors import InvalidInput, PermissionDenied
from oms.money import check_amount
from oms.services import check_currency
from orders.choices import FulfillmentMethod

from .inputs import OrderInput

MAX_LINES = 200


def check_order_input(data: OrderInput) -> tuple[str, Location | None]:
    """The order's currency and pickup store, once its meaning is valid (the serializer checked
    shapes); InvalidInput, PermissionDenied or UnknownLocation otherwise."""
    if not data.channel.active:
        raise PermissionDenied(f"Channel '{data.channel.code}' is not active.", code="channel_inactive")
    currency = check_currency(data.currency or data.channel.currency)
    if currency != data.channel.currency:
        raise InvalidInput(
            f"Channel '{data.channel.code}' sells in {data.channel.currency}, not {currency}.",
            code="currency_mismatch",
            extra={"currency": currency, "channel_currency": data.channel.currency},
        )
    _check_lines(data)
    if data.customer is not None:
        check_customer(data.customer)
    pickup: Location | None = None
    if data.method == FulfillmentMethod.PICKUP:
        pickup = check_pickup_store(data.pickup_location)
    elif data.method == FulfillmentMethod.SHIP:
        _check_shipping(data)
    else:
        raise InvalidInput(f"Unknown method '{data.method}'; use ship or pickup.", code="unknown_method")
    return currency, pickup


def _check_lines(data: OrderInput) -> None:
    if not data.lines:
        raise InvalidInput("An order needs at least one line.", code="empty_order")
    if len(data.lines) > MAX_LINES:
        raise InvalidInput(f"An order has at most {MAX_LINES} lines.", code="too_many_lines")
    for index, line in enumerate(data.lines):
        check_quantity(line.quantity, field=f"lines[{index}].quantity")
        check_amount(line.unit_price, field_name=f"lines[{index}].unit_price")
        check_amount(line.tax, field_name=f"lines[{index}].tax")
    check_amount(data.shipping_total, field_name="shipping_total")


def check_pickup_store(code: str) -> Location:
    if not code:
        raise InvalidInput(
            "A pickup order needs pickup_location (a store code).", code="pickup_location_required"
        )
    pickup = Location.objects.filter(code=code).first()
    if pickup is None:
        raise UnknownLocation(f"Unknown location '{code}'.", extra={"locations": [code]})
    if not (pickup.active and pickup.pickup):
        raise InvalidInput(
            f"'{pickup.code}' does not offer pickup.",
            code="pickup_not_offered",
            extra={"location": pickup.code},
        )
    return pickup


def _check_shipping(data: OrderInput) -> None:
    if not data.shipping_address:
        raise InvalidInput("A ship order needs shipping_address.", code="shipping_address_required")
    if (data.latitude is None) != (data.longitude is None):
        raise InvalidInput(
            "Give both latitude and longitude of the address, or neither.", code="invalid_coordinates"
        )


def check_products(skus: Sequence[str], products: dict[str, CandidateProduct]) -> dict[str, CandidateProduct]:
    """The products of ``skus``, once each is known (UnknownSku) and for sale (InvalidInput)."""
    unknown = sorted(set(skus) - products.keys())
    if unknown:
        raise UnknownSku(f"Unknown SKU(s): {', '.join(unknown)}.", extra={"skus": unknown})
    inactive = sorted({sku for sku in skus if not products[sku].active})
    if inactive:
        raise InvalidInput(
            f"Not for sale: {', '.join(inactive)}.", code="product_inactive", extra={"skus": inactive}
        )
    return products
