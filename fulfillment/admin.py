"""The store work queue in the Django admin.

An associate logs in and sees only their locations' fulfilment orders, filtered by default to the
work still open: pickups to prepare, ship-from-store picks, parcels to ship. Actions accept /
reject (with a reason) / picked / packed / shipped (carrier and tracking) / ready for pickup /
handed over call the same services as the API, as the logged-in user; a manager sees every
location and filters by store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from inventory.models import Location
from oms.admin_base import (
    LocationScopedMixin,
    NoAddOrChangeMixin,
    ReadOnlyMixin,
    StaffReadOnlyInline,
    admin_actor,
    admin_location_ids,
    apply_each,
    form_or_page,
)

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


class StepForm(forms.Form):
    """A step's details, asked on its own page: the admin action it belongs to and the page's title."""

    action: ClassVar[str]
    title: ClassVar[str]


class RejectForm(StepForm):
    action, title = "reject", "Reject fulfilment orders"

    reason = forms.CharField(max_length=300, help_text="Why this location cannot do it.")


class ShipForm(StepForm):
    action, title = "ship", "Ship fulfilment orders"

    carrier = forms.CharField(max_length=64)
    tracking_number = forms.CharField(max_length=128)


def _step(
    description: str, service: Callable[..., Any], done: str, form_class: type[StepForm] | None = None
) -> Callable[..., TemplateResponse | None]:
    """The admin action of one lifecycle step: ``service`` on each selected fulfilment order, after
    asking for the step's details with ``form_class`` (its ``action`` and page ``title``) if any."""

    def step(
        modeladmin: FulfillmentOrderAdmin, request: HttpRequest, queryset: QuerySet[FulfillmentOrder]
    ) -> TemplateResponse | None:
        if form_class is None:
            modeladmin._apply(request, queryset, service, done)
            return None
        return modeladmin._with_form(request, queryset, form_class=form_class, service=service, done=done)

    return admin.action(description=description)(step)


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
        form_class: type[StepForm],
        service: Callable[..., Any],
        done: str,
    ) -> TemplateResponse | None:
        form, page = form_or_page(
            self,
            request,
            form_class,
            "admin/fulfillment/action_form.html",
            title=form_class.title,
            objects=queryset,
            action=form_class.action,
        )
        if page is None:
            self._apply(request, queryset, service, done, **form.cleaned_data)
        return page

    accept = _step("Accept", services.fulfillment_order_accept, "Accepted")
    reject = _step(
        "Reject (the units are re-routed)", services.fulfillment_order_reject, "Rejected", RejectForm
    )
    mark_picked = _step("Mark picked", services.fulfillment_order_pick, "Picked")
    mark_packed = _step("Mark packed", services.fulfillment_order_pack, "Packed")
    ship = _step("Ship (carrier and tracking number)", services.fulfillment_order_ship, "Shipped", ShipForm)
    ready_for_pickup = _step(
        "Ready for pickup (tells the customer)",
        services.fulfillment_order_ready_for_pickup,
        "Ready for pickup",
    )
    handed_over = _step("Handed over to the customer", services.fulfillment_order_picked_up, "Handed over")


@admin.register(RoutingExclusion)
class RoutingExclusionAdmin(NoAddOrChangeMixin, admin.ModelAdmin):
    list_display = ["order", "location", "reason", "created_at"]
    list_select_related = ["order", "location"]
    readonly_fields = ["order", "location", "reason", "created_at"]
