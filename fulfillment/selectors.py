"""Reads of fulfilment work, scoped by who asks: an associate sees only their locations' fulfilment
orders (anything else is not found), a manager sees all, channels see none (only through their
orders)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse

from inventory.models import Location
from oms.actors import Actor
from oms.errors import NotFound
from oms.lookups import filter_given, get_by_pk
from orders.selectors import SectionRead

from .choices import FulfillmentStatus
from .models import OPEN_STATUSES, FulfillmentOrder, FulfillmentOrderLine

F = FulfillmentStatus


class FulfillmentOrderNotFound(NotFound):
    default_code = "fulfillment_order_not_found"
    default_message = "Fulfilment order not found."


def fulfillment_order_queryset_for_actor(actor: Actor) -> QuerySet[FulfillmentOrder]:
    """The fulfilment orders the actor may see: all (a manager), its locations' (an associate), or none."""
    qs = FulfillmentOrder.objects.all()
    if actor.is_manager or actor.is_system:
        return qs
    if actor.is_associate:
        return qs.filter(location_id__in=actor.location_ids)
    return qs.none()


def fulfillment_order_get_for_actor(*, fulfillment_order_id: int | str, actor: Actor) -> FulfillmentOrder:
    """The fulfilment order if the actor may see it; FulfillmentOrderNotFound otherwise (a bad id too)."""
    return get_by_pk(
        fulfillment_order_queryset_for_actor(actor),
        fulfillment_order_id,
        not_found=FulfillmentOrderNotFound(f"No fulfilment order '{fulfillment_order_id}'."),
    )


def fulfillment_order_detail_queryset(qs: QuerySet[FulfillmentOrder]) -> QuerySet[FulfillmentOrder]:
    """``qs`` with its location, order, customer and lines loaded (no query per fulfilment order)."""
    return qs.select_related("location", "order", "order__customer").prefetch_related(
        Prefetch(
            "lines",
            queryset=FulfillmentOrderLine.objects.select_related("order_line").order_by("pk"),
        )
    )


def fulfillment_order_list(
    *,
    actor: Actor,
    location: str | None = None,
    status: list[str] | None = None,
    method: str | None = None,
    order_id: int | None = None,
) -> QuerySet[FulfillmentOrder]:
    """The fulfilment orders the actor may see that match every filter given, with their detail loaded."""
    qs = filter_given(
        fulfillment_order_queryset_for_actor(actor),
        location__code=location,
        status__in=status,
        method=method,
        order_id=order_id,
    )
    return fulfillment_order_detail_queryset(qs)


def _fulfillment_orders_read(order_ids: list[int]) -> QuerySet[FulfillmentOrder]:
    return (
        FulfillmentOrder.objects.filter(order_id__in=order_ids)
        .select_related("location")
        .prefetch_related(
            Prefetch(
                "lines", queryset=FulfillmentOrderLine.objects.select_related("order_line").order_by("pk")
            )
        )
        .order_by("pk")
    )


def _fulfillment_orders_build(fos: list[FulfillmentOrder]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for fo in fos:
        grouped[fo.order_id].append(
            {
                "id": fo.pk,
                "number": fo.number,
                "location": fo.location.code,
                "status": fo.status,
                "carrier": fo.carrier,
                "tracking_number": fo.tracking_number,
                "pickup_expires_at": fo.pickup_expires_at.isoformat() if fo.pickup_expires_at else None,
                "lines": [
                    {"line": li.order_line_id, "sku": li.order_line.sku, "quantity": li.quantity}
                    for li in fo.lines.all()
                ],
            }
        )
    return dict(grouped)


# The ``fulfillment_orders`` section of orders: {order id: [{id, location, status, lines}]}.
fulfillment_orders_for_orders = SectionRead(
    queryset=_fulfillment_orders_read, build=_fulfillment_orders_build
)


# --- Today at my store: the admin start page ----------------------------------------------------


@dataclass(frozen=True)
class DayItem:
    """One piece of work on the start page: what (``number``, its admin ``url``), for whom, how
    many units, since when (``age``), due when, and whether it is late."""

    number: str
    url: str
    location: str
    customer: str
    units: int
    since: datetime
    age: timedelta
    due: datetime | None = None
    late: bool = False


@dataclass(frozen=True)
class DaySection:
    """A count of the store's work of one kind, its oldest items and the admin list it links to."""

    key: str
    title: str
    count: int
    items: list[DayItem]
    list_url: str


@dataclass(frozen=True)
class StoreDay:
    """The work at ``locations`` at ``now``, in ``tz`` (the stores' time zone), section by section."""

    locations: list[Location]
    tz: ZoneInfo
    now: datetime
    sections: list[DaySection]


# A section another app adds (returns: the returns to receive): fn(locations=, now=, limit=).
DaySectionFunction = Callable[..., DaySection]
_day_sections: list[DaySectionFunction] = []


def store_day_section_register(fn: DaySectionFunction) -> None:
    """Show ``fn``'s section on the start page, after fulfilment's (an app above calls it in ready())."""
    if fn not in _day_sections:
        _day_sections.append(fn)


def day_end_at(now: datetime, tz: ZoneInfo) -> datetime:
    """The end of ``now``'s day (midnight after it) in ``tz``."""
    local = now.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=tz)


