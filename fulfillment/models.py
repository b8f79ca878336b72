"""Fulfilment orders: the work one location does for one order (pick, pack, ship, or prepare for
pickup), their lines (each tied to the reservation it uses), and the locations an order excludes
because they rejected it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from oms.errors import InvalidTransition
from orders.choices import FulfillmentMethod

from .choices import FulfillmentStatus

F = FulfillmentStatus

# design.md: pending -> accepted -> picked -> packed -> shipped (ship), or
# accepted -> ready_for_pickup -> picked_up (pickup); also rejected, expired, cancelled.
# Ship-to-store: a pickup waits awaiting_transfer until its transfer is received, then pending.
FULFILLMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    F.AWAITING_TRANSFER: frozenset({F.PENDING, F.CANCELLED}),
    F.PENDING: frozenset({F.ACCEPTED, F.REJECTED, F.CANCELLED}),
    F.ACCEPTED: frozenset({F.PICKED, F.READY_FOR_PICKUP, F.REJECTED, F.CANCELLED}),
    F.PICKED: frozenset({F.PACKED, F.READY_FOR_PICKUP, F.REJECTED, F.CANCELLED}),
    F.PACKED: frozenset({F.SHIPPED, F.REJECTED, F.CANCELLED}),
    F.READY_FOR_PICKUP: frozenset({F.PICKED_UP, F.EXPIRED, F.CANCELLED}),
    F.SHIPPED: frozenset(),
    F.PICKED_UP: frozenset(),
    F.REJECTED: frozenset(),
    F.EXPIRED: frozenset(),
    F.CANCELLED: frozenset(),
}
# Steps that only one method takes.
SHIP_ONLY = frozenset({F.PACKED, F.SHIPPED})
PICKUP_ONLY = frozenset({F.AWAITING_TRANSFER, F.READY_FOR_PICKUP, F.PICKED_UP, F.EXPIRED})
OPEN_STATUSES = frozenset(
    {F.AWAITING_TRANSFER, F.PENDING, F.ACCEPTED, F.PICKED, F.PACKED, F.READY_FOR_PICKUP}
)
DONE_STATUSES = frozenset({F.SHIPPED, F.PICKED_UP})
# Work under way at the location (the order is "in fulfilment").
WORKING_STATUSES = frozenset({F.ACCEPTED, F.PICKED, F.PACKED, F.READY_FOR_PICKUP})


class FulfillmentOrder(models.Model):
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="fulfillment_orders")
    # indexed by fo_location_status_idx (location, status)
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="fulfillment_orders", db_index=False
    )
    number = models.CharField(max_length=40, unique=True)
    method = models.CharField(max_length=8, choices=FulfillmentMethod.choices)
    status = models.CharField(max_length=20, choices=FulfillmentStatus.choices, default=F.PENDING)
    day = models.DateField(help_text="The day it was created (counts against the location's capacity).")
    reject_reason = models.CharField(max_length=300, blank=True, default="")
    carrier = models.CharField(max_length=64, blank=True, default="")
    tracking_number = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    pickup_expires_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, help_text="Shipped or picked up.")
    # The code the customer shows at hand-over (sent in the ready-for-pickup e-mail), the wrong
    # codes tried since it was issued, and when too many wrong codes locked it (fulfillment/
    # services/pickup_codes.py). Stored as it is: see docs/store-day.md.
    pickup_code = models.CharField(max_length=6, blank=True, default="")
    pickup_code_attempts = models.PositiveSmallIntegerField(default=0)
    pickup_code_locked_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Rejected, expired or cancelled.")

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["location", "status"], name="fo_location_status_idx"),
            models.Index(fields=["status", "pickup_expires_at"], name="fo_status_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(method="pickup")
                | ~Q(status__in=["awaiting_transfer", "ready_for_pickup", "picked_up", "expired"]),
                name="fo_pickup_states_only_for_pickup",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def can_transition(self, target: str) -> bool:
        if target in SHIP_ONLY and self.method != FulfillmentMethod.SHIP:
            return False
        if target in PICKUP_ONLY and self.method != FulfillmentMethod.PICKUP:
            return False
        return target in FULFILLMENT_TRANSITIONS.get(self.status, frozenset())

    def require_transition(self, target: str) -> None:
        if not self.can_transition(target):
            raise InvalidTransition(entity="fulfillment order", current=self.status, target=target)


class FulfillmentOrderLine(models.Model):
    fulfillment_order = models.ForeignKey(FulfillmentOrder, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.CASCADE, related_name="+")
    reservation = models.OneToOneField(
        "orders.Reservation", on_delete=models.PROTECT, related_name="fulfillment_line"
    )
    quantity = models.IntegerField()

    class Meta:
        ordering = ["pk"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="fo_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.fulfillment_order_id}: {self.quantity} x line {self.order_line_id}"


class RoutingExclusion(models.Model):
    """A location that rejected (part of) an order is not asked again for that order."""

    # indexed by routing_exclusion_unique (order, location)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="routing_exclusions", db_index=False
    )
    location = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "location"], name="routing_exclusion_unique"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} excludes location {self.location_id}"
