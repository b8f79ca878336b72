"""Returns (RMA) of any order from any channel, the units received with their disposition, and the
refunds recorded for the payment system.

Status rules (design.md "Return (RMA)"; transitions in ``RETURN_TRANSITIONS``):

- ``requested``: created, nothing received yet.
- ``partially_received`` / ``received``: some / every expected unit was received (restocked at the
  receiving location, or recorded as damaged).
- ``refunded``: a refund was recorded for the return. Money may go back before the units arrive (a
  mail return refunded on dispatch), so a ``refunded`` return still accepts its outstanding units
  (the lines' counters show the progress; the status stays ``refunded``), and further refunds.
- ``closed``: finished by ``return_close``: no more receipts or refunds. Units never received stop
  counting against the order line, so they may be returned again later.
- ``cancelled``: withdrawn before anything was received or refunded (cancels its exchange order).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from oms.errors import InvalidTransition
from oms.models import TimeStampedModel, unique_when_given
from oms.money import MONEY

from .choices import Disposition, RefundMethod, ReturnMethod, ReturnReason, ReturnStatus

R = ReturnStatus

RETURN_TRANSITIONS: dict[str, frozenset[str]] = {
    R.REQUESTED: frozenset({R.PARTIALLY_RECEIVED, R.RECEIVED, R.REFUNDED, R.CANCELLED}),
    R.PARTIALLY_RECEIVED: frozenset({R.RECEIVED, R.REFUNDED, R.CLOSED}),
    R.RECEIVED: frozenset({R.REFUNDED, R.CLOSED}),
    R.REFUNDED: frozenset({R.REFUNDED, R.CLOSED}),
    R.CLOSED: frozenset(),
    R.CANCELLED: frozenset(),
}
# Statuses in which units may still be received.
RECEIVABLE_STATUSES = frozenset({R.REQUESTED, R.PARTIALLY_RECEIVED, R.REFUNDED})
# Statuses of a store's "to receive" queue.
AWAITING_STATUSES = frozenset({R.REQUESTED, R.PARTIALLY_RECEIVED})


class Return(TimeStampedModel):
    """Units of one order coming back at one location (in a store, or by mail)."""

    number = models.CharField(max_length=48, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns")
    channel = models.ForeignKey(
        "oms.Channel",
        on_delete=models.PROTECT,
        related_name="returns",
        help_text="The channel the customer returned through (may differ from the order's).",
    )
    method = models.CharField(max_length=12, choices=ReturnMethod.choices)
    # indexed by return_location_status_idx (location, status)
    location = models.ForeignKey(
        "inventory.Location",
        on_delete=models.PROTECT,
        related_name="returns",
        help_text="Where the units are received and restocked.",
        db_index=False,
    )
    status = models.CharField(max_length=24, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    window_overridden = models.BooleanField(
        default=False, help_text="A manager accepted units past the return window."
    )
    value = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="What the returned units were paid (their lines' totals)."
    )
    exchange_order = models.OneToOneField(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange_for",
        help_text="The new order of an exchange, paid by the return's value.",
    )
    exchange_credit = models.DecimalField(
        **MONEY,
        default=Decimal("0"),
        help_text="The part of the return's value applied to the exchange order (counts as refunded "
        "while the exchange order is not cancelled).",
    )
    exchange_balance = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Exchange order total minus the return's value: positive = the customer pays, "
        "negative = a refund is due.",
    )
    created_by_type = models.CharField(max_length=16)
    created_by = models.CharField(max_length=200)
    idempotency_scope = models.CharField(max_length=64, blank=True, default="")
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            unique_when_given("idempotency_scope", "idempotency_key", name="return_unique_idempotency_key"),
            models.CheckConstraint(condition=Q(value__gte=0), name="return_value_non_negative"),
            models.CheckConstraint(
                condition=Q(exchange_credit__gte=0), name="return_exchange_credit_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["location", "status"], name="return_location_status_idx"),
            models.Index(fields=["status", "created_at"], name="return_status_created_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    def can_transition(self, target: str) -> bool:
        return target in RETURN_TRANSITIONS.get(self.status, frozenset())

    def require_transition(self, target: str) -> None:
        if not self.can_transition(target):
            raise InvalidTransition(entity="return", current=self.status, target=target)


class ReturnLine(models.Model):
    """Units of one order line in a return, with why they come back and what became of them."""

    # indexed by return_line_unique_order_line (rma, order_line)
    rma = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines", db_index=False)
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.IntegerField()
    reason = models.CharField(max_length=24, choices=ReturnReason.choices)
    note = models.CharField(max_length=300, blank=True, default="")
    value = models.DecimalField(**MONEY, default=Decimal("0"), help_text="What these units were paid.")
    quantity_received = models.IntegerField(default=0)
    quantity_restocked = models.IntegerField(default=0)
    quantity_damaged = models.IntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["rma", "order_line"], name="return_line_unique_order_line"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_restocked__gte=0) & Q(quantity_damaged__gte=0),
                name="return_line_counters_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(quantity_received=F("quantity_restocked") + F("quantity_damaged")),
                name="return_line_received_is_restocked_plus_damaged",
            ),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")), name="return_line_received_within_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rma_id}: {self.quantity} x line {self.order_line_id} ({self.reason})"

    @property
    def quantity_outstanding(self) -> int:
        return self.quantity - self.quantity_received


class Receipt(models.Model):
    """Units of a return line received in one go, with their disposition and who received them."""

    rma = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="receipts")
    line = models.ForeignKey(ReturnLine, on_delete=models.CASCADE, related_name="receipts")
    # indexed by receipt_location_disp_idx (location, disposition)
    location = models.ForeignKey(
        "inventory.Location", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    quantity = models.IntegerField()
    disposition = models.CharField(max_length=12, choices=Disposition.choices)
    received_by_type = models.CharField(max_length=16)
    received_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="receipt_quantity_positive"),
        ]
        indexes = [models.Index(fields=["location", "disposition"], name="receipt_location_disp_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} x line {self.line_id} {self.disposition}"


class Refund(models.Model):
    """Money owed back to the customer, for the payment system to execute. For every order, the sum
    of its refunds (plus exchange credits in use) never exceeds what was paid (``order.total``)."""

    rma = models.ForeignKey(Return, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=20, choices=RefundMethod.choices)
    note = models.CharField(max_length=300, blank=True, default="")
    created_by_type = models.CharField(max_length=16)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    idempotency_scope = models.CharField(max_length=64, blank=True, default="")
    idempotency_key = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            unique_when_given("idempotency_scope", "idempotency_key", name="refund_unique_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.method}) for {self.rma_id}"
