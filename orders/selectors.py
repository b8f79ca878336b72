"""Reads of the orders app, scoped by who asks (least privilege, design.md "Guarantees"):

- a channel client sees its own channel's orders and customers; an in-person channel (pos,
  call_center) may also look up any single order, by id or by number, to serve a return;
- staff (managers and associates) see every order: an associate serves any customer at the counter,
  but acts only at their locations (checked by the services that change things).

What an actor may not see is simply not found (404), so ids do not leak."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from oms.actors import Actor
from oms.contact import normalize_phone
from oms.lookups import filter_given, get_by_pk, pk_or_none
from oms.models import ChannelCustomerRef, Customer
from oms.sql import Prepared, read_together

from .errors import CustomerNotFound, OrderNotFound
from .models import Order, OrderChange, OrderChangeRequest, OrderEvent, OrderHold, OrderLine, Reservation

# Sections that higher apps add to an order's representation (fulfilment orders, returns ...):
# name -> loader(order ids) -> {order id: value}. Registered in their AppConfig.ready, so the
# orders app shows them without importing its dependants.
OrderSectionLoader = Callable[[list[int]], dict[int, Any]]
_order_sections: dict[str, tuple[OrderSectionLoader, Any]] = {}
# name -> a factory of the section's output field (a serializer), for the API schema: the app that
# builds a section's values says what they look like.
_order_section_outputs: dict[str, Callable[[], Any]] = {}


@dataclass(frozen=True)
class SectionRead:
    """A section loader in two steps, so that every section of an order is read in one round trip
    (``oms.sql.read_together``): ``queryset`` (order ids -> the rows to read; its
    ``prefetch_related`` reads follow) and ``build`` (the rows -> {order id: value}). Called, it
    is a plain loader."""

    queryset: Callable[[list[int]], QuerySet[Any]]
    build: Callable[[list[Any]], dict[int, Any]]

    def __call__(self, order_ids: list[int]) -> dict[int, Any]:
        return self.build(list(self.queryset(order_ids))) if order_ids else {}


def order_section_register(
    name: str, loader: OrderSectionLoader, *, default: Any = None, output: Callable[[], Any] | None = None
) -> None:
    """Every order's representation shows ``loader``'s value as ``name`` (``default`` if none);
    ``output`` makes the field that documents it (``OrderOutput`` declares it in the schema)."""
    _order_sections[name] = (loader, default)
    if output is not None:
        _order_section_outputs[name] = output


def order_section_outputs() -> dict[str, Callable[[], Any]]:
    """Each registered section's output field factory (sections registered without one are absent)."""
    return dict(_order_section_outputs)


def order_sections_load(order_ids: list[int]) -> dict[str, dict[int, Any]]:
    """Every registered section for these orders: {section: {order id: value}}, one call per loader;
    the ``SectionRead`` ones read together, in one round trip."""
    return _sections_with(order_ids)[0]


def _sections_with(
    order_ids: list[int], *, also: Sequence[Any] = ()
) -> tuple[dict[str, dict[int, Any]], list[Any]]:
    """``order_sections_load`` and the answers to ``also``, read in the same round trip."""
    if not order_ids:
        return {name: {} for name in _order_sections}, read_together(*also) if also else []
    reads = {
        name: loader for name, (loader, _d) in _order_sections.items() if isinstance(loader, SectionRead)
    }
    rows = read_together(*also, *(read.queryset(order_ids) for read in reads.values()))
    found, rows = rows[: len(also)], rows[len(also) :]
    built = {name: read.build(got) for (name, read), got in zip(reads.items(), rows, strict=True)}
    sections = {
        name: built[name] if name in built else loader(order_ids)
        for name, (loader, _default) in _order_sections.items()
    }
    return sections, found


def order_section_names() -> dict[str, Any]:
    """Each registered section with the value an order without one shows."""
    return {name: default for name, (_loader, default) in _order_sections.items()}


def _visible_orders(actor: Actor) -> QuerySet[Order]:
    qs = Order.objects.all()
    if actor.is_staff or actor.is_system:
        return qs
    if actor.is_channel and actor.channel_id is not None:  # a channel actor always has its channel
        return qs.filter(channel_id=actor.channel_id)
    return qs.none()


def order_queryset_for_actor(actor: Actor, *, lookup: bool = False) -> QuerySet[Order]:
    """Orders the actor may see; ``lookup`` widens it for in-person channels to any single order."""
    if lookup and actor.is_channel and actor.is_in_person_channel:
        return Order.objects.all()
    return _visible_orders(actor)


def order_get_for_actor(*, order_id: int | str, actor: Actor) -> Order:
    """The order with this id or number if the actor may see it (lookup allowed); else OrderNotFound."""
    qs = order_queryset_for_actor(actor, lookup=True)
    order_pk = pk_or_none(order_id)  # not an id (or beyond the bigint range): maybe a number
    order = (qs.filter(number=str(order_id)) if order_pk is None else qs.filter(pk=order_pk)).first()
    if order is None:
        raise OrderNotFound(f"No order '{order_id}'.")
    return order


