"""Managing price lists (managers, API and admin): create a list for a channel (or shared by every
channel in its currency) with its validity, and upsert its entries. The reads are in
``orders.pricing``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.errors import UnknownSku
from inventory.models import Product
from oms.errors import Conflict, InvalidInput
from oms.models import Channel
from oms.money import check_amount, quantize
from oms.services import check_currency
from orders.errors import PriceListNotFound
from orders.models import PriceList, PriceListEntry

MAX_ENTRIES = 1000


@dataclass(frozen=True)
class PriceListInput:
    code: str
    currency: str
    channel: Channel | None = None
    name: str = ""
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    active: bool = True


@dataclass(frozen=True)
class EntryInput:
    sku: str
    unit_price: Decimal


def check_price_list(data: PriceListInput) -> str:
    """The list's currency once it is valid: the channel's own (a list in another currency would
    never apply), and an end after its start."""
    currency = check_currency(data.currency)
    if data.channel is not None and data.channel.currency != currency:
        raise InvalidInput(
            f"Channel '{data.channel.code}' sells in {data.channel.currency}, not {currency}.",
            code="currency_mismatch",
            extra={"currency": currency, "channel_currency": data.channel.currency},
        )
    start = data.valid_from or timezone.now()
    if data.valid_to is not None and data.valid_to <= start:
        raise InvalidInput("valid_to must be after valid_from.", code="invalid_validity")
    return currency


@transaction.atomic(durable=True)
def price_list_create(*, data: PriceListInput, entries: Sequence[EntryInput] = ()) -> PriceList:
    currency = check_price_list(data)
    price_list = PriceList(
        code=data.code,
        name=data.name,
        channel=data.channel,
        currency=currency,
        valid_from=data.valid_from or timezone.now(),
        valid_to=data.valid_to,
        active=data.active,
    )
    try:
        with transaction.atomic():
            price_list.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(
            f"Price list '{data.code}' exists.", code="price_list_exists", extra={"code": data.code}
        ) from exc
    _entries_upsert(price_list, entries)
    return price_list


@transaction.atomic(durable=True)
def price_list_entries_upsert(*, price_list_id: int, entries: Sequence[EntryInput]) -> PriceList:
    """Set the unit price of each SKU on the list (added, or replaced), in one statement."""
    price_list = PriceList.objects.select_for_update().filter(pk=price_list_id).first()
    if price_list is None:
        raise PriceListNotFound(extra={"price_list": price_list_id})
    _entries_upsert(price_list, entries)
    price_list.save(update_fields=["updated_at"])  # drops the cached lists of this process too
    return price_list


def _entries_upsert(price_list: PriceList, entries: Sequence[EntryInput]) -> None:
    if not entries:
        return
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput(f"At most {MAX_ENTRIES} entries at once.", code="too_many_entries")
    for index, entry in enumerate(entries):
        check_amount(entry.unit_price, field_name=f"entries[{index}].unit_price")
    skus = {e.sku for e in entries}
    products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    unknown = sorted(skus - products.keys())
    if unknown:
        raise UnknownSku(f"Unknown SKU(s): {', '.join(unknown)}.", extra={"skus": unknown})
    last = {e.sku: e for e in entries}  # a SKU sent twice: its last price
    PriceListEntry.objects.bulk_create(
        [
            PriceListEntry(price_list=price_list, product_id=products[sku], unit_price=quantize(e.unit_price))
            for sku, e in sorted(last.items())
        ],
        update_conflicts=True,
        unique_fields=["price_list", "product"],
        update_fields=["unit_price", "updated_at"],
    )
