"""Suggested products from purchase history (issue 22): what other customers bought together with
what this customer bought.

- ``product_affinity_refresh`` (a write: beat, and ``manage.py refresh_product_affinity``) rebuilds
  ``ProductAffinity`` from every order line at once: one ``INSERT ... SELECT`` over a self-join of
  the order lines grouped by product pair (the same SQL on PostgreSQL and SQLite), after one
  ``DELETE``, in one transaction. Readers see the old counts until it commits.
- ``suggestions_for_customer`` (a read) ranks the products related to what the customer bought by
  the sum of their co-purchase counts, leaving out what they bought already and what is in stock
  nowhere; products in stock at the associate's stores come first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from inventory.models import Product, StockLevel

from .choices import OrderStatus
from .models import Order, OrderLine, ProductAffinity


def _refresh_sql() -> str:
    quote = connection.ops.quote_name
    line = OrderLine._meta.db_table
    return (
        f"INSERT INTO {quote(ProductAffinity._meta.db_table)} "  # noqa: S608 - names from _meta, quoted
        f"({quote('product_id')}, {quote('related_product_id')}, {quote('orders_count')}, "
        f"{quote('refreshed_at')}) "
        "SELECT a.product_id, b.product_id, COUNT(DISTINCT a.order_id), %s "
        f"FROM {quote(line)} a "
        f"JOIN {quote(line)} b ON b.order_id = a.order_id AND b.product_id <> a.product_id "
        f"JOIN {quote(Order._meta.db_table)} o ON o.id = a.order_id "
        "WHERE o.status <> %s "
        "GROUP BY a.product_id, b.product_id"
    )


@transaction.atomic(durable=True)
def product_affinity_refresh() -> int:
    """Rebuild the co-purchase counts from every order that is not cancelled: for each ordered pair
    of distinct products, the number of orders holding both. Answers the number of pairs (rows).

    Two refreshes at once queue on the table lock (PostgreSQL) or the database's write lock
    (SQLite), so the second never meets the first's rows half-written."""
    table = connection.ops.quote_name(ProductAffinity._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table name, quoted
        cursor.execute(_refresh_sql(), [now, OrderStatus.CANCELLED])
        return max(cursor.rowcount, 0)


@dataclass(frozen=True)
class Suggestion:
    """A product to suggest: its ``score`` (orders holding it with something the customer bought,
    summed over what they bought) and the units available at the associate's stores
    (``available_here``: 0 when none, or for a manager who has no store)."""

    product: Product
    score: int
    available_here: int


def _available() -> F:
    return F("on_hand") - F("reserved") - F("safety_stock")  # type: ignore[return-value]


def _stock(location_ids: Iterable[int] | None) -> Q:
    """Sellable stock rows: available units at an active location (of ``location_ids`` if given)."""
    condition = Q(free__gt=0, location__active=True)
    return condition & Q(location_id__in=list(location_ids)) if location_ids is not None else condition


def suggestions_for_customer(
    *, customer_id: int, limit: int = 6, location_ids: Iterable[int] = ()
) -> list[Suggestion]:
    """Up to ``limit`` products to suggest to the customer, best first: products in stock at
    ``location_ids`` (the associate's stores) before the others, then by score, then by SKU.
    Never a product the customer bought, an inactive one, or one in stock nowhere. Four queries
    (one for a customer who bought nothing)."""
    location_ids = sorted(set(location_ids))
    # A literal list (a customer's products are few), so the pairs are read through their index.
    bought = sorted(
        set(
            OrderLine.objects.filter(order__customer_id=customer_id)
            .order_by()
            .values_list("product_id", flat=True)
        )
    )
    if not bought:
        return []
    stock = StockLevel.objects.alias(free=_available()).filter(product_id=OuterRef("related_product_id"))
    ranked = (
        ProductAffinity.objects.filter(product_id__in=bought, related_product__active=True)
        .exclude(related_product_id__in=bought)
        .filter(Exists(stock.filter(_stock(None))))
        .values("related_product_id")
        .annotate(score=Sum("orders_count"), here=Exists(stock.filter(_stock(location_ids))))
        .order_by("-here", "-score", "related_product__sku")[:limit]
    )
    rows = list(ranked)
    ids = [row["related_product_id"] for row in rows]
    products = Product.objects.in_bulk(ids)
    here = _available_at(ids, location_ids)
    return [
        Suggestion(
            product=products[row["related_product_id"]],
            score=int(row["score"]),
            available_here=here.get(row["related_product_id"], 0),
        )
        for row in rows
    ]


def _available_at(product_ids: list[int], location_ids: list[int]) -> dict[int, int]:
    if not (product_ids and location_ids):
        return {}
    rows = (
        StockLevel.objects.alias(free=_available())
        .filter(_stock(location_ids), product_id__in=product_ids)
        .values("product_id")
        .annotate(units=Sum(_available()))
    )
    return {row["product_id"]: int(row["units"]) for row in rows}
