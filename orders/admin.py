"""Orders in the Django admin: read-only records (changes go through the services), with lines,
reservations, holds, the payment and its ledger, and the timeline inline, a filter by payment
status, and actions cancel / hold / release hold, in the list and as buttons on an order's page
(managers; only those its status allows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from oms.actors import Actor
from oms.admin_base import (
    NoAddOrChangeMixin,
    ReadOnlyMixin,
    StaffReadOnlyInline,
    StaffViewMixin,
    admin_actor,
    apply_each,
    column,
    form_or_page,
    money_column,
)
from oms.admin_buttons import DetailButton, DetailButtonsMixin
from oms.display import EMPTY, actor_display, address_lines

from .admin_changes import CHANGE_BUTTONS
from .admin_screens import admin_url, fulfillment_orders_html, returns_html, timeline_html
from .choices import HoldReason, OrderStatus, PaymentStatus
from .models import (
    ORDER_HOLDABLE,
    IdempotencyRecord,
    Order,
    OrderHold,
    OrderLine,
    Payment,
    PaymentTransaction,
    Reservation,
)
from .selectors import attach_sections
from .services import order_cancel, order_hold_place, order_hold_release


class OrderRowsInline(StaffReadOnlyInline):
    """Rows of an order, shown on its page: the order is joined for the currency of their amounts."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("order")


class OrderLineInline(OrderRowsInline):
    model = OrderLine
    fields = (
        "line_number",
        "sku",
        "name",
        "quantity",
        "unit_price_display",
        "tax_display",
        "line_total_display",
        "quantity_backordered",
        "quantity_cancelled",
        "quantity_fulfilled",
    )
    unit_price_display = money_column("unit_price", "Unit price", currency="order.currency")
    tax_display = money_column("tax", "Tax", currency="order.currency")
    line_total_display = money_column("line_total", "Line total", currency="order.currency")


class ReservationInline(StaffReadOnlyInline):
    model = Reservation
    verbose_name_plural = "Stock held for this order"
    fields = ("sku", "location", "quantity", "status", "created_at")
    sku = column("line.sku", "SKU")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("line", "location")


class OrderHoldInline(StaffReadOnlyInline):
    model = OrderHold
    fields = ("reason", "note", "placed_by", "created_at", "released_at", "released_by")


class PaymentInline(OrderRowsInline):
    model = Payment
    fields = ("method", "provider", "provider_reference", "authorized_", "captured_", "refunded_", "status")
    authorized_ = money_column("authorized", "Authorised")
    captured_ = money_column("captured", "Captured")
    refunded_ = money_column("refunded", "Refunded")


def payment_reference_text(reference: str) -> str:
    """What a ledger row's ``reference`` is for, in words: "fulfillment:16" -> "shipment
    WEB-0000007-1" (the apps above orders are read by model name: orders imports nothing of them)."""
    kind, _, rest = reference.partition(":")
    if kind == "fulfillment" and rest.isdigit():
        fo = apps.get_model("fulfillment", "FulfillmentOrder").objects.filter(pk=int(rest)).first()
        return f"shipment {fo.number}" if fo is not None else reference
    if kind == "refund" and rest.isdigit():
        refund = (
            apps.get_model("returns", "Refund").objects.select_related("rma").filter(pk=int(rest)).first()
        )
        return f"refund of return {refund.rma.number}" if refund is not None else reference
    if kind == "change":
        number, _, revision = rest.rpartition(":")
        return f"change {revision} of {number}"
    if kind == "order":
        return f"order {rest}"
    return reference or EMPTY


class PaymentTransactionInline(OrderRowsInline):
    model = PaymentTransaction
    fields = (
        "created_at",
        "kind",
        "amount_",
        "status",
        "provider_reference",
        "what_for",
        "error",
        "settled_at",
    )
    amount_ = money_column("amount", "Amount")

    @admin.display(description="For")
    def what_for(self, obj: PaymentTransaction) -> str:
        return payment_reference_text(obj.reference)