def locations_time_zone(locations: Iterable[Location]) -> ZoneInfo:
    """The time zone the locations share, else the TIME_ZONE setting's."""
    zones = {location.timezone for location in locations}
    return ZoneInfo(zones.pop() if len(zones) == 1 else settings.TIME_ZONE)


def _sla_due(fo: FulfillmentOrder) -> datetime | None:
    """When open work is due: a pickup ready, a parcel shipped (the SLA settings), from its creation."""
    if fo.status == FulfillmentStatus.READY_FOR_PICKUP:
        return None  # waiting for the customer, not for the store
    hours = settings.OMS_SLA_PICKUP_READY_HOURS if fo.method == "pickup" else settings.OMS_SLA_SHIP_HOURS
    return fo.created_at + timedelta(hours=hours)


def _item(fo: FulfillmentOrder, now: datetime, start: datetime, due: datetime | None) -> DayItem:
    return DayItem(
        number=fo.number,
        url=reverse("admin:fulfillment_fulfillmentorder_change", args=[fo.pk]),
        location=fo.location.code,
        customer=fo.order.customer.name if fo.order.customer else "",
        units=sum(line.quantity for line in fo.lines.all()),
        since=start,
        age=now - start,
        due=due,
        late=due is not None and due < now,
    )


def _with_status(status: str) -> Callable[[FulfillmentOrder, datetime, datetime], bool]:
    return lambda fo, now, end: fo.status == status


def _expiring(fo: FulfillmentOrder, now: datetime, end: datetime) -> bool:
    return fo.status == F.READY_FOR_PICKUP and fo.pickup_expires_at is not None and fo.pickup_expires_at < end


def _late(fo: FulfillmentOrder, now: datetime, end: datetime) -> bool:
    due = _sla_due(fo)
    return due is not None and due < now


@dataclass(frozen=True)
class _FoSection:
    """A start-page section of open fulfilment orders: which (``belongs(fo, now, end of day)``), the
    field its age counts from, and the work-queue filter of the admin list it links to."""

    key: str
    title: str
    belongs: Callable[[FulfillmentOrder, datetime, datetime], bool]
    since: str
    queue: str


_FO_SECTIONS = [
    _FoSection("new", "New, to accept", _with_status(F.PENDING), "created_at", "new"),
    _FoSection("to_pick", "To pick", _with_status(F.ACCEPTED), "accepted_at", "to_pick"),
    _FoSection(
        "to_pack", "Picked, to pack or put at the counter", _with_status(F.PICKED), "updated_at", "to_pack"
    ),
    _FoSection("to_ship", "Packed, to hand to the carrier", _with_status(F.PACKED), "updated_at", "to_ship"),
    _FoSection(
        "waiting", "Ready, waiting for the customer", _with_status(F.READY_FOR_PICKUP), "ready_at", "waiting"
    ),
    _FoSection("expiring", "Pickups expiring today", _expiring, "ready_at", "expiring"),
    _FoSection("late", "Late (past the service level)", _late, "created_at", "late"),
]


