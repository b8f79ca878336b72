"""The customer page's "Waiting at your store" section (issue 22): the customer's pickups still open
at the associate's stores (every store for a manager), with their state and a hint about the
pickup code. The code itself is never shown (docs/store-day.md): the hint says whether the customer
has one to bring, how many wrong tries are left, or that a manager must re-issue it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from oms.actors import Actor
from oms.models import Customer
from orders.customer_page import customer_page_section

from .choices import FulfillmentStatus
from .models import FulfillmentOrder, FulfillmentOrderLine

OPEN_PICKUP = (
    FulfillmentStatus.PENDING,
    FulfillmentStatus.ACCEPTED,
    FulfillmentStatus.PICKED,
    FulfillmentStatus.READY_FOR_PICKUP,
)


@dataclass(frozen=True)
class WaitingPickup:
    fulfillment_order: FulfillmentOrder
    items: list[tuple[str, int]]  # (SKU, units)
    collect_by: datetime | None
    code_hint: str


def pickup_code_hint(fo: FulfillmentOrder) -> str:
    """What the associate may know of the code: whether there is one, and how many tries are left."""
    if fo.status != FulfillmentStatus.READY_FOR_PICKUP:
        return _("No code yet: it is sent to the customer when the order is ready.")
    if not fo.pickup_code:
        return _("No code needed (made ready before pickup codes).")
    if fo.pickup_code_locked_at is not None:
        return _("Locked after too many wrong codes: a manager re-issues it.")
    left = max(settings.OMS_PICKUP_CODE_MAX_ATTEMPTS - fo.pickup_code_attempts, 0)
    return ngettext(
        "Ask for the 6-digit code from the ready message; %(left)d try left.",
        "Ask for the 6-digit code from the ready message; %(left)d tries left.",
        left,
    ) % {"left": left}


def pickups_waiting_for_customer(*, customer_id: int, actor: Actor) -> list[WaitingPickup]:
    """The customer's open pickups at the actor's locations (every location for a manager or the
    system; none for anyone else), oldest first. Two queries."""
    qs = FulfillmentOrder.objects.filter(
        order__customer_id=customer_id, method="pickup", status__in=OPEN_PICKUP
    )
    if not (actor.is_manager or actor.is_system):
        qs = qs.filter(location_id__in=sorted(actor.location_ids))
    qs = (
        qs.select_related("location", "order")
        .prefetch_related(
            Prefetch(
                "lines", queryset=FulfillmentOrderLine.objects.select_related("order_line").order_by("pk")
            )
        )
        .order_by("created_at", "pk")
    )
    return [
        WaitingPickup(
            fulfillment_order=fo,
            items=[(line.order_line.sku, line.quantity) for line in fo.lines.all()],
            collect_by=fo.pickup_expires_at if fo.status == FulfillmentStatus.READY_FOR_PICKUP else None,
            code_hint=pickup_code_hint(fo),
        )
        for fo in qs
    ]


@customer_page_section(
    "pickups_here",
    gettext_lazy("Waiting at your store"),
    "admin/fulfillment/_customer_pickups.html",
    position=10,
)
def _section(customer: Customer, actor: Actor) -> list[WaitingPickup]:
    """The section (registered when fulfilment's subscribers import this module)."""
    return pickups_waiting_for_customer(customer_id=customer.pk, actor=actor)
