from decimal import Decimal
from functools import cache
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from oms.models import TimeStampedModel, code_validator

from .choices import LocationKind, MovementKind


@cache
def time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone_validator(value: str) -> None:
    """An IANA time zone name (``Asia/Ho_Chi_Minh``, ``UTC``)."""
    if value not in time_zone_names():
        raise ValidationError(f"'{value}' is not an IANA time zone name.", code="invalid_timezone")


def location_timezone_default() -> str:
    return settings.TIME_ZONE


class Location(TimeStampedModel):
    """A node of the network: a warehouse or a store."""

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=LocationKind.choices)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    address = models.CharField(max_length=300, blank=True, default="")
    city = models.CharField(max_length=120, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    opening_hours = models.CharField(max_length=200, blank=True, default="")
    timezone = models.CharField(
        max_length=64,
        default=location_timezone_default,
        validators=[time_zone_validator],
        help_text="IANA time zone of the location (its day, opening hours, pickup deadlines).",
    )
    # Capabilities
    ships = models.BooleanField(default=False, help_text="Ships parcels (warehouses).")
    pickup = models.BooleanField(default=False, help_text="Customers collect orders here (BOPIS).")
    ship_from_store = models.BooleanField(default=False, help_text="A store that ships online orders.")
    accepts_returns = models.BooleanField(default=False)
    daily_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fulfilment orders a day; empty means unlimited."
    )
    priority = models.IntegerField(default=0, help_text="Higher wins a tie on distance.")
    pickup_hold_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days a pickup is held; empty means the OMS_PICKUP_HOLD_DAYS setting.",
    )
    transfer_lead_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days a transfer from here takes to arrive; empty: the OMS_TRANSFER_LEAD_DAYS setting.",
    )
    active = models.BooleanField(default=True)
    staff = models.ManyToManyField("oms.StaffProfile", blank=True, related_name="locations")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90)
                & Q(latitude__lte=90)
                & Q(longitude__gte=-180)
                & Q(longitude__lte=180),
                name="location_coordinates_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def can_ship(self) -> bool:
        """May ship parcels: a warehouse that ships, or a store with ship-from-store."""
        if self.kind == LocationKind.STORE:
            return self.ship_from_store
        return self.ships


class Product(TimeStampedModel):
    """The sellable unit (a product variant), identified by its SKU."""

    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_non_negative")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockLevel(models.Model):
    """One row per SKU per location. Counters change only through inventory services, each one
    conditional UPDATE backed by these CHECK constraints."""

    # indexed by stock_level_unique_product_location (product, location) and
    # stock_location_product_idx (location, product)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="stock_levels", db_index=False
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="stock_levels", db_index=False
    )
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    safety_stock = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], name="stock_level_unique_product_location"
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_non_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"
            ),
            models.CheckConstraint(condition=Q(safety_stock__gte=0), name="stock_safety_non_negative"),
        ]
        indexes = [models.Index(fields=["location", "product"], name="stock_location_product_idx")]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class StockMovement(models.Model):
    """Append-only ledger: every change to on_hand or reserved, with who and why.
    For every StockLevel, on_hand == sum(on_hand_delta) and reserved == sum(reserved_delta)."""

    # indexed by movement_stock_created_idx (stock_level, created_at)
    stock_level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="movements", db_index=False
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    on_hand_after = models.IntegerField(null=True, blank=True)
    expected_on_hand = models.IntegerField(
        null=True, blank=True, help_text="For counts: what the system expected (inventory accuracy)."
    )
    reason = models.CharField(max_length=300, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="", db_index=True)
    actor_type = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["stock_level", "created_at"], name="movement_stock_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.on_hand_delta:+d}/{self.reserved_delta:+d} @ {self.stock_level_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("The stock ledger is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("The stock ledger is append-only.")


class LocationDailyLoad(models.Model):
    """Open fulfilment orders created at a location on a day, for ``daily_capacity``.

    A denormalised counter: the fulfilment app adds 1 when it creates a fulfilment order and takes 1
    away when one is rejected, cancelled or expired (``inventory.capacity.location_load_change``)."""

    # indexed by location_daily_load_unique_day (location, day)
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="daily_loads", db_index=False
    )
    day = models.DateField()
    open_fulfillment_orders = models.IntegerField(default=0)

    class Meta:
        ordering = ["day", "location"]
        constraints = [
            models.UniqueConstraint(fields=["location", "day"], name="location_daily_load_unique_day"),
            models.CheckConstraint(
                condition=Q(open_fulfillment_orders__gte=0), name="location_daily_load_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location_id}@{self.day}: {self.open_fulfillment_orders} open"


# Transfer orders live in their own module (inventory/transfers/); Django finds models here.
from inventory.transfers.models import TransferLine, TransferOrder, TransferReceipt  # noqa: E402

__all__ = [
    "Location",
    "LocationDailyLoad",
    "Product",
    "StockLevel",
    "StockMovement",
    "TransferLine",
    "TransferOrder",
    "TransferReceipt",
]
