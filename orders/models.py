"""Orders from every channel: the order, its lines, the stock held for them (reservations), holds,
the timeline (OrderEvent), the changes made after placement (OrderChange), the idempotency records
of POST /orders, and the money side: the order's Payment and its ledger (PaymentTransaction)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Q

from inventory.geocoding import delivery_point
from oms.errors import InvalidTransition
from oms.models import ActorStampedModel, TimeStampedModel, unique_when_given
from oms.money import MONEY

from .choices import (
    ChangeRequestStatus,
    FulfillmentMethod,
    HoldReason,
    OrderChangeKind,
    OrderEventKind,
    OrderStatus,
    PaymentStatus,
    PaymentTransactionKind,
    PaymentTransactionStatus,
    ReservationStatus,
)

S = OrderStatus

# The order's state machine (design.md, "Order and fulfilment states"). The status mostly follows
# the order's fulfilment orders, so most states may move back and forth between the routing
# states; terminal states have no way out.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset(
        {S.ALLOCATED, S.BACKORDERED, S.IN_FULFILLMENT, S.ON_HOLD, S.CANCELLED, S.PARTIALLY_CANCELLED}
    ),
    S.BACKORDERED: frozenset(
        {
            S.RECEIVED,
            S.ALLOCATED,
            S.IN_FULFILLMENT,
            S.COMPLETED,
            S.ON_HOLD,
            S.CANCELLED,
            S.PARTIALLY_CANCELLED,
        }
    ),
    S.ALLOCATED: frozenset(
        {
            S.RECEIVED,
            S.BACKORDERED,
            S.IN_FULFILLMENT,
            S.COMPLETED,
            S.ON_HOLD,
            S.CANCELLED,
            S.PARTIALLY_CANCELLED,
        }
    ),
    S.IN_FULFILLMENT: frozenset(
        {S.RECEIVED, S.ALLOCATED, S.BACKORDERED, S.COMPLETED, S.CANCELLED, S.PARTIALLY_CANCELLED}
    ),
    S.ON_HOLD: frozenset({S.RECEIVED, S.ALLOCATED, S.BACKORDERED, S.CANCELLED}),
    S.PARTIALLY_CANCELLED: frozenset(
        {S.ALLOCATED, S.BACKORDERED, S.IN_FULFILLMENT, S.COMPLETED, S.CANCELLED}
    ),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
ORDER_HOLDABLE = frozenset({S.RECEIVED, S.ALLOCATED, S.BACKORDERED})
ORDER_TERMINAL = frozenset({S.COMPLETED, S.CANCELLED})


class Order(TimeStampedModel):
    # Both foreign keys are indexed by order_channel_created_idx / order_customer_created_idx (their
    # leading columns): a single-column index of their own would only slow every INSERT.
    channel = models.ForeignKey(
        "oms.Channel", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    customer = models.ForeignKey(
        "oms.Customer",
        on_delete=models.PROTECT,
        related_name="orders",
        null=True,
        blank=True,
        db_index=False,
    )
    external_id = models.CharField(max_length=128, blank=True, default="", help_text="The channel's id.")
    number = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.RECEIVED)
    status_before_hold = models.CharField(max_length=24, choices=OrderStatus.choices, blank=True, default="")
    method = models.CharField(max_length=8, choices=FulfillmentMethod.choices)
    pickup_location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="pickup_orders"
    )
    shipping_address = models.JSONField(default=dict, blank=True)
    ship_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    ship_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY, default=Decimal("0"))
    tax_total = models.DecimalField(**MONEY, default=Decimal("0"))
    shipping_total = models.DecimalField(**MONEY, default=Decimal("0"))
    total = models.DecimalField(**MONEY, default=Decimal("0"), help_text="What the customer paid.")
    allow_backorder = models.BooleanField(default=False)
    placed_by_type = models.CharField(max_length=16)
    placed_by_name = models.CharField(max_length=200)
    allocated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    # Not a column: the other apps' sections of the order detail, set by orders.selectors.attach_sections.
    sections: dict[str, Any]

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            unique_when_given("channel", "external_id", name="order_unique_channel_external_id"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_non_negative"),
            models.CheckConstraint(
                condition=Q(method="ship") | Q(pickup_location__isnull=False),
                name="order_pickup_has_location",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "created_at"], name="order_channel_created_idx"),
            models.Index(fields=["status", "created_at"], name="order_status_created_idx"),
            models.Index(fields=["customer", "created_at"], name="order_customer_created_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def origin(self) -> tuple[float, float] | None:
        """Where distances are measured from: the delivery point, or the pickup store."""
        return self.origin_placed()[0]

    def origin_placed(self) -> tuple[tuple[float, float] | None, str]:
        """``origin`` and how it was found: the pickup store's or the address's coordinates (no
        note), else where the offline geocoder places the address by its city, postal code or
        region (``inventory.geocoding``, in memory), with the geocoder's note."""
        if self.method == FulfillmentMethod.PICKUP and self.pickup_location is not None:
            return (float(self.pickup_location.latitude), float(self.pickup_location.longitude)), ""
        return delivery_point(
            latitude=self.ship_latitude, longitude=self.ship_longitude, address=self.shipping_address
        )

    def can_transition(self, target: str) -> bool:
        return target == self.status or target in ORDER_TRANSITIONS.get(self.status, frozenset())

    def require_transition(self, target: str) -> None:
        if not self.can_transition(target):
            raise InvalidTransition(entity="order", current=self.status, target=target)


