"""The demo network: 2 warehouses and 8 stores around Ho Chi Minh City and Hanoi, 200 SKUs, stock
and sales channels. Idempotent: running it again tops nothing up and creates nothing twice.

Stock arrives as ledger receipts (StockMovement rows), so on_hand always equals the ledger."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from oms.actors import Actor
from oms.choices import ChannelKind
from oms.models import Channel

from .choices import LocationKind, MovementKind
from .models import Location, Product, StockLevel, StockMovement

CURRENCY = "VND"
TIME_ZONE = "Asia/Ho_Chi_Minh"  # the demo network's stores and warehouses keep Vietnam's time

# code, name, kind, lat, lon, city, ships, pickup, ship_from_store, accepts_returns, capacity, priority
NETWORK = [
    (
        "wh-hcm",
        "Warehouse Thu Duc",
        LocationKind.WAREHOUSE,
        "10.849400",
        "106.772000",
        "Ho Chi Minh City",
        True,
        False,
        False,
        True,
        400,
        10,
    ),
    (
        "wh-hn",
        "Warehouse Long Bien",
        LocationKind.WAREHOUSE,
        "21.047500",
        "105.888300",
        "Hanoi",
        True,
        False,
        False,
        True,
        300,
        10,
    ),
    (
        "st-hcm-d1",
        "Store District 1",
        LocationKind.STORE,
        "10.776900",
        "106.700900",
        "Ho Chi Minh City",
        False,
        True,
        True,
        True,
        40,
        5,
    ),
    (
        "st-hcm-d3",
        "Store District 3",
        LocationKind.STORE,
        "10.784300",
        "106.684400",
        "Ho Chi Minh City",
        False,
        True,
        True,
        True,
        30,
        4,
    ),
    (
        "st-hcm-d7",
        "Store District 7",
        LocationKind.STORE,
        "10.729900",
        "106.721600",
        "Ho Chi Minh City",
        False,
        True,
        False,
        True,
        None,
        3,
    ),
    (
        "st-hcm-bt",
        "Store Binh Thanh",
        LocationKind.STORE,
        "10.810600",
        "106.709100",
        "Ho Chi Minh City",
        False,
        True,
        True,
        False,
        25,
        2,
    ),
    (
        "st-hn-hk",
        "Store Hoan Kiem",
        LocationKind.STORE,
        "21.028800",
        "105.852000",
        "Hanoi",
        False,
        True,
        True,
        True,
        40,
        5,
    ),
    (
        "st-hn-cg",
        "Store Cau Giay",
        LocationKind.STORE,
        "21.036200",
        "105.790500",
        "Hanoi",
        False,
        True,
        True,
        True,
        30,
        4,
    ),
    (
        "st-hn-hbt",
        "Store Hai Ba Trung",
        LocationKind.STORE,
        "21.006300",
        "105.857900",
        "Hanoi",
        False,
        True,
        False,
        True,
        None,
        3,
    ),
    (
        "st-hn-td",
        "Store Tay Ho",
        LocationKind.STORE,
        "21.070500",
        "105.818800",
        "Hanoi",
        False,
        True,
        True,
        True,
        20,
        2,
    ),
]

CHANNELS = [
    ("web", "Web storefront", ChannelKind.WEB, True),
    ("app", "Mobile app", ChannelKind.APP, True),
    ("pos", "Store POS", ChannelKind.POS, True),
    ("call-center", "Call centre", ChannelKind.CALL_CENTER, True),
    ("marketplace", "Marketplace", ChannelKind.MARKETPLACE, False),  # ships only from warehouses
    ("social", "Social commerce", ChannelKind.SOCIAL, True),
]

GARMENTS = ["T-shirt", "Polo", "Shirt", "Jeans", "Chinos", "Dress", "Skirt", "Jacket", "Hoodie", "Shorts"]
COLOURS = ["Black", "White", "Navy", "Red", "Olive"]
SIZES = ["S", "M", "L", "XL"]


@dataclass
class DemoSummary:
    channels: int
    locations: int
    products: int
    stock_rows: int
    units: int


@transaction.atomic
def demo_network_seed(*, products: int = 200, seed: int = 7) -> DemoSummary:
    """Create the demo channels, network, products and opening stock that do not exist yet."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    _seed_channels()
    locations = _seed_locations()
    all_products = _seed_products(products, rng)
    _seed_stock_levels(locations, all_products, rng)
    _seed_opening_receipts(Actor.system("seed_demo"))
    return DemoSummary(
        channels=Channel.objects.count(),
        locations=Location.objects.count(),
        products=Product.objects.count(),
        stock_rows=StockLevel.objects.count(),
        units=sum(StockLevel.objects.values_list("on_hand", flat=True)),
    )


