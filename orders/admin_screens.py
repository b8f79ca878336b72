"""What the order and customer pages show besides their columns, written for people: the other
apps' sections of an order (fulfilment orders, returns) as tables with links, the timeline as
sentences, and a customer's unified history. Reads come from the selectors; this module only
shapes them for the templates in ``templates/admin/orders/``."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString

from inventory.selectors import location_labels
from oms.actors import Actor
from oms.display import timeline_sentence
from oms.models import Customer

from .customer_page import customer_page_sections
from .models import Order
from .selectors import CustomerOverview, order_timeline


def admin_url(name: str, pk: Any) -> str:
    """The admin change page of a row (``name`` such as ``fulfillment_fulfillmentorder``), or ""."""
    try:
        return reverse(f"admin:{name}_change", args=[pk])
    except NoReverseMatch:
        return ""


def _with_links(fulfillment_orders: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            **fo,
            "url": admin_url("fulfillment_fulfillmentorder", fo["id"]),
            "location_name": labels.get(fo["location"], fo["location"]),
        }
        for fo in fulfillment_orders
    ]


def _return_rows(returns: list[dict[str, Any]], order: Order | None = None) -> list[dict[str, Any]]:
    labels = location_labels(rma["location"] for rma in returns) if returns else {}
    rows = []
    for rma in returns:
        of = rma.get("order") or order
        rows.append(
            {
                **rma,
                "url": admin_url("returns_return", rma["id"]),
                "order": of,
                "order_url": admin_url("orders_order", of.pk) if of else "",
                "currency": of.currency if of else "",
                "location_name": labels.get(rma["location"], rma["location"]),
            }
        )
    return rows


def fulfillment_orders_html(order: Order) -> SafeString:
    fos = order.sections.get("fulfillment_orders") or []
    labels = location_labels(fo["location"] for fo in fos)
    return render_to_string(
        "admin/orders/_fulfillment_orders.html", {"fulfillment_orders": _with_links(fos, labels)}
    )


def returns_html(order: Order) -> SafeString:
    rows = _return_rows(order.sections.get("returns") or [], order)
    return render_to_string("admin/orders/_returns.html", {"returns": rows, "with_order": False})


def timeline_html(order: Order) -> SafeString:
    sentences = [
        timeline_sentence(
            when=event.created_at,
            message=event.message,
            actor_type=event.actor_type,
            actor_name=event.actor_name,
        )
        for event in order_timeline(order_id=order.pk)
    ]
    return render_to_string("admin/orders/_timeline.html", {"events": sentences})


def customer_history_html(overview: CustomerOverview) -> SafeString:
    labels = location_labels(fo["location"] for fo in overview.open_pickups)
    overview.open_pickups = [
        {**fo, "order_url": admin_url("orders_order", fo["order"].pk)}
        for fo in _with_links(overview.open_pickups, labels)
    ]
    overview.returns = _return_rows(overview.returns)
    for order in overview.orders:
        order.admin_url = admin_url("orders_order", order.pk)  # type: ignore[attr-defined]  # for the template
    return render_to_string("admin/orders/_customer_history.html", {"overview": overview})


def customer_sections_html(customer: Customer, actor: Actor, *, reserve_url: str = "") -> SafeString:
    """The customer page's registered sections (pickups here, suggestions, the cart, the points ...);
    ``reserve_url`` lets a suggestion link to the reserve-in-store form with its SKU."""
    sections = customer_page_sections(customer=customer, actor=actor)
    return render_to_string(
        "admin/orders/_customer_sections.html", {"sections": sections, "reserve_url": reserve_url}
    )
