"""Reads of returns, scoped by who asks (least privilege, design.md "Guarantees"):

- staff (managers and associates) see every return: an associate serves any customer at the counter,
  but receives, refunds and closes only at their own locations (the services answer 403 elsewhere);
- a channel client sees the returns made through it and the returns of its own orders; an in-person
  channel (pos, call_center) may also look up any single return by id, as it may any order.

What an actor may not see is not found (404), so ids do not leak. Also: what an order line may still
return, what an order may still refund, and the ``returns`` section of every order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, F, IntegerField, Max, Prefetch, Q, QuerySet, Sum, When
from django.urls import reverse
from rest_framework.fields import DateTimeField

from fulfillment.models import DONE_STATUSES, FulfillmentOrderLine
from fulfillment.selectors import DayItem, DaySection, admin_list_url
from inventory.models import Location
from oms.actors import Actor
from oms.lookups import get_by_pk
from oms.money import money_text
from orders.choices import OrderStatus
from orders.models import Order, OrderLine
from orders.selectors import SectionRead

from .choices import ReturnStatus
from .errors import ReturnNotFound
from .models import AWAITING_STATUSES, Receipt, Refund, Return, ReturnLine

ZERO = Decimal("0.00")


def return_queryset_for_actor(actor: Actor, *, lookup: bool = False) -> QuerySet[Return]:
    """Returns the actor may see; ``lookup`` widens it for in-person channels to any single return."""
    qs = Return.objects.all()
    if actor.is_staff or actor.is_system:
        return qs
    if actor.is_channel:
        if lookup and actor.is_in_person_channel:
            return qs
        return qs.filter(Q(channel_id=actor.channel_id) | Q(order__channel_id=actor.channel_id))
    return qs.none()


def return_get_for_actor(*, return_id: int | str, actor: Actor) -> Return:
    """The return with this id if the actor may see it, else 404 ``return_not_found`` (ids do not leak)."""
    return get_by_pk(
        return_queryset_for_actor(actor, lookup=True),
        return_id,
        not_found=ReturnNotFound(f"No return '{return_id}'."),
    )


def return_detail_queryset(qs: QuerySet[Return]) -> QuerySet[Return]:
    """``qs`` with everything a return's detail shows loaded up front (a fixed number of queries)."""
    return qs.select_related(
        "order", "channel", "location", "exchange_order", "exchange_order__pickup_location"
    ).prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("pk")),
        Prefetch("receipts", queryset=Receipt.objects.select_related("location").order_by("pk")),
        Prefetch("refunds", queryset=Refund.objects.order_by("pk")),
    )


def return_detail(*, return_id: int | str, actor: Actor) -> Return:
    """A return the actor may see, with its lines, receipts and refunds loaded (404 otherwise)."""
    rma = return_get_for_actor(return_id=return_id, actor=actor)
    return return_detail_queryset(Return.objects.filter(pk=rma.pk)).get()


# --- What is still returnable and refundable --------------------------------------------------------


def returned_quantities(*, order_line_ids: list[int], exclude_return_id: int | None = None) -> dict[int, int]:
    """Units of each order line already returned or in an open return (lines with none are absent).

    A cancelled return counts nothing, a closed one the units it received, any other its requested
    units."""
    qs = ReturnLine.objects.filter(order_line_id__in=order_line_ids).exclude(
        rma__status=ReturnStatus.CANCELLED
    )
    if exclude_return_id is not None:
        qs = qs.exclude(rma_id=exclude_return_id)
    counted = Case(
        When(rma__status=ReturnStatus.CLOSED, then=F("quantity_received")),
        default=F("quantity"),
        output_field=IntegerField(),
    )
    rows = qs.values("order_line_id").annotate(units=Sum(counted)).values_list("order_line_id", "units")
    return {line_id: int(units or 0) for line_id, units in rows}


def returnable_quantities(*, lines: list[OrderLine]) -> dict[int, int]:
    """Units of each line that may still be returned, never below zero.

    Fulfilled (shipped or collected) minus returned or in an open return."""
    taken = returned_quantities(order_line_ids=[line.pk for line in lines])
    return {line.pk: max(0, line.quantity_fulfilled - taken.get(line.pk, 0)) for line in lines}


def fulfilled_at_by_line(*, order: Order, order_line_ids: list[int]) -> dict[int, datetime]:
    """When each line's units were fulfilled, for every line asked about.

    The latest shipped / picked-up fulfilment order holding the line; the order's completion (or
    creation) when no fulfilment order records it."""
    rows = (
        FulfillmentOrderLine.objects.filter(
            order_line_id__in=order_line_ids,
            fulfillment_order__status__in=DONE_STATUSES,
            fulfillment_order__completed_at__isnull=False,
        )
        .values("order_line_id")
        .annotate(at=Max("fulfillment_order__completed_at"))
        .values_list("order_line_id", "at")
    )
    found = dict(rows)
    fallback = order.completed_at or order.created_at
    return {line_id: found.get(line_id) or fallback for line_id in order_line_ids}


@dataclass(frozen=True)
class RefundSummary:
    paid: Decimal
    refunded: Decimal
    exchange_credit: Decimal

    @property
    def refundable(self) -> Decimal:
        """Paid minus refunded minus exchange credit, never below zero."""
        return max(ZERO, self.paid - self.refunded - self.exchange_credit)