def _seed_channels() -> None:
    for code, name, channel_kind, ship_from_stores in CHANNELS:
        Channel.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": channel_kind,
                "currency": CURRENCY,
                "ship_from_stores": ship_from_stores,
            },
        )


def _seed_locations() -> list[Location]:
    locations = []
    for code, name, kind, lat, lon, city, ships, pickup, sfs, returns, capacity, priority in NETWORK:
        location, _ = Location.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "latitude": Decimal(lat),
                "longitude": Decimal(lon),
                "city": city,
                "country": "VN",
                "timezone": TIME_ZONE,
                "ships": ships,
                "pickup": pickup,
                "ship_from_store": sfs,
                "accepts_returns": returns,
                "daily_capacity": capacity,
                "priority": priority,
                "opening_hours": "Mon-Sun 09:00-21:00" if kind == LocationKind.STORE else "",
            },
        )
        locations.append(location)
    return locations


def _seed_products(count: int, rng: random.Random) -> list[Product]:
    """The first ``count`` demo products (in pk order), creating the missing SKUs."""
    existing = set(Product.objects.values_list("sku", flat=True))
    new_products = []
    for i in range(count):
        garment = GARMENTS[i % len(GARMENTS)]
        colour = COLOURS[(i // len(GARMENTS)) % len(COLOURS)]
        size = SIZES[(i // (len(GARMENTS) * len(COLOURS))) % len(SIZES)]
        sku = f"{garment[:3].upper()}-{colour[:3].upper()}-{size}-{i:03d}"
        if sku not in existing:
            price = Decimal(rng.randrange(99, 1299) * 1000)
            new_products.append(
                Product(sku=sku, name=f"{garment} {colour} {size}", price=price, currency=CURRENCY)
            )
    Product.objects.bulk_create(new_products)
    return list(Product.objects.filter(currency=CURRENCY).order_by("pk")[:count])


def _seed_stock_levels(locations: list[Location], products: list[Product], rng: random.Random) -> None:
    """A stock row of every product at every location that has none yet (units drawn at random)."""
    have = set(StockLevel.objects.values_list("product_id", "location_id"))
    levels = []
    for location in locations:
        for product in products:
            if (product.pk, location.pk) in have:
                continue
            if location.kind == LocationKind.WAREHOUSE:
                quantity = rng.randrange(20, 200)
            else:
                quantity = rng.choice([0, 0, 1, 2, 3, 5, 8, 12])
            levels.append(
                StockLevel(
                    product=product,
                    location=location,
                    on_hand=quantity,
                    safety_stock=1 if location.kind == LocationKind.STORE and quantity > 3 else 0,
                )
            )
    StockLevel.objects.bulk_create(levels, batch_size=1000)


def _seed_opening_receipts(actor: Actor) -> None:
    """A receipt in the ledger for every stock row with units and no movement yet."""
    created = StockLevel.objects.filter(
        pk__in=StockLevel.objects.filter(movements__isnull=True, on_hand__gt=0).values("pk")
    ).values_list("pk", "product_id", "location_id", "on_hand")
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                stock_level_id=pk,
                product_id=product_id,
                location_id=location_id,
                kind=MovementKind.RECEIPT,
                on_hand_delta=on_hand,
                on_hand_after=on_hand,
                reason="demo opening stock",
                reference="seed_demo",
                actor_type=actor.type,
                actor_name=actor.name,
            )
            for pk, product_id, location_id, on_hand in created
        ],
        batch_size=1000,
    )
