"""Reading prices: the price of a SKU for a channel at an instant, and the check that keeps an
order line from underselling the channel's price list.

Which price applies, per SKU: the entries of the price lists valid at the instant (active,
``valid_from <= at < valid_to``) in the channel's currency, either the channel's own lists or the
lists shared by every channel (no channel); the channel's own list before a shared one, then the
latest ``valid_from``, then the highest id. A SKU no valid list prices falls back to the product's
``price`` when the product is in the channel's currency (``price_unavailable`` otherwise, for a
cart). An order's ``unit_price`` is checked only against listed prices: a channel without a price
list (or a SKU its lists do not name) keeps sending its own prices.

Placement is a hot path: the check asks one query (every line's entries at once), and none when
no price list can apply to the channel, which the process knows from a small cache
(``OMS_PRICE_LIST_CACHE_SECONDS``, dropped when a price list is saved: another process may miss a
new list for up to that many seconds)."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from inventory.models import Product
from oms.models import Channel
from oms.money import quantize

from .errors import PriceMismatch, PriceUnavailable
from .models import PriceList, PriceListEntry


@dataclass(frozen=True)
class ListedPrice:
    sku: str
    product_id: int
    unit_price: Decimal
    currency: str
    price_list: str  # the list's code; "" for the product's own price


class _PricedLine(Protocol):
    @property
    def sku(self) -> str: ...
    @property
    def unit_price(self) -> Decimal: ...


def _for_channel(channel: Channel, prefix: str = "") -> Q:
    return Q(**{f"{prefix}currency": channel.currency}) & (
        Q(**{f"{prefix}channel_id": channel.pk}) | Q(**{f"{prefix}channel__isnull": True})
    )


def listed_prices(
    *, channel: Channel, skus: Collection[str], at: datetime | None = None
) -> dict[str, ListedPrice]:
    """The listed price of each of ``skus`` the channel's valid lists name, by SKU: one query."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    at = at or timezone.now()
    rows = (
        PriceListEntry.objects.filter(
            product__sku__in=wanted, price_list__active=True, price_list__valid_from__lte=at
        )
        .filter(Q(price_list__valid_to__isnull=True) | Q(price_list__valid_to__gt=at))
        .filter(_for_channel(channel, "price_list__"))
        .values_list(
            "product__sku",
            "product_id",
            "unit_price",
            "price_list__code",
            "price_list__channel_id",
            "price_list__valid_from",
            "price_list_id",
        )
    )
    best: dict[str, tuple[tuple[Any, ...], ListedPrice]] = {}
    for sku, product_id, unit_price, code, channel_id, valid_from, list_id in rows:
        rank = (channel_id is not None, valid_from, list_id)
        if sku not in best or rank > best[sku][0]:
            price = ListedPrice(sku, product_id, unit_price, channel.currency, code)
            best[sku] = (rank, price)
    return {sku: price for sku, (_rank, price) in best.items()}


def prices_for_channel(
    *, channel: Channel, products: Iterable[Product], at: datetime | None = None
) -> dict[str, ListedPrice]:
    """The price of each product for ``channel`` at ``at``: listed, else the product's own price
    in the channel's currency; 422 ``price_unavailable`` for a product that has neither."""
    products = list(products)
    listed = (
        listed_prices(channel=channel, skus=[p.sku for p in products], at=at)
        if channel_has_price_list(channel)
        else {}
    )
    prices: dict[str, ListedPrice] = {}
    missing: list[str] = []
    for product in products:
        if product.sku in listed:
            prices[product.sku] = listed[product.sku]
        elif product.currency == channel.currency:
            prices[product.sku] = ListedPrice(product.sku, product.pk, product.price, channel.currency, "")
        else:
            missing.append(product.sku)
    if missing:
        raise PriceUnavailable(
            f"Channel '{channel.code}' has no price in {channel.currency} for: {', '.join(sorted(missing))}.",
            extra={"skus": sorted(missing), "currency": channel.currency, "channel": channel.code},
        )
    return prices


def check_order_prices(*, channel: Channel, lines: Iterable[_PricedLine], at: datetime | None = None) -> None:
    """422 ``price_mismatch`` when a line's ``unit_price`` is below the channel's listed price minus
    ``OMS_PRICE_TOLERANCE_PERCENT``; ``extra.lines`` lists them (sku, sent, listed, minimum). One
    query when a price list may apply to the channel, none otherwise or with OMS_PRICE_CHECK off."""
    if not settings.OMS_PRICE_CHECK or not channel_has_price_list(channel):
        return
    lines = list(lines)
    listed = listed_prices(channel=channel, skus=[line.sku for line in lines], at=at)
    if not listed:
        return
    keep = 1 - Decimal(str(settings.OMS_PRICE_TOLERANCE_PERCENT)) / 100
    wrong = []
    for line in lines:
        price = listed.get(line.sku)
        if price is None:
            continue
        minimum = quantize(price.unit_price * keep)
        if quantize(line.unit_price) < minimum:
            wrong.append(
                {
                    "sku": line.sku,
                    "sent": str(quantize(line.unit_price)),
                    "listed": str(price.unit_price),
                    "minimum": str(minimum),
                    "price_list": price.price_list,
                }
            )
    if wrong:
        skus = ", ".join(w["sku"] for w in wrong)
        raise PriceMismatch(
            f"Priced below channel '{channel.code}''s price list: {skus}.",
            extra={"lines": wrong, "currency": channel.currency},
        )


# --- Which channels a price list may apply to (a per-process cache) --------------------------------


_cache: dict[str, tuple[float, frozenset[int], frozenset[str]]] = {}


def channel_has_price_list(channel: Channel) -> bool:
    """Whether any active price list not yet ended is the channel's or shared in its currency."""
    ttl = settings.OMS_PRICE_LIST_CACHE_SECONDS
    cached = _cache.get("lists")
    if cached is None or cached[0] <= time.monotonic() or ttl <= 0:
        rows = list(
            PriceList.objects.filter(active=True)
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=timezone.now()))
            .values_list("channel_id", "currency")
            .distinct()
        )
        channels = frozenset(c for c, _currency in rows if c is not None)
        shared = frozenset(currency for c, currency in rows if c is None)
        cached = (time.monotonic() + ttl, channels, shared)
        if ttl > 0:
            _cache["lists"] = cached
    return channel.pk in cached[1] or channel.currency in cached[2]


def price_list_cache_clear() -> None:
    _cache.clear()


@receiver(post_save, sender=PriceList, dispatch_uid="orders.pricing.price_list_saved")
@receiver(post_delete, sender=PriceList, dispatch_uid="orders.pricing.price_list_deleted")
def _price_list_cache_invalidate(sender: Any, **kwargs: Any) -> None:
    # Now, so this process sees the new list; at commit, in case a concurrent request cached the
    # state before it.
    price_list_cache_clear()
    transaction.on_commit(price_list_cache_clear)