def order_detail_queryset(qs: QuerySet[Order], *, with_events: bool = True) -> QuerySet[Order]:
    """``qs`` with all an order's representation reads loaded (no query per order; events optional)."""
    qs = qs.select_related("channel", "customer", "pickup_location").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("line_number")),
        Prefetch(
            "reservations",
            queryset=Reservation.objects.select_related("location", "product").order_by("pk"),
        ),
        Prefetch("holds", queryset=OrderHold.objects.order_by("pk")),
    )
    if with_events:
        qs = qs.prefetch_related(Prefetch("events", queryset=OrderEvent.objects.order_by("pk")))
    return qs


def order_detail(*, order_id: int | str, actor: Actor) -> Order:
    """The order, if the actor may see it, with everything its representation shows; else OrderNotFound."""
    order = order_get_for_actor(order_id=order_id, actor=actor)
    detailed = order_detail_queryset(Order.objects.filter(pk=order.pk)).get()
    attach_sections([detailed])
    return detailed


# order_detail_of's reads, compiled once per process (oms.sql.Prepared)
_reservations_of = Prepared(
    lambda order_id: (
        Reservation.objects.filter(order_id=order_id).select_related("location", "product").order_by("pk")
    )
)
_holds_of = Prepared(lambda order_id: OrderHold.objects.filter(order_id=order_id).order_by("pk"))
_events_of = Prepared(lambda order_id: OrderEvent.objects.filter(order_id=order_id).order_by("pk"))


def order_detail_of(order: Order, *, lines: Iterable[OrderLine]) -> Order:
    """``order_detail`` of an order the caller holds with its channel, customer and pickup store
    (an order change, in its transaction), whose lines it has as they are now: the rest of the
    representation is read (its reservations, holds, timeline and sections in one round trip), the
    order and its lines are not read again."""
    sections, (reservations, holds, timeline) = _sections_with(
        [order.pk],
        also=(
            _reservations_of.bind(order_id=order.pk),
            _holds_of.bind(order_id=order.pk),
            _events_of.bind(order_id=order.pk),
        ),
    )
    cache = order.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in (
        ("lines", sorted(lines, key=lambda line: line.line_number)),
        ("reservations", reservations),
        ("holds", holds),
        ("events", timeline),
    ):
        known = getattr(order, name).all()
        known._result_cache, known._prefetch_done = list(rows), True  # as prefetch_related leaves it
        cache[name] = known
    defaults = order_section_names()
    order.sections = {name: values.get(order.pk, defaults[name]) for name, values in sections.items()}
    return order


def order_changes(*, order_id: int) -> list[OrderChange]:
    """The order's changes after placement, oldest first (the caller checked the actor may see it)."""
    return list(OrderChange.objects.filter(order_id=order_id).order_by("revision", "position"))


def change_requests_for_actor(*, actor: Actor) -> QuerySet[OrderChangeRequest]:
    """Change requests of the orders the actor may see, newest first (the API filters them)."""
    return OrderChangeRequest.objects.filter(order__in=_visible_orders(actor)).order_by("-pk")


def attach_sections(orders: Iterable[Order]) -> None:
    """Set ``sections`` on each order: every registered section, each loader called once for them all."""
    orders = list(orders)
    sections = order_sections_load([o.pk for o in orders])
    defaults = order_section_names()
    for order in orders:
        order.sections = {name: values.get(order.pk, defaults[name]) for name, values in sections.items()}


def order_list(
    *,
    actor: Actor,
    status: Iterable[str] | None = None,
    channel: str | None = None,
    customer_email: str | None = None,
    customer_id: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    number: str | None = None,
    method: str | None = None,
    pickup_location: str | None = None,
) -> QuerySet[Order]:
    """The orders the actor may see matching every filter given, detail loaded (not the timeline)."""
    qs = filter_given(
        order_queryset_for_actor(actor, lookup=bool(number)),
        status__in=[s for s in (status or []) if s],
        channel__code=channel,
    )
    if customer_email:  # one of blanks too: it matches the empty normalised e-mail
        qs = qs.filter(customer__email_normalized=customer_email.strip().lower())
    qs = filter_given(
        qs,
        customer_id=customer_id,
        created_at__gte=created_after,
        created_at__lt=created_before,
        number=number,
        method=method,
        pickup_location__code=pickup_location,
    )
    return order_detail_queryset(qs, with_events=False)


# --- Customers ------------------------------------------------------------------------------------------


