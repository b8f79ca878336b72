"""A transfer order moves units of SKUs from a source location to a destination: reserved at the
source when created (they cannot be sold meanwhile), out of the source's on-hand stock when shipped
(``transfer_out``), into the destination's when received (``transfer_in``), in part or at once.

The order a transfer serves (ship-to-store for BOPIS) is named by ``order_id`` / ``order_number``
without a foreign key: inventory is below orders in the import direction (docs/architecture.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from inventory.choices import TransferStatus
from oms.errors import InvalidTransition

T = TransferStatus

# draft -> shipped (-> in_transit) -> partially_received -> received; cancelled only from draft (a
# shipped transfer's units are on the road: they are received, then adjusted if they must go back).
# ``in_transit`` is the carrier's first scan, for a carrier integration to set; ship and receive
# treat ``shipped`` and ``in_transit`` alike.
TRANSFER_TRANSITIONS: dict[str, frozenset[str]] = {
    T.DRAFT: frozenset({T.SHIPPED, T.CANCELLED}),
    T.SHIPPED: frozenset({T.IN_TRANSIT, T.PARTIALLY_RECEIVED, T.RECEIVED}),
    T.IN_TRANSIT: frozenset({T.PARTIALLY_RECEIVED, T.RECEIVED}),
    T.PARTIALLY_RECEIVED: frozenset({T.PARTIALLY_RECEIVED, T.RECEIVED}),
    T.RECEIVED: frozenset(),
    T.CANCELLED: frozenset(),
}
# Shipped and not yet fully received: units on the road (ATP's future supply at the destination).
ON_THE_ROAD = frozenset({T.SHIPPED, T.IN_TRANSIT, T.PARTIALLY_RECEIVED})


class TransferOrder(models.Model):
    number = models.CharField(max_length=40, unique=True)
    source = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="transfers_out")
    # indexed by transfer_dest_status_idx (destination, status)
    destination = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="transfers_in", db_index=False
    )
    status = models.CharField(max_length=20, choices=TransferStatus.choices, default=T.DRAFT)
    order_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, help_text="The order this transfer serves (ship-to-store)."
    )
    order_number = models.CharField(max_length=40, blank=True, default="")
    note = models.CharField(max_length=300, blank=True, default="")
    expected_on = models.DateField(null=True, blank=True, help_text="When the units should arrive.")
    # who did each step (an actor's label) and when
    created_by = models.CharField(max_length=220, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    shipped_by = models.CharField(max_length=220, blank=True, default="")
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_by = models.CharField(max_length=220, blank=True, default="")
    received_at = models.DateTimeField(null=True, blank=True, help_text="Fully received.")
    cancelled_by = models.CharField(max_length=220, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    carrier = models.CharField(max_length=64, blank=True, default="")
    tracking_number = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["destination", "status"], name="transfer_dest_status_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("destination")), name="transfer_two_locations"),
        ]

    def __str__(self) -> str:
        return self.number

    def can_transition(self, target: str) -> bool:
        return target in TRANSFER_TRANSITIONS.get(self.status, frozenset())

    def require_transition(self, target: str) -> None:
        if not self.can_transition(target):
            raise InvalidTransition(entity="transfer order", current=self.status, target=target)


class TransferLine(models.Model):
    """Units of one SKU: ``quantity`` asked (reserved at the source), ``shipped``, ``received``;
    ``0 <= received <= shipped <= quantity`` is a CHECK, so no receipt ever exceeds what left."""

    # indexed by transfer_line_unique_product (transfer, product)
    transfer = models.ForeignKey(
        TransferOrder, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField()
    shipped = models.IntegerField(default=0)
    received = models.IntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "product"], name="transfer_line_unique_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_quantity_positive"),
            models.CheckConstraint(condition=Q(received__gte=0), name="transfer_line_received_non_negative"),
            models.CheckConstraint(
                condition=Q(received__lte=F("shipped")), name="transfer_line_received_within_shipped"
            ),
            models.CheckConstraint(
                condition=Q(shipped__lte=F("quantity")), name="transfer_line_shipped_within_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.quantity} x {self.product_id}"

    @property
    def in_transit(self) -> int:
        return self.shipped - self.received


class TransferReceipt(models.Model):
    """One receipt of a transfer, under the client's idempotency key: a repeated receive with the
    same key finds it and changes nothing."""

    # indexed by transfer_receipt_unique_key (transfer, key)
    transfer = models.ForeignKey(
        TransferOrder, on_delete=models.CASCADE, related_name="receipts", db_index=False
    )
    key = models.CharField(max_length=100)
    units = models.IntegerField()
    actor_name = models.CharField(max_length=220)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "key"], name="transfer_receipt_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id} receipt {self.key}"
