"""Orders in the Django admin: read-only records (changes go through the services), with lines,
reservations, holds, the payment and its ledger, and the timeline inline, a filter by payment
status, and actions cancel / hold / release hold."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from oms.actors import Actor
from oms.errors import DomainError

from .choices import HoldReason, PaymentStatus
from .models import (
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


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


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
    readonly_fields = fields


class ReservationInline(ReadOnlyInline):
    model = Reservation
    fields = ("line", "product", "location", "quantity", "status", "created_at")
    readonly_fields = fields


class OrderHoldInline(ReadOnlyInline):
    model = OrderHold
    fields = ("reason", "note", "placed_by", "created_at", "released_at", "released_by")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "kind", "message", "actor_type", "actor_name", "data")
    readonly_fields = fields


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


def _run(request: HttpRequest, modeladmin: admin.ModelAdmin, orders, fn, verb: str) -> None:
    actor = Actor.for_user(request.user)
    done = 0
    for order in orders:
        try:
            fn(order=order, actor=actor)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{order.number}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done} order(s).", messages.SUCCESS)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # orders come through the API (or POS), which reserves their stock

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Cancel the selected orders (releases their stock)")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(
            request,
            self,
            queryset,
            lambda order, actor: order_cancel(order_id=order.pk, reason="cancelled in admin", actor=actor),
            "Cancelled",
        )

    @admin.action(description="Put the selected orders on hold")
    def hold_orders(self, request: HttpRequest, queryset: QuerySet[Order]):
        if "apply" in request.POST:
            form = HoldForm(request.POST)
            if form.is_valid():
                _run(
                    request,
                    self,
                    queryset,
                    lambda order, actor: order_hold_place(
                        order_id=order.pk,
                        reason=form.cleaned_data["reason"],
                        note=form.cleaned_data["note"],
                        actor=actor,
                    ),
                    "Held",
                )
                return None
        else:
            form = HoldForm()
        return TemplateResponse(
            request,
            "admin/orders/hold_form.html",
            {
                **self.admin_site.each_context(request),
                "title": "Put orders on hold",
                "orders": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Release the holds of the selected orders")
    def release_holds(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(
            request,
            self,
            queryset,
            lambda order, actor: order_hold_release(order_id=order.pk, actor=actor),
            "Released",
        )


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
