"""Orders in the Django admin: read-only records (changes go through the services), with lines,
reservations, holds, the payment and its ledger, and the timeline inline, a filter by payment
status, and actions cancel / hold / release hold, in the list and as buttons on an order's page
(managers; only those its status allows)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from oms.actors import Actor
from oms.admin_base import NoAddOrChangeMixin, ReadOnlyInline, apply_each, form_or_page
from oms.admin_buttons import DetailButton, DetailButtonsMixin

from .choices import HoldReason, OrderStatus, PaymentStatus
from .models import (
    ORDER_HOLDABLE,
    IdempotencyRecord,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    Payment,
    PaymentTransaction,
    Reservation,
)
from .services import order_cancel, order_hold_place, order_hold_release


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "line_number",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "tax",
        "line_total",
        "quantity_backordered",
        "quantity_cancelled",
        "quantity_fulfilled",
    )


class ReservationInline(ReadOnlyInline):
    model = Reservation
    fields = ("line", "product", "location", "quantity", "status", "created_at")


class OrderHoldInline(ReadOnlyInline):
    model = OrderHold
    fields = ("reason", "note", "placed_by", "created_at", "released_at", "released_by")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "kind", "message", "actor_type", "actor_name", "data")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = (
        "method",
        "provider",
        "provider_reference",
        "currency",
        "authorized",
        "captured",
        "refunded",
        "status",
    )
    readonly_fields = fields


class PaymentTransactionInline(ReadOnlyInline):
    model = PaymentTransaction
    fields = (
        "created_at",
        "kind",
        "amount",
        "currency",
        "status",
        "provider_reference",
        "reference",
        "error",
        "settled_at",
    )
    readonly_fields = fields


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


@admin.register(Order)
class OrderAdmin(DetailButtonsMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "channel",
        "customer",
        "status",
        "method",
        "pickup_location",
        "total",
        "currency",
        "created_at",
    ]
    list_filter = ["status", PaymentStatusFilter, "channel", "method", "pickup_location", "created_at"]
    search_fields = ["number", "external_id", "customer__email", "customer__phone", "customer__name"]
    list_select_related = ["channel", "customer", "pickup_location"]
    date_hierarchy = "created_at"
    inlines = [
        OrderLineInline,
        ReservationInline,
        OrderHoldInline,
        PaymentInline,
        PaymentTransactionInline,
        OrderEventInline,
    ]
    actions = ["cancel_orders", "hold_orders", "release_holds"]
    buttons = ORDER_BUTTONS  # on the order's page, for managers
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # orders come through the API (or POS), which reserves their stock

    def may_press(self, request: HttpRequest, obj: Order) -> bool:
        return self.button_actor(request).is_manager

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

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
