"""Price lists per channel and currency (``PriceList``, ``PriceListEntry``) and the cross-channel
cart, a draft order (``Cart``, its ``CartLine``s, its timeline ``CartEvent`` and the units it holds,
``CartHold``). Imported by ``orders.models``; the rules are in ``orders.pricing`` and
``orders.services.carts`` / ``cart_holds`` (docs/carts.md)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from oms.models import TimeStampedModel, code_validator
from oms.money import MONEY

from .choices import CartEventKind, CartHoldStatus, CartStatus


class PriceList(TimeStampedModel):
    """Prices of one channel (or, without a channel, of every channel selling in ``currency``),
    valid in ``[valid_from, valid_to)``. The most specific valid list wins: the channel's own before
    a shared one, then the latest ``valid_from``, then the highest id (``orders.pricing``)."""

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200, blank=True, default="")
    # indexed by price_list_channel_idx (channel, currency)
    channel = models.ForeignKey(
        "oms.Channel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="price_lists",
        db_index=False,
        help_text="Empty: shared by every channel selling in this currency.",
    )
    currency = models.CharField(max_length=3)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True, help_text="Empty: no end.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="price_list_valid_to_after_from",
            ),
        ]
        indexes = [models.Index(fields=["channel", "currency"], name="price_list_channel_idx")]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"


class PriceListEntry(models.Model):
    price_list = models.ForeignKey(
        PriceList, on_delete=models.CASCADE, related_name="entries", db_index=False
    )
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    unit_price = models.DecimalField(**MONEY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["price_list_id", "product_id"]
        verbose_name_plural = "price list entries"
        constraints = [
            models.UniqueConstraint(fields=["price_list", "product"], name="price_list_entry_unique"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_list_entry_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} at {self.unit_price}"


class Cart(TimeStampedModel):
    """A draft order of one customer (or of an anonymous ``token``), readable and editable from
    every channel the customer uses; priced for the channel that last edited it."""

    token = models.CharField(max_length=64, unique=True, help_text="The anonymous cart's secret.")
    customer = models.ForeignKey(
        "oms.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="carts"
    )
    channel = models.ForeignKey(
        "oms.Channel", on_delete=models.PROTECT, related_name="carts", help_text="Created on."
    )
    priced_for = models.ForeignKey(
        "oms.Channel", on_delete=models.PROTECT, related_name="+", help_text="Prices are this channel's."
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=CartStatus.choices, default=CartStatus.OPEN)
    order = models.OneToOneField(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="cart"
    )
    hold_location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hold_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="open", customer__isnull=False),
                name="cart_one_open_per_customer",
            ),
            models.CheckConstraint(
                condition=~Q(status="checked_out") | Q(order__isnull=False), name="cart_checked_out_has_order"
            ),
        ]
        indexes = [
            models.Index(
                fields=["hold_expires_at"],
                condition=Q(hold_expires_at__isnull=False),
                name="cart_hold_expiry_idx",
            )
        ]

    def __str__(self) -> str:
        return f"cart {self.pk}"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines.all()), Decimal("0"))


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines", db_index=False)
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    quantity = models.IntegerField()
    unit_price = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["cart_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cart_line_unique_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cart_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="cart_line_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class CartEvent(models.Model):
    """The cart's timeline: what was done, on which channel, by whom."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=24, choices=CartEventKind.choices)
    channel = models.ForeignKey(
        "oms.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_type = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cart_id", "created_at", "pk"]
        indexes = [models.Index(fields=["cart", "created_at"], name="cart_event_cart_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on cart {self.cart_id}"


class CartHold(models.Model):
    """Units of one stock row reserved for a cart until ``expires_at`` (reserved units: never sold
    twice); released by beat when expired, converted into the order's reservations at checkout."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="holds", db_index=False)
    stock_level = models.ForeignKey("inventory.StockLevel", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField()
    status = models.CharField(max_length=16, choices=CartHoldStatus.choices, default=CartHoldStatus.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cart_id", "pk"]
        indexes = [models.Index(fields=["cart", "status"], name="cart_hold_cart_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cart_hold_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.product_id} at {self.location_id} for cart {self.cart_id}"
