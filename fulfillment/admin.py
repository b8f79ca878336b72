"""The store work queue in the Django admin.

An associate logs in and sees only their locations' fulfilment orders, filtered by default to the
work still open: pickups to prepare, ship-from-store picks, parcels to ship. Actions accept /
reject (with a reason) / picked / packed / shipped (carrier and tracking) / ready for pickup /
handed over call the same services as the API, as the logged-in user; a manager sees every
location and filters by store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from inventory.admin import LocationScopedMixin, StaffReadOnlyInline, admin_actor, admin_location_ids
from inventory.models import Location
from oms.admin_base import NoAddOrChangeMixin, ReadOnlyMixin, action_page, apply_each, submitted_form

from . import services
from .choices import FulfillmentStatus
from .models import OPEN_STATUSES, FulfillmentOrder, FulfillmentOrderLine, RoutingExclusion

F = FulfillmentStatus


class WorkQueueFilter(admin.SimpleListFilter):
    title = "work queue"
    parameter_name = "queue"

    QUEUES: dict[str, tuple[str, dict[str, Any]]] = {
        "open": ("Open work", {"status__in": list(OPEN_STATUSES)}),
        "new": ("New, to accept", {"status": F.PENDING}),
        "pickups": (
            "Pickups to prepare",
            {"method": "pickup", "status__in": [F.PENDING, F.ACCEPTED, F.PICKED]},
        ),
        "waiting": ("Waiting for the customer", {"status": F.READY_FOR_PICKUP}),
        "picks": (
            "Parcels to pick, pack and ship",
            {"method": "ship", "status__in": [F.PENDING, F.ACCEPTED, F.PICKED, F.PACKED]},
        ),
        "done": ("Done or closed", {"status__in": [s for s in F.values if s not in OPEN_STATUSES]}),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in self.QUEUES.items()] + [("all", "Everything")]

    def choices(self, changelist: Any):
        # "Open work" is the default view, so "All" in Django's sense is our "Everything".
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "open") == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or "open"
        if value == "all":
            return queryset
        return queryset.filter(**self.QUEUES[value][1])


class StoreFilter(admin.SimpleListFilter):
    """Locations the user may see (an associate: only their own)."""

    title = "location"
    parameter_name = "location"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        locations = Location.objects.order_by("code")
        allowed = admin_location_ids(request)
        if allowed is not None:
            locations = locations.filter(pk__in=allowed)
        return [(str(loc.pk), f"{loc.code} {loc.name}") for loc in locations]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(location_id=self.value()) if self.value() else queryset


class FulfillmentOrderLineInline(StaffReadOnlyInline):
    model = FulfillmentOrderLine
    fields = ("sku", "name", "quantity")

    @admin.display(description="SKU")
    def sku(self, obj: FulfillmentOrderLine) -> str:
        return obj.order_line.sku

    @admin.display(description="Product")
    def name(self, obj: FulfillmentOrderLine) -> str:
        return obj.order_line.name


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Why this location cannot do it.")


class ShipForm(forms.Form):
    carrier = forms.CharField(max_length=64)
    tracking_number = forms.CharField(max_length=128)


@admin.register(FulfillmentOrder)
class FulfillmentOrderAdmin(ReadOnlyMixin, LocationScopedMixin, admin.ModelAdmin):
    """Fulfilment orders are made by the router and every change is an action through the services."""

    list_display = [
        "number",
        "order_number",
        "location",
        "method",
        "status",
        "customer",
        "units",
        "created_at",
        "pickup_expires_at",
    ]
    list_filter = [WorkQueueFilter, StoreFilter, "method", "status"]
    search_fields = ["number", "order__number", "order__customer__name", "order__customer__email"]
    list_select_related = ["order", "order__customer", "location"]
    ordering = ["created_at", "pk"]
    inlines = [FulfillmentOrderLineInline]
    readonly_fields = (
        "number",
        "order",
        "location",
        "method",
        "status",
        "day",
        "reject_reason",
        "carrier",
        "tracking_number",
        "created_at",
        "accepted_at",
        "ready_at",
        "pickup_expires_at",
        "completed_at",
        "closed_at",
    )
    fields = readonly_fields
    actions = [
        "accept",
        "reject",
        "mark_picked",
        "mark_packed",
        "ship",
        "ready_for_pickup",
        "handed_over",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("lines")

    @admin.display(description="Order", ordering="order__number")
    def order_number(self, obj: FulfillmentOrder) -> str:
        return obj.order.number

    @admin.display(description="Customer")
    def customer(self, obj: FulfillmentOrder) -> str:
        return str(obj.order.customer or "")

    @admin.display(description="Units")
    def units(self, obj: FulfillmentOrder) -> int:
        return sum(line.quantity for line in obj.lines.all())

    # --- actions ------------------------------------------------------------------------------

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[FulfillmentOrder],
        service: Callable[..., Any],
        done: str,
        **kwargs: Any,
    ) -> None:
        actor = admin_actor(request)
        apply_each(
            request,
            queryset.order_by("pk"),
            lambda fo: service(fulfillment_order_id=fo.pk, actor=actor, **kwargs),
            lambda n: f"{done}: {n} fulfilment order(s).",
        )

    def _with_form(
        self,
        request: HttpRequest,
        queryset: QuerySet[FulfillmentOrder],
        *,
        form_class: type[forms.Form],
        action: str,
        title: str,
        service: Callable[..., Any],
        done: str,
    ) -> TemplateResponse | None:
        form = submitted_form(request, form_class)
        if form.is_valid():
            self._apply(request, queryset, service, done, **form.cleaned_data)
            return None
        return action_page(
            self,
            request,
            "admin/fulfillment/action_form.html",
            title=title,
            objects=queryset,
            form=form,
            action=action,
        )

    @admin.action(description="Accept")
    def accept(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        self._apply(request, queryset, services.fulfillment_order_accept, "Accepted")

    @admin.action(description="Reject (the units are re-routed)")
    def reject(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]):
        return self._with_form(
            request,
            queryset,
            form_class=RejectForm,
            action="reject",
            title="Reject fulfilment orders",
            service=services.fulfillment_order_reject,
            done="Rejected",
        )

    @admin.action(description="Mark picked")
    def mark_picked(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        self._apply(request, queryset, services.fulfillment_order_pick, "Picked")

    @admin.action(description="Mark packed")
    def mark_packed(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        self._apply(request, queryset, services.fulfillment_order_pack, "Packed")

    @admin.action(description="Ship (carrier and tracking number)")
    def ship(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]):
        return self._with_form(
            request,
            queryset,
            form_class=ShipForm,
            action="ship",
            title="Ship fulfilment orders",
            service=services.fulfillment_order_ship,
            done="Shipped",
        )

    @admin.action(description="Ready for pickup (tells the customer)")
    def ready_for_pickup(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        self._apply(request, queryset, services.fulfillment_order_ready_for_pickup, "Ready for pickup")

    @admin.action(description="Handed over to the customer")
    def handed_over(self, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]) -> None:
        self._apply(request, queryset, services.fulfillment_order_picked_up, "Handed over")


@admin.register(RoutingExclusion)
class RoutingExclusionAdmin(NoAddOrChangeMixin, admin.ModelAdmin):
    list_display = ["order", "location", "reason", "created_at"]
    list_select_related = ["order", "location"]
    readonly_fields = ["order", "location", "reason", "created_at"]