class PaymentStatusFilter(admin.SimpleListFilter):
    title = "payment status"
    parameter_name = "payment_status"

    def lookups(self, request, model_admin):
        return [("none", "No payment"), *PaymentStatus.choices]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(payment__isnull=True)
        if value:
            return queryset.filter(payment__status=value)
        return queryset


class HoldForm(forms.Form):
    reason = forms.ChoiceField(choices=HoldReason.choices)
    note = forms.CharField(required=False, max_length=500)


def _run(request: HttpRequest, orders: QuerySet[Order], fn: Callable[..., object], verb: str) -> None:
    actor = Actor.for_user(request.user)
    apply_each(request, orders, lambda order: fn(order=order, actor=actor), lambda n: f"{verb} {n} order(s).")


def _cancel(*, order: Order, actor: Actor) -> object:
    return order_cancel(order_id=order.pk, reason="cancelled in admin", actor=actor)


def _release_holds(*, order: Order, actor: Actor) -> object:
    return order_hold_release(order_id=order.pk, actor=actor)


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, help_text="Why (on the order's timeline).")


def _has_active_hold(order: Order) -> bool:
    return order.holds.filter(released_at__isnull=True).exists()


ORDER_BUTTONS = (
    DetailButton(
        "hold",
        "Put on hold",
        lambda order: order.status in ORDER_HOLDABLE,
        lambda order, actor, answers: order_hold_place(order_id=order.pk, actor=actor, **answers),
        "put on hold.",
        HoldForm,
    ),
    DetailButton(
        "release",
        "Release the holds",
        _has_active_hold,
        lambda order, actor, answers: order_hold_release(order_id=order.pk, actor=actor),
        "holds released.",
    ),
    DetailButton(
        "cancel",
        "Cancel the order",
        lambda order: order.status != OrderStatus.CANCELLED and order.can_transition(OrderStatus.CANCELLED),
        lambda order, actor, answers: order_cancel(
            order_id=order.pk, reason=answers["reason"] or "cancelled in admin", actor=actor
        ),
        "cancelled; its stock is released.",
        CancelForm,
        danger=True,
    ),
)


ORDER_FIELDSETS: Any = (
    (
        None,
        {
            "fields": (
                "number",
                "status",
                "channel_display",
                "customer_link",
                "method_display",
                "external_id",
                "placed_by",
                "created_at",
                "allocated_at",
                "completed_at",
                "cancelled_at",
            )
        },
    ),
    ("Money", {"fields": ("subtotal_display", "tax_display", "shipping_display", "total_display")}),
    ("Delivery", {"fields": ("address_display", "place_display")}),
    ("Fulfilment orders", {"fields": ("fulfillment_orders_display",)}),
    ("Returns", {"fields": ("returns_display",)}),
    ("Timeline", {"fields": ("timeline_display",)}),
)