def _visible_customers(actor: Actor) -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if actor.is_staff or actor.is_system:
        return qs
    if actor.is_channel and actor.channel_id is not None:
        has_order = Order.objects.filter(customer_id=OuterRef("pk"), channel_id=actor.channel_id)
        has_ref = ChannelCustomerRef.objects.filter(customer_id=OuterRef("pk"), channel_id=actor.channel_id)
        return qs.filter(Q(Exists(has_order)) | Q(Exists(has_ref)))
    return qs.none()


def customer_list(
    *, actor: Actor, email: str | None = None, phone: str | None = None, loyalty_number: str | None = None
) -> QuerySet[Customer]:
    """The customers the actor may see, matching the email / phone / loyalty number if given,
    oldest first."""
    qs = _visible_customers(actor)
    if loyalty_number:
        digits = "".join(ch for ch in loyalty_number if ch.isdigit())
        qs = qs.filter(loyalty_account__loyalty_number=digits)
    if email:
        qs = qs.filter(email_normalized=email.strip().lower())
    if phone:
        qs = qs.filter(phone_normalized=normalize_phone(phone))
    return qs.order_by("pk")


def customer_get_for_actor(*, customer_id: int | str, actor: Actor) -> Customer:
    """The customer if the actor may see it (a channel: its orders' or ids'); else CustomerNotFound."""
    return get_by_pk(
        _visible_customers(actor), customer_id, not_found=CustomerNotFound(f"No customer {customer_id}.")
    )


def customer_order_history(*, customer_id: int, actor: Actor) -> QuerySet[Order]:
    """The unified history: every order of the customer from every channel, newest first. A
    channel sees it only for its own customers."""
    customer = customer_get_for_actor(customer_id=customer_id, actor=actor)
    qs = Order.objects.filter(customer=customer).order_by("-created_at", "-pk")
    return order_detail_queryset(qs, with_events=False)


def customer_export(*, customer_id: int, actor: Actor) -> tuple[Customer, list[Order]]:
    """Everything the OMS holds about a person (right of access): the customer with their channel
    ids, and every order from every channel with lines, reservations, holds, timeline and the
    sections other apps add (fulfilment orders, returns)."""
    customer = customer_get_for_actor(customer_id=customer_id, actor=actor)
    orders = list(order_detail_queryset(Order.objects.filter(customer=customer).order_by("pk")))
    attach_sections(orders)
    return customer, orders


def orders_placed_between(
    *, start: datetime, end: datetime, location_id: int | None = None
) -> QuerySet[Order]:
    """Orders created in ``[start, end)``; with ``location_id``, only those that location serves
    (some of their units were reserved there: to ship, to hand over, or to transfer). The KPIs'
    orders, overall or for one store."""
    qs = Order.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    if location_id is not None:
        qs = qs.filter(Exists(Reservation.objects.filter(order=OuterRef("pk"), location_id=location_id)))
    return qs


def order_timeline(*, order_id: int) -> list[OrderEvent]:
    """The order's events, oldest first: the timeline the admin writes as sentences."""
    return list(OrderEvent.objects.filter(order_id=order_id).order_by("created_at", "pk"))


# Fulfilment order states in which a pickup still waits for work or for the customer.
OPEN_PICKUP_STATUSES = frozenset({"pending", "accepted", "picked", "ready_for_pickup"})


@dataclass
class CustomerOverview:
    """What the admin's customer page shows: the person, their channel ids, every order from every
    channel (newest first, with the fulfilment orders and returns other apps attach), and, drawn
    from those, every return, the refunds and the pickups still open."""

    customer: Customer
    channel_refs: list[ChannelCustomerRef]
    orders: list[Order]
    returns: list[dict[str, Any]] = field(default_factory=list)
    open_pickups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        return sorted({order.channel.code for order in self.orders})

    @property
    def refunds(self) -> list[dict[str, Any]]:
        return [rma for rma in self.returns if rma.get("refunded") not in (None, "0.00")]


def customer_overview(*, customer_id: int, actor: Actor) -> CustomerOverview:
    """The unified history of a customer for a screen, if the actor may see them (a channel: only
    its own customers); else CustomerNotFound. A fixed number of queries, whatever the history."""
    customer = customer_get_for_actor(customer_id=customer_id, actor=actor)
    orders = list(customer_order_history(customer_id=customer.pk, actor=actor))
    attach_sections(orders)
    refs = list(ChannelCustomerRef.objects.filter(customer=customer).select_related("channel").order_by("pk"))
    overview = CustomerOverview(customer=customer, channel_refs=refs, orders=orders)
    for order in orders:
        for rma in order.sections.get("returns") or []:
            overview.returns.append({**rma, "order": order})
        if order.method != "pickup":
            continue
        for fo in order.sections.get("fulfillment_orders") or []:
            if fo["status"] in OPEN_PICKUP_STATUSES:
                overview.open_pickups.append({**fo, "order": order})
    return overview
