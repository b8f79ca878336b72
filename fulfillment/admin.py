"""The store work queue in the Django admin.

An associate logs in and sees only their locations' fulfilment orders, filtered by default to the
work still open: pickups to prepare, ship-from-store picks, parcels to ship. Actions accept /
reject (with a reason) / picked / packed / shipped (carrier and tracking) / ready for pickup call
the same services as the API, as the logged-in user; a fulfilment order's page has a button for
each step its status allows (handed over only with the customer's pickup code) and its printable
pick list and packing slip (``admin_print``). A manager sees every location and filters by store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, reverse
from django.utils import timezone

from inventory.models import Location
from oms.actors import Actor
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
from oms.admin_buttons import DetailButton, DetailButtonsMixin
from oms.lookups import pk_or_none

from . import services
from .admin_print import print_urls
from .choices import FulfillmentStatus
from .models import OPEN_STATUSES, FulfillmentOrder, FulfillmentOrderLine, RoutingExclusion
from .selectors import fulfillment_orders_in_queue, locations_time_zone

F = FulfillmentStatus


class WorkQueueFilter(admin.SimpleListFilter):
    title = "work queue"
    parameter_name = "queue"

    QUEUES: dict[str, tuple[str, dict[str, Any]]] = {
        "open": ("Open work", {"status__in": list(OPEN_STATUSES)}),
        "new": ("New, to accept", {"status": F.PENDING}),
        "to_pick": ("To pick", {"status": F.ACCEPTED}),
        "to_pack": ("Picked, to pack or to the counter", {"status": F.PICKED}),
        "to_ship": ("Packed, to hand to the carrier", {"status": F.PACKED}),
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
    # queues that depend on the time: the start page's "expiring today" and "late"
    TIMED = {"expiring": "Pickups expiring today", "late": "Late (past the service level)"}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            *((key, label) for key, (label, _) in self.QUEUES.items()),
            *self.TIMED.items(),
            ("all", "Everything"),
        ]

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
        if value in self.TIMED:
            tz = _list_time_zone(request)
            return fulfillment_orders_in_queue(queryset, value, now=timezone.now(), tz=tz)
        return queryset.filter(**self.QUEUES.get(value, self.QUEUES["open"])[1])


def _list_time_zone(request: HttpRequest) -> ZoneInfo:
    """The stores' time zone of the list: the filtered location's, else the user's locations'."""
    locations = Location.objects.only("timezone")
    picked, allowed = pk_or_none(request.GET.get("location")), admin_location_ids(request)
    if picked is not None:
        locations = locations.filter(pk=picked)
    elif allowed is not None:
        locations = locations.filter(pk__in=allowed)
    return locations_time_zone(locations)


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


class HandOverForm(forms.Form):
    pickup_code = forms.CharField(
        max_length=16,
        label="Pickup code",
        help_text="The code in the customer's ready-for-pickup e-mail.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "size": 8}),
    )


def _press(service: Callable[..., Any], **fixed: Any) -> Callable[[FulfillmentOrder, Actor, dict], object]:
    """A button's call: ``service`` on the fulfilment order, as the actor, with the form's answers."""
    return lambda fo, actor, answers: service(fulfillment_order_id=fo.pk, actor=actor, **fixed, **answers)


def _can(target: str) -> Callable[[FulfillmentOrder], bool]:
    return lambda fo: fo.can_transition(target)


def _may_hand_over(fo: FulfillmentOrder) -> bool:
    return fo.can_transition(F.PICKED_UP) and fo.pickup_code_locked_at is None


BUTTONS = (
    DetailButton("accept", "Accept", _can(F.ACCEPTED), _press(services.fulfillment_order_accept), "accepted"),
    DetailButton("pick", "Picked", _can(F.PICKED), _press(services.fulfillment_order_pick), "picked"),
    DetailButton("pack", "Packed", _can(F.PACKED), _press(services.fulfillment_order_pack), "packed"),
    DetailButton(
        "ship", "Shipped", _can(F.SHIPPED), _press(services.fulfillment_order_ship), "shipped", ShipForm
    ),
    DetailButton(
        "ready",
        "Ready for pickup",
        _can(F.READY_FOR_PICKUP),
        _press(services.fulfillment_order_ready_for_pickup),
        "ready for pickup; the customer has been sent the pickup code.",
    ),
    DetailButton(
        "hand-over",
        "Handed over",
        _may_hand_over,
        _press(services.fulfillment_order_picked_up, code_required=True),
        "handed over to the customer.",
        HandOverForm,
    ),
    DetailButton(
        "resend-code",
        "Send a new pickup code",
        lambda fo: fo.status == F.READY_FOR_PICKUP,
        _press(services.fulfillment_order_pickup_code_reissue),
        "a new pickup code has been sent to the customer.",
        allowed=lambda actor: actor.is_manager,
    ),
    DetailButton(
        "reject",
        "Reject",
        _can(F.REJECTED),
        _press(services.fulfillment_order_reject),
        "rejected; its units are re-routed.",
        RejectForm,
        danger=True,
    ),
)


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
class FulfillmentOrderAdmin(DetailButtonsMixin, ReadOnlyMixin, LocationScopedMixin, admin.ModelAdmin):
    """Fulfilment orders are made by the router and every change is an action through the services:
    the list's bulk actions, or the buttons of its page (the hand-over asks for the pickup code)."""

    buttons = BUTTONS

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
    fields = (
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
    actions = [
        "accept",
        "reject",
        "mark_picked",
        "mark_packed",
        "ship",
        "ready_for_pickup",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("lines")

    def may_press(self, request: HttpRequest, obj: FulfillmentOrder) -> bool:
        return admin_actor(request).may_act_at(obj.location_id)

    def button_actor(self, request: HttpRequest) -> Actor:
        return admin_actor(request)

    def detail_links(self, request: HttpRequest, obj: FulfillmentOrder) -> list[tuple[str, str]]:
        links = [("Print pick list", reverse("admin:fulfillment_fulfillmentorder_pick_list", args=[obj.pk]))]
        if obj.method == "ship":
            url = reverse("admin:fulfillment_fulfillmentorder_packing_slip", args=[obj.pk])
            links.append(("Print packing slip", url))
        return links

    def get_urls(self) -> list[URLPattern]:
        return [*print_urls(self), *super().get_urls()]

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


@admin.register(RoutingExclusion)
class RoutingExclusionAdmin(NoAddOrChangeMixin, admin.ModelAdmin):
    list_display = ["order", "location", "reason", "created_at"]
    list_select_related = ["order", "location"]
    readonly_fields = ["order", "location", "reason", "created_at"]