@admin.register(Order)
class OrderAdmin(DetailButtonsMixin, ReadOnlyMixin, StaffViewMixin, admin.ModelAdmin):
    """An order is read here, never edited (every change is a service): managers act on it with
    the buttons and the actions; associates look orders up for the customer in front of them
    (read-only)."""

    list_display = [
        "number",
        "channel",
        "customer",
        "status",
        "method",
        "pickup_location",
        "total_display",
        "created_at",
    ]
    list_filter = ["status", PaymentStatusFilter, "channel", "method", "pickup_location", "created_at"]
    search_fields = ["number", "external_id", "customer__email", "customer__phone", "customer__name"]
    list_select_related = ["channel", "customer", "pickup_location"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, ReservationInline, OrderHoldInline, PaymentInline, PaymentTransactionInline]
    actions = ["cancel_orders", "hold_orders", "release_holds"]
    buttons = (*ORDER_BUTTONS, *CHANGE_BUTTONS)  # on the order's page, for managers
    fieldsets = ORDER_FIELDSETS
    readonly_fields = [name for _, options in ORDER_FIELDSETS for name in options["fields"]]

    class Media:
        css = {"all": ["oms/css/screens.css"]}

    def may_press(self, request: HttpRequest, obj: Order) -> bool:
        return self.button_actor(request).is_manager

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        if not admin_actor(request).is_manager:
            return {}  # an associate looks orders up; cancelling and holds are a manager's
        return super().get_actions(request)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Order | None:
        order = super().get_object(request, object_id, from_field)
        if order is not None:
            attach_sections([order])
        return order

    channel_display = column("channel", "Channel")  # "Store POS (pos)"

    @admin.display(description="Customer")
    def customer_link(self, obj: Order) -> str:
        if obj.customer is None:
            return EMPTY
        url = admin_url("oms_customer", obj.customer_id)
        contact = " · ".join(part for part in (obj.customer.email, obj.customer.phone) if part)
        return format_html('<a href="{}">{}</a> {}', url, str(obj.customer), contact)

    @admin.display(description="Fulfilment")
    def method_display(self, obj: Order) -> str:
        if obj.pickup_location is not None:
            return f"Pickup at {obj.pickup_location}"  # "Store District 1 (st-hcm-d1)"
        return "Shipped to the address below"

    @admin.display(description="Placed by")
    def placed_by(self, obj: Order) -> str:
        return actor_display(obj.placed_by_type, obj.placed_by_name)

    subtotal_display = money_column("subtotal", "Subtotal")
    tax_display = money_column("tax_total", "Tax")
    shipping_display = money_column("shipping_total", "Shipping")
    total_display = money_column("total", "Total", ordering="total")

    @admin.display(description="Address")
    def address_display(self, obj: Order) -> str:
        lines = address_lines(obj.shipping_address)
        if not lines:
            return "No address (a pickup order)" if obj.method == "pickup" else EMPTY
        return format_html(
            '<div class="oms-address">{}</div>', format_html_join("", "{}<br>", ((line,) for line in lines))
        )

    @admin.display(description="Map position")
    def place_display(self, obj: Order) -> str:
        if obj.ship_latitude is None or obj.ship_longitude is None:
            return EMPTY
        return f"{obj.ship_latitude:.4f}, {obj.ship_longitude:.4f}"

    @admin.display(description="Sent to")
    def fulfillment_orders_display(self, obj: Order) -> str:
        return fulfillment_orders_html(obj)

    @admin.display(description="Returns")
    def returns_display(self, obj: Order) -> str:
        return returns_html(obj)

    @admin.display(description="What happened")
    def timeline_display(self, obj: Order) -> str:
        return timeline_html(obj)

    @admin.action(description="Cancel the selected orders (releases their stock)")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(request, queryset, _cancel, "Cancelled")

    @admin.action(description="Put the selected orders on hold")
    def hold_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        form, page = form_or_page(
            self,
            request,
            HoldForm,
            "admin/orders/hold_form.html",
            title="Put orders on hold",
            orders=queryset,
        )
        if page is not None:
            return page
        reason, note = form.cleaned_data["reason"], form.cleaned_data["note"]
        _run(
            request,
            queryset,
            lambda order, actor: order_hold_place(order_id=order.pk, reason=reason, note=note, actor=actor),
            "Held",
        )
        return None

    @admin.action(description="Release the holds of the selected orders")
    def release_holds(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(request, queryset, _release_holds, "Released")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(NoAddOrChangeMixin, admin.ModelAdmin):
    list_display = ["scope", "key", "status_code", "order", "created_at", "expires_at"]
    search_fields = ["key", "scope"]
    readonly_fields = [
        "scope",
        "key",
        "request_hash",
        "status_code",
        "response",
        "order",
        "created_at",
        "expires_at",
    ]


# registers the price lists and carts, and the customer page (it shows orders)
from . import cart_admin, customer_admin  # noqa: E402, F401