class OrderLine(models.Model):
    # indexed by order_line_unique_number (order, line_number)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_number = models.PositiveSmallIntegerField()
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True, default="")
    quantity = models.IntegerField()
    unit_price = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY, default=Decimal("0"))
    line_total = models.DecimalField(**MONEY)
    quantity_backordered = models.IntegerField(default=0, help_text="Units waiting for stock.")
    quantity_cancelled = models.IntegerField(default=0)
    quantity_fulfilled = models.IntegerField(default=0, help_text="Units shipped or collected.")

    class Meta:
        ordering = ["order_id", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="order_line_unique_number"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_line_price_non_negative"),
            models.CheckConstraint(condition=Q(tax__gte=0), name="order_line_tax_non_negative"),
            models.CheckConstraint(
                condition=Q(quantity_backordered__gte=0)
                & Q(quantity_cancelled__gte=0)
                & Q(quantity_fulfilled__gte=0),
                name="order_line_counters_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    quantity__gte=F("quantity_cancelled")
                    + F("quantity_fulfilled")
                    + F("quantity_backordered")
                ),
                name="order_line_counters_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.line_number} {self.quantity} x {self.sku}"

    @property
    def quantity_open(self) -> int:
        """Units still to deliver (neither cancelled nor delivered)."""
        return self.quantity - self.quantity_cancelled - self.quantity_fulfilled


class Reservation(models.Model):
    """Units of one StockLevel held for one order line. Consumed when shipped or collected,
    released when cancelled, rejected or expired; never deleted (the audit trail)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reservations")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="reservations")
    stock_level = models.ForeignKey("inventory.StockLevel", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    # indexed by reservation_loc_status_idx (location, status)
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="reservations", db_index=False
    )
    quantity = models.IntegerField()
    status = models.CharField(
        max_length=12, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_positive"),
        ]
        indexes = [
            models.Index(fields=["location", "status"], name="reservation_loc_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} @ {self.location_id} ({self.status})"


class OrderHold(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    reason = models.CharField(max_length=16, choices=HoldReason.choices)
    note = models.CharField(max_length=500, blank=True, default="")
    placed_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        state = "released" if self.released_at else "active"
        return f"{self.reason} hold on {self.order_id} ({state})"


class OrderEvent(models.Model):
    """One row per change of an order: the timeline staff read in the admin."""

    # indexed by order_event_kind_idx (order, kind)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32, choices=OrderEventKind.choices)
    message = models.CharField(max_length=500, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    actor_type = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["order", "kind"], name="order_event_kind_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class IdempotencyRecord(models.Model):
    """The first response to a POST with an Idempotency-Key, per client (``scope``), kept 24 hours.
    Written in the same transaction as the order it created."""

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    order = models.ForeignKey(Order, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_scope_key"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class Payment(models.Model):
    """The order's payment (one tender per order: its primary key is the order's): what the gateway
    authorised, captured and refunded. The amounts change only when a PaymentTransaction settles
    (``orders.services.payments``), and CHECK constraints keep 0 <= refunded <= captured <= authorized."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, primary_key=True, related_name="payment")
    method = models.CharField(
        max_length=32, default="card", help_text="card, wallet, ... (the storefront's)."
    )
    provider = models.CharField(max_length=32, help_text="The gateway (OMS_PAYMENT_GATEWAY).")
    provider_reference = models.CharField(max_length=128, blank=True, default="")
    token = models.CharField(
        max_length=255, blank=True, default="", help_text="The storefront's payment token; never shown."
    )
    currency = models.CharField(max_length=3)
    authorized = models.DecimalField(**MONEY, default=Decimal("0"))
    captured = models.DecimalField(**MONEY, default=Decimal("0"))
    refunded = models.DecimalField(**MONEY, default=Decimal("0"))
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded__gte=0)
                & Q(captured__gte=F("refunded"))
                & Q(authorized__gte=F("captured")),
                name="payment_amounts_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"payment of {self.order_id} ({self.status})"


