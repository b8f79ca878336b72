"""Admin of loyalty (managers): the channels' rules (editable), the accounts with their ledger and
the ledger itself, read-only (points move only through the services). Found by loyalty number,
e-mail or phone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from oms.admin_base import ReadOnlyInline, ReadOnlyMixin

from .models import LoyaltyAccount, LoyaltyEntry, LoyaltyRule
from .rules import loyalty_rules_cache_clear

ENTRY_FIELDS = (
    "created_at",
    "kind",
    "points",
    "remaining",
    "debt_delta",
    "order_id",
    "reference",
    "amount",
    "currency",
    "channel",
    "actor_name",
    "expires_at",
)


@admin.register(LoyaltyRule)
class LoyaltyRuleAdmin(admin.ModelAdmin):
    list_display = ("channel", "points_per_unit", "point_value", "trigger", "expiry_days", "active")
    list_filter = ("trigger", "active")
    list_select_related = ("channel",)
    readonly_fields = ("created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        loyalty_rules_cache_clear()
        transaction.on_commit(loyalty_rules_cache_clear)


class LoyaltyEntryInline(ReadOnlyMixin, ReadOnlyInline):
    model = LoyaltyEntry
    fields = ENTRY_FIELDS
    ordering = ("-pk",)
    verbose_name_plural = _("Points ledger")


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("loyalty_number", "customer", "balance", "debt", "updated_at")
    search_fields = (
        "loyalty_number",
        "customer__email_normalized",
        "customer__phone_normalized",
        "customer__name",
    )
    list_select_related = ("customer",)
    inlines = [LoyaltyEntryInline]


@admin.register(LoyaltyEntry)
class LoyaltyEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "account", "kind", "points", "debt_delta", "reference", "channel")
    list_filter = ("kind", "channel")
    search_fields = ("account__loyalty_number", "reference")
    list_select_related = ("account", "channel")
    fields = ("account", *ENTRY_FIELDS)