def order_refund_summary(*, order: Order) -> RefundSummary:
    """What was paid for the order, refunded so far, and applied to exchange orders that still stand.

    An exchange credit is released when its return or its exchange order is cancelled. Call it with
    the order row locked when the answer decides a write."""
    refunded = Refund.objects.filter(order=order).aggregate(total=Sum("amount"))["total"] or ZERO
    credit = (
        Return.objects.filter(order=order, exchange_order__isnull=False)
        .exclude(status=ReturnStatus.CANCELLED)
        .exclude(exchange_order__status=OrderStatus.CANCELLED)
        .aggregate(total=Sum("exchange_credit"))["total"]
        or ZERO
    )
    return RefundSummary(paid=order.total, refunded=refunded, exchange_credit=credit)


# --- The returns section of orders (GET /orders/{id}, the customer's unified history) -------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)


def _returns_read(order_ids: list[int]) -> QuerySet[Return]:
    return (
        Return.objects.filter(order_id__in=order_ids)
        .select_related("location", "channel", "exchange_order")
        .prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("pk")),
            Prefetch("refunds", queryset=Refund.objects.order_by("pk")),
        )
        .order_by("pk")
    )


def _returns_build(rmas: list[Return]) -> dict[int, list[dict[str, Any]]]:
    dt = DateTimeField()
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rma in rmas:
        refunds = list(rma.refunds.all())
        grouped[rma.order_id].append(
            {
                "id": rma.pk,
                "number": rma.number,
                "status": rma.status,
                "method": rma.method,
                "channel": rma.channel.code,
                "location": rma.location.code,
                "value": _money(rma.value),
                "refunded": _money(sum((r.amount for r in refunds), ZERO)),
                "exchange_order": (
                    {"id": rma.exchange_order.pk, "number": rma.exchange_order.number}
                    if rma.exchange_order is not None
                    else None
                ),
                "exchange_balance": _money(rma.exchange_balance),
                "created_at": dt.to_representation(rma.created_at),
                "lines": [
                    {
                        "id": line.pk,
                        "order_line": line.order_line_id,
                        "sku": line.order_line.sku,
                        "quantity": line.quantity,
                        "reason": line.reason,
                        "quantity_received": line.quantity_received,
                        "quantity_restocked": line.quantity_restocked,
                        "quantity_damaged": line.quantity_damaged,
                    }
                    for line in rma.lines.all()
                ],
            }
        )
    return dict(grouped)


# {order id: [return summaries]} for the orders' ``returns`` section, in at most three queries.
returns_for_orders = SectionRead(queryset=_returns_read, build=_returns_build)


def _exchanges_read(order_ids: list[int]) -> QuerySet[Return]:
    return Return.objects.filter(exchange_order_id__in=order_ids).select_related("order")


def _exchanges_build(rows: list[Return]) -> dict[int, dict[str, Any]]:
    return {
        rma.exchange_order_id: {
            "return": rma.pk,
            "return_number": rma.number,
            "order": rma.order.pk,
            "order_number": rma.order.number,
        }
        for rma in rows
        if rma.exchange_order_id is not None
    }


# {exchange order id: the return it was created for} for the orders' ``exchange_for`` section.
exchanges_for_orders = SectionRead(queryset=_exchanges_read, build=_exchanges_build)


def return_refund_due(*, rma: Return) -> Decimal:
    """What a return still owes the customer, never below zero nor above what the order may refund.

    Its value, minus the part applied to a standing exchange order, minus its refunds."""
    refunded = Refund.objects.filter(rma=rma).aggregate(total=Sum("amount"))["total"] or ZERO
    credit = ZERO
    if rma.exchange_order_id is not None and rma.status != ReturnStatus.CANCELLED:
        exchange_status = (
            Order.objects.filter(pk=rma.exchange_order_id).values_list("status", flat=True).first()
        )
        if exchange_status != OrderStatus.CANCELLED:
            credit = rma.exchange_credit
    due = max(ZERO, rma.value - credit - refunded)
    return min(due, order_refund_summary(order=rma.order).refundable)


def returns_to_receive_section(
    *, locations: list[Location], location_id: int | None, now: datetime, limit: int
) -> DaySection:
    """The start page's returns to receive at ``locations``: their count and the ``limit`` oldest."""
    qs = (
        Return.objects.filter(location__in=locations, status__in=AWAITING_STATUSES)
        .select_related("location", "order__customer")
        .annotate(units=Sum("lines__quantity") - Sum("lines__quantity_received"))
        .order_by("created_at", "pk")
    )
    items = [
        DayItem(
            number=rma.number,
            url=reverse("admin:returns_return_change", args=[rma.pk]),
            location=rma.location.code if rma.location else "",
            customer=rma.order.customer.name if rma.order.customer else "",
            units=rma.units or 0,
            since=rma.created_at,
            age=now - rma.created_at,
        )
        for rma in qs[:limit]
    ]
    where = {"location__id__exact": str(location_id)} if location_id is not None else {}
    return DaySection(
        key="returns",
        title="Returns to receive",
        count=qs.count() if len(items) == limit else len(items),
        items=items,
        list_url=admin_list_url("admin:returns_return_changelist", to_receive="yes", **where),
    )
