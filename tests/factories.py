"""factory-boy factories for the kernel and inventory (apps above add their own in tests/<app>/)."""

from decimal import Decimal

import factory

from inventory.choices import LocationKind
from inventory.models import Location, Product, StockLevel
from oms.choices import ChannelKind
from oms.models import Channel, Customer


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"channel-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    kind = ChannelKind.WEB
    currency = "USD"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    email_normalized = factory.LazyAttribute(lambda o: o.email.lower())
    name = factory.Faker("name")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"loc-{n}")
    name = factory.LazyAttribute(lambda o: o.code.upper())
    kind = LocationKind.WAREHOUSE
    latitude = Decimal("10.762622")
    longitude = Decimal("106.660172")
    ships = True
    pickup = False
    ship_from_store = False
    accepts_returns = True


class StoreFactory(LocationFactory):
    code = factory.Sequence(lambda n: f"store-{n}")
    kind = LocationKind.STORE
    ships = False
    pickup = True
    ship_from_store = True


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Product {o.sku}")
    price = Decimal("19.90")
    currency = "USD"


class StockLevelFactory(factory.django.DjangoModelFactory):
    """A stock row. Use ``stock_put`` in tests when the ledger must match on_hand."""

    class Meta:
        model = StockLevel

    product = factory.SubFactory(ProductFactory)
    location = factory.SubFactory(LocationFactory)
    on_hand = 0
    reserved = 0
    safety_stock = 0