def fulfillment_orders_in_queue(
    qs: QuerySet[FulfillmentOrder], queue: str, *, now: datetime, tz: ZoneInfo
) -> QuerySet[FulfillmentOrder]:
    """``qs`` narrowed to the start page's time-dependent queues: ``expiring`` (pickups whose hold
    ends before the end of today in ``tz``) and ``late`` (open work past its service level)."""
    if queue == "expiring":
        return qs.filter(status=F.READY_FOR_PICKUP, pickup_expires_at__lt=day_end_at(now, tz))
    pickup_due = now - timedelta(hours=settings.OMS_SLA_PICKUP_READY_HOURS)
    ship_due = now - timedelta(hours=settings.OMS_SLA_SHIP_HOURS)
    return qs.filter(
        Q(method="pickup", status__in=[F.PENDING, F.ACCEPTED, F.PICKED], created_at__lt=pickup_due)
        | Q(method="ship", status__in=[F.PENDING, F.ACCEPTED, F.PICKED, F.PACKED], created_at__lt=ship_due)
    )


def store_day(*, actor: Actor, location_id: int | None = None, now: datetime, limit: int = 10) -> StoreDay:
    """Today's work at the actor's location ``location_id`` (every location it may see if None):
    each section's count and its ``limit`` oldest items, in the stores' time zone. NotFound for a
    location the actor may not see. Two queries for fulfilment (the open orders and their lines),
    then one or two per registered section."""
    locations = list(store_day_locations(actor, location_id))
    tz = locations_time_zone(locations)
    end = day_end_at(now, tz)
    open_fos = list(
        fulfillment_order_detail_queryset(
            FulfillmentOrder.objects.filter(location__in=locations, status__in=OPEN_STATUSES)
        ).order_by("created_at", "pk")
    )
    where = {"location": str(location_id)} if location_id is not None else {}
    sections = []
    for part in _FO_SECTIONS:
        fos = [fo for fo in open_fos if part.belongs(fo, now, end)]
        fos.sort(key=partial(_since, field=part.since))
        items = [_item(fo, now, _since(fo, field=part.since), _due(part.key, fo)) for fo in fos[:limit]]
        url = admin_list_url("admin:fulfillment_fulfillmentorder_changelist", queue=part.queue, **where)
        sections.append(DaySection(key=part.key, title=part.title, count=len(fos), items=items, list_url=url))
    sections.extend(
        section(locations=locations, location_id=location_id, now=now, limit=limit)
        for section in _day_sections
    )
    return StoreDay(locations=locations, tz=tz, now=now, sections=sections)


def _since(fo: FulfillmentOrder, *, field: str) -> datetime:
    """When the fulfilment order's wait in a section began (its ``field``, else its creation)."""
    return getattr(fo, field) or fo.created_at


def _due(key: str, fo: FulfillmentOrder) -> datetime | None:
    return fo.pickup_expires_at if key in {"waiting", "expiring"} else _sla_due(fo)


def store_day_locations(actor: Actor, location_id: int | None = None) -> QuerySet[Location]:
    """The active locations whose day the actor may see (a manager: all; an associate: theirs),
    or only ``location_id`` (NotFound if it is not one of them)."""
    qs = Location.objects.filter(active=True).order_by("code")
    if not (actor.is_manager or actor.is_system):
        qs = qs.filter(pk__in=actor.location_ids if actor.is_associate else [])
    if location_id is not None:
        qs = qs.filter(pk=location_id)
        if not qs.exists():
            raise NotFound(f"No location '{location_id}' among yours.", code="location_not_found")
    return qs


def admin_list_url(name: str, **query: str) -> str:
    """The admin list ``name`` filtered by ``query``."""
    return f"{reverse(name)}?{urlencode(query)}" if query else reverse(name)


def fulfillment_order_pick_lines(fo: FulfillmentOrder) -> list[dict[str, Any]]:
    """What to take from the shelves for ``fo`` (its lines loaded): one row per SKU, by SKU."""
    rows: dict[str, dict[str, Any]] = {}
    for line in fo.lines.all():
        row = rows.setdefault(
            line.order_line.sku, {"sku": line.order_line.sku, "name": line.order_line.name, "quantity": 0}
        )
        row["quantity"] += line.quantity
    return [rows[sku] for sku in sorted(rows)]
