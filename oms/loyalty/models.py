"""Loyalty: a points account per customer, its append-only points ledger, and the earning rule of
each channel. The account's ``balance`` is the sum of its entries' ``points`` and its ``debt`` the
sum of their ``debt_delta`` (both denormalised, repaired by ``loyalty_accounts_repair``); every
positive entry keeps the points of it not spent yet (``remaining``), so ``balance`` is also the sum
of ``remaining`` and an expiry never takes more than is there. docs/loyalty.md."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from oms.money import MONEY

from .choices import LoyaltyEntryKind, LoyaltyTrigger


class LoyaltyRule(models.Model):
    """How a channel's customers earn: ``points_per_unit`` points per unit of the channel's
    currency paid (0.0001 = one point per 10,000 VND), on capture or on completion; each point is
    worth ``point_value`` of that currency when it is burnt on the channel."""

    channel = models.OneToOneField("oms.Channel", on_delete=models.CASCADE, related_name="loyalty_rule")
    points_per_unit = models.DecimalField(
        max_digits=14, decimal_places=8, help_text="Points earned per unit of the channel's currency."
    )
    point_value = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="What one point pays for, in the channel's currency."
    )
    trigger = models.CharField(max_length=12, choices=LoyaltyTrigger.choices, default=LoyaltyTrigger.CAPTURE)
    expiry_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days an earn stays spendable; empty: never expires."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_unit__gte=0), name="loyalty_rule_rate_non_negative"
            ),
            models.CheckConstraint(condition=Q(point_value__gte=0), name="loyalty_rule_value_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.points_per_unit} / unit"


class LoyaltyAccount(models.Model):
    """A customer's points, created on first use, with the number they quote in a store."""

    customer = models.OneToOneField("oms.Customer", on_delete=models.PROTECT, related_name="loyalty_account")
    loyalty_number = models.CharField(max_length=16, unique=True)
    balance = models.IntegerField(default=0, help_text="Spendable points: the sum of the ledger.")
    debt = models.IntegerField(
        default=0, help_text="Points reversed after they were spent, settled by the next earns."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_balance_non_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="loyalty_debt_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.loyalty_number} ({self.balance} points)"


class LoyaltyEntry(models.Model):
    """One movement of points (append-only: only ``remaining`` of a positive entry changes, as
    later entries spend it). ``points`` is signed; ``debt_delta`` moves the account's debt."""

    # indexed by loyalty_entry_account_idx (account, id)
    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=12, choices=LoyaltyEntryKind.choices)
    points = models.IntegerField()
    remaining = models.IntegerField(default=0, help_text="Of a positive entry: its points not spent yet.")
    debt_delta = models.IntegerField(default=0)
    reference = models.CharField(
        max_length=128, blank=True, default="", help_text="What caused it (capture:12, return:3 ...), once."
    )
    order_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The order, if any.")
    amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="The money earned on, or the value burnt."
    )
    currency = models.CharField(max_length=3, blank=True, default="")
    channel = models.ForeignKey(
        "oms.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    actor_type = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=200)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "loyalty entries"
        indexes = [
            models.Index(fields=["account", "id"], name="loyalty_entry_account_idx"),
            models.Index(
                fields=["order_id"], condition=Q(order_id__isnull=False), name="loyalty_entry_order_idx"
            ),
            # the expiry's scan: only earns with points left
            models.Index(
                fields=["expires_at"], condition=Q(remaining__gt=0), name="loyalty_entry_expiring_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "reference"],
                condition=~Q(reference=""),
                name="loyalty_entry_once_per_reference",
            ),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & (Q(remaining=0) | Q(remaining__lte=models.F("points"))),
                name="loyalty_entry_remaining_within_points",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"