class PaymentTransaction(models.Model):
    """The payment ledger: one row per call to the gateway, written ``pending`` before the call
    (in its own transaction) and settled after it, once (the idempotency key is unique and is the
    key the gateway dedups on)."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="transactions")
    # the order too, so the admin shows the ledger on the order's page (indexed by the payment's)
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="payment_transactions", db_index=False
    )
    kind = models.CharField(max_length=12, choices=PaymentTransactionKind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=12, choices=PaymentTransactionStatus.choices, default=PaymentTransactionStatus.PENDING
    )
    provider_reference = models.CharField(max_length=128, blank=True, default="")
    idempotency_key = models.CharField(max_length=128, unique=True)
    reference = models.CharField(
        max_length=64, blank=True, default="", help_text="What it is for: fulfillment:<id>, refund:<id> ..."
    )
    lines = models.JSONField(default=dict, blank=True, help_text="A capture's units by order line id.")
    error = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_transaction_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.status})"


class OrderChange(ActorStampedModel):
    """One operation of a change to a placed order (a line added, units cancelled, the address
    changed ...): who, why, the state before and after, and what it did to the total. The
    operations of one request share a ``revision`` (1, 2 ... per order), in request order."""

    # indexed by order_change_unique_position (order, revision, position)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="changes", db_index=False)
    revision = models.PositiveIntegerField()
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=24, choices=OrderChangeKind.choices)
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=300, blank=True, default="")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    money_delta = models.DecimalField(**MONEY, default=Decimal("0"), help_text="Change of the total.")

    class Meta:
        ordering = ["order_id", "revision", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "revision", "position"], name="order_change_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} r{self.revision}.{self.position} {self.kind}"


class OrderChangeRequest(ActorStampedModel):
    """A change that needs units a location is working on: it waits (``pending_location``) until
    every location asked confirms (the change is then applied, as ``revision``) or one refuses.
    The actor is who asked for the change."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="change_requests")
    status = models.CharField(
        max_length=20, choices=ChangeRequestStatus.choices, default=ChangeRequestStatus.PENDING_LOCATION
    )
    operations = models.JSONField(help_text="The change's operations, as requested.")
    reason = models.CharField(max_length=300, blank=True, default="")
    location_ids = models.JSONField(default=list, help_text="The locations asked to confirm.")
    confirmed_location_ids = models.JSONField(default=list, blank=True)
    answered_by = models.CharField(max_length=200, blank=True, default="")
    answer = models.CharField(max_length=500, blank=True, default="", help_text="Why it was refused.")
    revision = models.PositiveIntegerField(null=True, blank=True, help_text="The change it became.")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="change_request_status_idx")]

    def __str__(self) -> str:
        return f"change request {self.pk} of {self.order_id} ({self.status})"


class ProductAffinity(models.Model):
    """How often two products were bought together: ``orders_count`` orders (not cancelled) hold
    both ``product`` and ``related_product``. Derived data, rebuilt whole by one INSERT ... SELECT
    (``orders.suggestions.product_affinity_refresh``, beat and ``refresh_product_affinity``); both
    directions of a pair are rows, so the suggestions read one side only."""

    # indexed by product_affinity_unique_pair (product, related_product). No index of its own on
    # related_product: the suggestions read the pairs by product; given one, PostgreSQL drove
    # the read from the related products in stock instead (146 ms against 16 ms, 60k pairs).
    product = models.ForeignKey(
        "inventory.Product", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    related_product = models.ForeignKey(
        "inventory.Product", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    orders_count = models.PositiveIntegerField(help_text="Orders that hold both products.")
    refreshed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "product affinities"
        constraints = [
            models.UniqueConstraint(
                fields=["product", "related_product"], name="product_affinity_unique_pair"
            ),
            models.CheckConstraint(
                condition=~Q(product=F("related_product")), name="product_affinity_two_products"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} & {self.related_product_id}: {self.orders_count}"


from .cart_models import (  # noqa: E402, F401  # the price lists and carts, models of this app
    Cart,
    CartEvent,
    CartHold,
    CartLine,
    PriceList,
    PriceListEntry,
)
