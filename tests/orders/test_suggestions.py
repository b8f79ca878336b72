"""Suggested products (issue 22): the co-purchase counts one INSERT ... SELECT rebuilds, exact on a
hand-made set of orders, and the ranking of a customer's suggestions from them."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.celery_app import app
from inventory.models import Location, Product
from orders.choices import OrderStatus
from orders.models import Order, ProductAffinity
from orders.suggestions import product_affinity_refresh, suggestions_for_customer
from orders.tasks import refresh_product_affinity
from tests.conftest import stock_put
from tests.factories import CustomerFactory, LocationFactory, ProductFactory, StoreFactory

from .customer_history import order_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    """Five products and the orders below; Lan bought only A.

    x: A B C   y: A B   y: A C A   z: B D   z (cancelled): A D   z: E   lan: A
    so A&B 2, A&C 2, B&C 1, B&D 1 (each in both directions); A&D only in a cancelled order."""
    a, b, c, d, e = (ProductFactory(sku=sku, name=f"Product {sku}") for sku in "ABCDE")
    x, y, z, lan = (CustomerFactory() for _ in range(4))
    order_of(x, a, b, c)
    order_of(y, a, b)
    order_of(y, a, c, a)
    order_of(z, b, d)
    order_of(z, a, d, status=OrderStatus.CANCELLED)
    order_of(z, e)
    order_of(lan, a)
    store, warehouse = StoreFactory(code="st-1"), LocationFactory(code="wh-1")
    for product, location in ((b, store), (c, warehouse), (d, store), (e, store)):
        stock_put(product, location, 5)
    return {"products": dict(zip("ABCDE", (a, b, c, d, e), strict=True)), "lan": lan, "store": store}


def counts() -> dict[tuple[str, str], int]:
    rows = ProductAffinity.objects.values_list("product__sku", "related_product__sku", "orders_count")
    return {(p, r): n for p, r, n in rows}


EXPECTED = {
    ("A", "B"): 2,
    ("B", "A"): 2,
    ("A", "C"): 2,
    ("C", "A"): 2,
    ("B", "C"): 1,
    ("C", "B"): 1,
    ("B", "D"): 1,
    ("D", "B"): 1,
}


def test_the_refresh_counts_the_orders_holding_each_pair_exactly(shop):
    with CaptureQueriesContext(connection) as queries:
        pairs = product_affinity_refresh()
    assert pairs == len(EXPECTED)
    assert counts() == EXPECTED  # a product twice in one order counts once; cancelled orders none
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1  # set-based: one INSERT ... SELECT, whatever the number of orders
    assert "SELECT" in inserts[0].upper()


def test_a_refresh_replaces_the_counts_it_made_before(shop):
    product_affinity_refresh()
    first = ProductAffinity.objects.values_list("refreshed_at", flat=True).first()
    Order.objects.filter(lines__product__sku="D").exclude(status=OrderStatus.CANCELLED).delete()
    assert product_affinity_refresh() == len(EXPECTED) - 2
    assert counts() == {k: v for k, v in EXPECTED.items() if "D" not in k}
    assert all(at >= first for at in ProductAffinity.objects.values_list("refreshed_at", flat=True))


def test_the_management_command_refreshes(shop, capsys):
    call_command("refresh_product_affinity")
    assert counts() == EXPECTED
    assert "8 product pairs" in capsys.readouterr().out


def test_the_task_refreshes_and_beat_schedules_it_on_the_sync_queue(shop):
    assert refresh_product_affinity.apply().get() == len(EXPECTED)
    assert counts() == EXPECTED
    entry = app.conf.beat_schedule["refresh-product-affinity"]
    assert entry["task"] == refresh_product_affinity.name
    assert entry["options"]["expires"] < entry["schedule"]
    assert app.amqp.router.route({}, refresh_product_affinity.name)["queue"].name == "sync"


def skus(suggestions) -> list[str]:
    return [s.product.sku for s in suggestions]


def test_suggestions_rank_what_was_bought_with_theirs_and_leave_out_what_they_have(shop):
    product_affinity_refresh()
    lan = shop["lan"]
    found = suggestions_for_customer(customer_id=lan.pk, limit=5)
    assert skus(found) == ["B", "C"]  # both in 2 orders with A: by SKU; D only with A when cancelled
    assert [s.score for s in found] == [2, 2]
    assert [s.available_here for s in found] == [0, 0]  # no store given
    # in stock at the associate's store first
    store = shop["store"]
    warehouse = Location.objects.get(code="wh-1")
    at_warehouse = suggestions_for_customer(customer_id=lan.pk, location_ids=[warehouse.pk])
    assert skus(at_warehouse) == ["C", "B"]
    assert [s.available_here for s in at_warehouse] == [5, 0]
    assert skus(suggestions_for_customer(customer_id=lan.pk, location_ids=[store.pk])) == ["B", "C"]
    assert skus(suggestions_for_customer(customer_id=lan.pk, limit=1)) == ["B"]

    order_of(lan, shop["products"]["B"])  # now Lan has A and B: C (2 with A + 1 with B), D (1 with B)
    product_affinity_refresh()
    assert [(s.product.sku, s.score) for s in suggestions_for_customer(customer_id=lan.pk)] == [
        ("C", 3),
        ("D", 1),
    ]


def test_suggestions_are_only_products_in_stock_somewhere_and_on_sale(shop):
    product_affinity_refresh()
    lan = shop["lan"]
    b = shop["products"]["B"]
    level = b.stock_levels.get()
    level.safety_stock = 5  # on hand, but none to sell
    level.save(update_fields=["safety_stock"])
    assert skus(suggestions_for_customer(customer_id=lan.pk)) == ["C"]
    Product.objects.filter(sku="C").update(active=False)
    assert suggestions_for_customer(customer_id=lan.pk) == []
    Location.objects.filter(code="wh-1").update(active=False)
    Product.objects.filter(sku="C").update(active=True)
    assert suggestions_for_customer(customer_id=lan.pk) == []  # its only stock is at a closed location


def test_a_customer_without_orders_gets_no_suggestions(shop, django_assert_num_queries):
    product_affinity_refresh()
    newcomer = CustomerFactory()
    with django_assert_num_queries(1):
        assert suggestions_for_customer(customer_id=newcomer.pk) == []


@pytest.mark.postgres
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_refreshes_the_counts(celery_worker):
    a, b = ProductFactory(sku="A"), ProductFactory(sku="B")
    order_of(CustomerFactory(), a, b)
    refresh_product_affinity.delay()
    deadline = time.monotonic() + 40
    while ProductAffinity.objects.count() < 2:
        assert time.monotonic() < deadline, "the worker did not refresh the counts"
        time.sleep(0.1)
    assert counts() == {("A", "B"): 1, ("B", "A"): 1}
