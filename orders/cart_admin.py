"""Price lists and carts in the Django admin: managers keep price lists (and their entries) here
as through the API; carts are read-only records, with their lines, held units and timeline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from oms.admin_base import IdentityFixedMixin, ReadOnlyMixin, StaffReadOnlyInline, StaffViewMixin
from oms.errors import DomainError

from .models import Cart, CartEvent, CartHold, CartLine, PriceList, PriceListEntry
from .services.price_lists import PriceListInput, check_price_list


class PriceListForm(forms.ModelForm):
    class Meta:
        model = PriceList
        fields = ("code", "name", "channel", "currency", "valid_from", "valid_to", "active")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            data["currency"] = check_price_list(
                PriceListInput(
                    code=data.get("code") or (self.instance.code if self.instance else ""),
                    currency=data.get("currency", ""),
                    channel=data.get("channel"),
                    valid_from=data.get("valid_from"),
                    valid_to=data.get("valid_to"),
                )
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return data


class PriceListEntryInline(admin.TabularInline):
    model = PriceListEntry
    fields = ("product", "unit_price")
    autocomplete_fields = ("product",)
    extra = 0


@admin.register(PriceList)
class PriceListAdmin(IdentityFixedMixin, StaffViewMixin, admin.ModelAdmin):
    form = PriceListForm
    identity_fields = ("code",)
    list_display = ("code", "name", "channel", "currency", "valid_from", "valid_to", "active")
    list_filter = ("active", "currency", "channel")
    search_fields = ("code", "name")
    readonly_fields = ("created_at", "updated_at")
    inlines = [PriceListEntryInline]


class CartLineInline(StaffReadOnlyInline):
    model = CartLine
    fields = ("sku", "quantity", "unit_price")


class CartHoldInline(StaffReadOnlyInline):
    model = CartHold
    fields = ("product", "location", "quantity", "status", "expires_at")
    verbose_name_plural = _("Held units")


class CartEventInline(StaffReadOnlyInline):
    model = CartEvent
    fields = ("created_at", "kind", "channel", "actor_type", "actor_name", "data")
    verbose_name_plural = _("Timeline")


@admin.register(Cart)
class CartAdmin(ReadOnlyMixin, StaffViewMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "customer",
        "channel",
        "priced_for",
        "currency",
        "status",
        "hold_expires_at",
        "order",
    )
    list_filter = ("status", "channel", "priced_for")
    search_fields = ("customer__email", "customer__phone", "token", "order__number")
    list_select_related = ("customer", "channel", "priced_for", "order")
    readonly_fields = (
        "customer",
        "channel",
        "priced_for",
        "currency",
        "status",
        "order",
        "hold_location",
        "hold_expires_at",
        "created_at",
        "updated_at",
    )
    exclude = ("token",)
    inlines = [CartLineInline, CartHoldInline, CartEventInline]
