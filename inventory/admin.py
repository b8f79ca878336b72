"""Django admin of the network and the stock: locations, products, stock rows and the ledger.

Who sees what
- Managers are superusers (``create_staff --role manager``): they see and change everything an
  admin page allows.
- Associates (``create_staff --role associate --locations ...``) are ``is_staff`` users without
  Django model permissions. The admin classes below grant them view access themselves, from their
  ``StaffProfile``, and scope every queryset to their locations: an associate sees only the
  locations they work at, their stock rows and their ledger, and may adjust stock there. No
  ``Group`` or ``Permission`` rows are needed.

Counters change only through ``inventory.services``: the stock row page never edits ``on_hand``
or ``reserved`` (the "Adjust stock" action calls ``stock_adjust`` / ``stock_count``), safety
stock is saved with ``stock_safety_set``, and the ledger is read-only.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template import engines
from django.template.response import TemplateResponse

from oms.admin import clean_currency_field
from oms.admin_base import (  # the staff scoping lives in the kernel; fulfillment and returns use it too
    IdentityFixedMixin,
    LocationScopedMixin,
    ReadOnlyInline,
    ReadOnlyMixin,
    StaffViewMixin,
    admin_actor,
    apply_each,
    form_or_page,
)
from oms.errors import DomainError

from .models import Location, Product, StockLevel, StockMovement
from .services import stock_adjust, stock_count, stock_safety_set
from .services.network import LOCATION_CAPABILITY_FIELDS, LOCATION_PLACE_FIELDS

# --- Locations and products ---------------------------------------------------------------------


class StockLevelInline(ReadOnlyMixin, StaffViewMixin, ReadOnlyInline):
    """A location's stock rows, read-only (counters change through the Adjust stock action)."""

    model = StockLevel
    fields = ("product", "on_hand", "reserved", "safety_stock", "available", "updated_at")
    show_change_link = True
    ordering = ("product__sku",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("product")

    @admin.display(description="Available")
    def available(self, obj: StockLevel) -> int:
        return obj.available


@admin.register(Location)
class LocationAdmin(LocationScopedMixin, admin.ModelAdmin):
    location_lookup = "pk"
    list_display = (
        "code",
        "name",
        "kind",
        "city",
        "capabilities",
        "daily_capacity",
        "priority",
        "active",
    )
    list_filter = ("kind", "active", "ships", "pickup", "ship_from_store", "accepts_returns", "country")
    search_fields = ("code", "name", "city")
    filter_horizontal = ("staff",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "active")}),
        ("Where", {"fields": LOCATION_PLACE_FIELDS}),
        ("Capabilities", {"fields": LOCATION_CAPABILITY_FIELDS}),
        ("Staff", {"fields": ("staff",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
    inlines = [StockLevelInline]

    def location_id_of(self, obj: Location) -> int:
        return obj.pk

    @admin.display(description="Capabilities")
    def capabilities(self, obj: Location) -> str:
        names = [
            label
            for label, on in (
                ("ships", obj.ships),
                ("pickup", obj.pickup),
                ("ship-from-store", obj.ship_from_store),
                ("returns", obj.accepts_returns),
            )
            if on
        ]
        return ", ".join(names) or "—"


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["sku", "name", "price", "currency", "active"]

    def clean_currency(self) -> str:
        return clean_currency_field(self.cleaned_data["currency"])


@admin.register(Product)
class ProductAdmin(IdentityFixedMixin, StaffViewMixin, admin.ModelAdmin):
    form = ProductForm
    identity_fields = ("sku",)  # orders, stock rows and the ledger refer to the SKU
    list_display = ("sku", "name", "price", "currency", "active")
    list_filter = ("active", "currency")
    search_fields = ("sku", "name")
    readonly_fields = ("created_at", "updated_at")


# --- Stock rows and the "Adjust stock" action ---------------------------------------------------


class StockAdjustForm(forms.Form):
    """Either a delta (receipt, damage, loss) or a counted on-hand quantity (a cycle count)."""

    delta = forms.IntegerField(
        required=False, help_text="Units to add (positive) or remove (negative) at each selected row."
    )
    on_hand = forms.IntegerField(
        required=False,
        min_value=0,
        label="Counted on hand",
        help_text="What was counted: on hand is set to it (never below the reserved units).",
    )
    reason = forms.CharField(max_length=300, help_text="Why: recorded in the stock ledger.")

    def clean(self) -> dict[str, Any]:
        super().clean()  # a plain Form's answers its cleaned_data (typed Optional for overrides)
        data = self.cleaned_data
        if self.errors:
            return data
        if (data.get("delta") is None) == (data.get("on_hand") is None):
            raise forms.ValidationError("Give either a delta or a counted on-hand quantity, not both.")
        return data


ADJUST_TEMPLATE = """{% extends "admin/oms/action_form.html" %}
{% block changelist_link %}
{{ opts.verbose_name_plural|capfirst }}{% endblock %}
{% block intro %}Adjust {{ rows|length }} stock row{{ rows|length|pluralize }}:{% endblock %}
{% block row %}{{ row.product.sku }} at {{ row.location.code }}:
{{ row.on_hand }} on hand, {{ row.reserved }} reserved{% endblock %}
"""


@cache
def adjust_template() -> Any:
    return engines["django"].from_string(ADJUST_TEMPLATE)


class SkuColumnMixin:
    """A list column with the SKU of the row's product (``list_select_related`` holds it)."""

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, obj: StockLevel | StockMovement) -> str:
        return obj.product.sku


class StockLevelForm(forms.ModelForm):
    """Only safety stock is editable; it is saved through ``stock_safety_set``."""

    safety_stock = forms.IntegerField(min_value=0, max_value=settings.OMS_MAX_QUANTITY)

    class Meta:
        model = StockLevel
        fields = ["safety_stock"]


@admin.register(StockLevel)
class StockLevelAdmin(SkuColumnMixin, LocationScopedMixin, admin.ModelAdmin):
    form = StockLevelForm
    list_display = ("sku", "location", "on_hand", "reserved", "safety_stock", "available", "updated_at")
    list_filter = (("location", admin.RelatedOnlyFieldListFilter), "location__kind")
    search_fields = ("product__sku", "product__name")
    list_select_related = ("product", "location")
    fields = ("product", "location", "on_hand", "reserved", "safety_stock", "available", "updated_at")
    readonly_fields = ("product", "location", "on_hand", "reserved", "available", "updated_at")
    actions = ["adjust_stock"]
    show_full_result_count = False

    @admin.display(description="Available")
    def available(self, obj: StockLevel) -> int:
        return obj.available

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        actor = admin_actor(request)
        return request.user.is_superuser or actor.is_manager or actor.is_associate

    def save_model(self, request: HttpRequest, obj: StockLevel, form: forms.ModelForm, change: bool) -> None:
        # Never obj.save(): that would write the counters the page loaded, over concurrent changes.
        stock_safety_set(
            stock_level_id=obj.pk, safety_stock=form.cleaned_data["safety_stock"], actor=admin_actor(request)
        )

    @admin.action(description="Adjust stock", permissions=["adjust"])
    def adjust_stock(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        rows = list(queryset.select_related("product", "location").order_by("pk"))
        form, page = form_or_page(
            self,
            request,
            StockAdjustForm,
            adjust_template(),
            title="Adjust stock",
            submit="Adjust stock",
            action="adjust_stock",
            rows=rows,
        )
        if page is not None:
            return page
        actor = admin_actor(request)
        delta, on_hand, reason = (form.cleaned_data[k] for k in ("delta", "on_hand", "reason"))
        change = (
            partial(stock_adjust, delta=delta) if delta is not None else partial(stock_count, on_hand=on_hand)
        )

        def adjust(row: StockLevel) -> None:
            if not actor.may_act_at(row.location_id):
                raise DomainError("you do not work at this location.")
            change(product=row.product, location=row.location, reason=reason, actor=actor, reference="admin")

        apply_each(
            request,
            rows,
            adjust,
            lambda n: f"Adjusted {n} stock row{'s' if n != 1 else ''}.",
            label=lambda row: f"{row.product.sku} at {row.location.code}",
        )
        return None


# --- The ledger ---------------------------------------------------------------------------------


@admin.register(StockMovement)
class StockMovementAdmin(SkuColumnMixin, ReadOnlyMixin, LocationScopedMixin, admin.ModelAdmin):
    """The append-only stock ledger: history only."""

    list_display = (
        "created_at",
        "kind",
        "sku",
        "location",
        "on_hand_delta",
        "reserved_delta",
        "on_hand_after",
        "reason",
        "reference",
        "actor",
    )
    list_filter = ("kind", ("location", admin.RelatedOnlyFieldListFilter), "actor_type")
    search_fields = ("product__sku", "reference", "reason", "actor_name")
    list_select_related = ("product", "location")
    date_hierarchy = "created_at"
    ordering = ("-pk",)
    show_full_result_count = False

    @admin.display(description="Actor")
    def actor(self, obj: StockMovement) -> str:
        return f"{obj.actor_type}:{obj.actor_name}"


# Transfer orders (their admin lives with them).
from inventory.transfers import admin as _transfers_admin  # noqa: E402, F401
