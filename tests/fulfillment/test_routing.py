"""Routing by the worker: the sourcing rules, BOPIS, ship-from-store, capacity, rejection and
re-routing, backorders and pickup expiry. On PostgreSQL these run against a real Celery worker and
Redis (CI); on SQLite the tasks run eagerly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment import services
from fulfillment.models import FulfillmentOrder, RoutingExclusion
from fulfillment.tasks import expire_pickups
from inventory.capacity import location_load_change
from inventory.models import StockLevel
from oms.actors import Actor
from orders.models import Order, OrderEvent, OrderLine, Reservation
from orders.services import order_hold_place, order_hold_release
from tests.conftest import stock_put
from tests.factories import ProductFactory

from .conftest import SYSTEM, fulfillment_orders, place, routed, status_of, store, warehouse

pytestmark = pytest.mark.celery_worker
MANAGER = Actor(type="staff", name="manager", role="manager")


def stock(sku: str, location, quantity: int) -> None:
    if quantity:
        stock_put(ProductFactory(sku=sku), location, quantity)
    else:  # an empty row: the location carries the SKU but has none
        StockLevel.objects.get_or_create(product=ProductFactory(sku=sku), location=location)


def level(sku: str, location) -> StockLevel:
    return StockLevel.objects.get(product__sku=sku, location=location)


def test_a_whole_order_from_one_farther_location_beats_a_split_from_nearer_ones(router):
    near_a = store("st-a", "10.7770", "106.7010")
    near_b = store("st-b", "10.7780", "106.7020")
    far = warehouse("wh-far", "10.9500", "106.8500")
    stock("SHIRT", near_a, 5)
    stock("JEANS", near_b, 5)
    stock("SHIRT", far, 5)
    stock("JEANS", far, 5)
    order = place(("SHIRT", 1), ("JEANS", 1))
    (fo,) = routed(router, order)
    assert fo.location == far
    assert fo.lines.count() == 2
    router.wait_for(lambda: status_of(order) == "allocated", what="allocated")
    assert OrderEvent.objects.filter(order=order, kind="routed").exists()


def test_the_nearest_location_when_all_can(router):
    near = warehouse("wh-near", "10.7800", "106.7000")
    far = warehouse("wh-far", "11.5000", "107.0000", priority=10)
    stock("SHIRT", near, 5)
    stock("SHIRT", far, 5)
    (fo,) = routed(router, place(("SHIRT", 2)))
    assert fo.location == near


def test_a_split_when_no_location_can_alone(router):
    a = warehouse("wh-a", "10.7800", "106.7000")
    b = warehouse("wh-b", "10.9000", "106.8000")
    stock("SHIRT", a, 5)
    stock("JEANS", b, 5)
    order = place(("SHIRT", 1), ("JEANS", 2))
    fos = routed(router, order, count=2)
    assert {fo.location.code for fo in fos} == {"wh-a", "wh-b"}
    router.wait_for(lambda: status_of(order) == "allocated", what="allocated")


def test_bopis_accept_ready_picked_up_completes_the_order_and_takes_the_units(router):
    shop = store("st-d1", "10.7760", "106.7000")
    stock("SHIRT", shop, 3)
    order = place(("SHIRT", 2), method="pickup", pickup="st-d1")
    (fo,) = routed(router, order)
    assert fo.location == shop
    assert fo.method == "pickup"
    associate = Actor(type="staff", name="ann", role="associate", location_ids=frozenset({shop.pk}))
    services.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=associate)
    assert status_of(order) == "in_fulfillment"
    fo = services.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=associate)
    assert fo.pickup_expires_at - fo.ready_at == timedelta(days=3)
    services.fulfillment_order_picked_up(fulfillment_order_id=fo.pk, actor=associate)
    assert status_of(order) == "completed"
    row = level("SHIRT", shop)
    assert (row.on_hand, row.reserved) == (1, 0)
    assert OrderLine.objects.get(order=order).quantity_fulfilled == 2
    assert set(Reservation.objects.filter(order=order).values_list("status", flat=True)) == {"consumed"}


def test_ship_from_store_only_from_stores_that_may_when_warehouses_are_out(router):
    empty = warehouse("wh-empty", "10.7800", "106.7000")
    stock("SHIRT", empty, 0)
    no_ship = store("st-noship", "10.7770", "106.7010", ship_from_store=False)
    stock("SHIRT", no_ship, 5)
    shipper = store("st-ships", "10.8500", "106.7500", ship_from_store=True)
    stock("SHIRT", shipper, 5)
    (fo,) = routed(router, place(("SHIRT", 1)))
    assert fo.location == shipper
    assert fo.method == "ship"


def test_inactive_and_full_locations_are_skipped(router):
    inactive = warehouse("wh-off", "10.7770", "106.7010", active=False)
    full = warehouse("wh-full", "10.7800", "106.7050", daily_capacity=1)
    open_ = warehouse("wh-open", "11.0000", "107.0000")
    for location in (inactive, full, open_):
        stock("SHIRT", location, 5)
    location_load_change(location_id=full.pk, day=timezone.localdate(), delta=1)
    (fo,) = routed(router, place(("SHIRT", 1)))
    assert fo.location == open_


def test_routing_moves_held_units_when_their_location_went_inactive(router):
    near = warehouse("wh-near", "10.7800", "106.7000")
    far = warehouse("wh-far", "10.9500", "106.8500")
    stock("SHIRT", near, 5)
    stock("SHIRT", far, 5)
    order = place(("SHIRT", 2))
    if not router.real:
        pytest.skip("eager routing allocates at once; this race needs the worker's delay")
    order_hold_place(order_id=order.pk, reason="manual", actor=MANAGER)
    if FulfillmentOrder.objects.filter(order=order).exists():
        pytest.skip("the worker routed the order before the hold landed")
    near.active = False
    near.save(update_fields=["active"])
    order_hold_release(order_id=order.pk, actor=MANAGER)
    (fo,) = routed(router, order)
    assert fo.location == far
    assert level("SHIRT", near).reserved == 0
    assert level("SHIRT", far).reserved == 2
    assert OrderEvent.objects.filter(order=order, kind="rerouted").exists()


def test_a_store_rejection_reroutes_and_releases_the_first_hold(router):
    shop = store("st-near", "10.7770", "106.7010")
    depot = warehouse("wh-far", "10.9500", "106.8500")
    stock("SHIRT", shop, 5)
    stock("SHIRT", depot, 5)
    order = place(("SHIRT", 2))
    (first,) = routed(router, order)
    assert first.location == shop
    associate = Actor(type="staff", name="ann", role="associate", location_ids=frozenset({shop.pk}))
    services.fulfillment_order_reject(fulfillment_order_id=first.pk, reason="damaged stock", actor=associate)
    assert level("SHIRT", shop).reserved == 0
    assert RoutingExclusion.objects.filter(order=order, location=shop).exists()
    second = routed(router, order, location=depot)[0]
    assert second.status == "pending"
    assert level("SHIRT", depot).reserved == 2
    router.wait_for(lambda: status_of(order) == "allocated", what="allocated after re-route")
    first.refresh_from_db()
    assert first.status == "rejected"
    assert first.reject_reason == "damaged stock"


def test_a_rejection_with_nowhere_else_backorders_the_units(router):
    shop = store("st-only", "10.7770", "106.7010")
    stock("SHIRT", shop, 5)
    order = place(("SHIRT", 1))
    (fo,) = routed(router, order)
    services.fulfillment_order_reject(fulfillment_order_id=fo.pk, reason="cannot find it", actor=MANAGER)
    router.wait_for(lambda: status_of(order) == "backordered", what="backordered")
    assert OrderLine.objects.get(order=order).quantity_backordered == 1


def test_a_backorder_is_allocated_when_a_receipt_arrives(router):
    depot = warehouse("wh-main", "10.8000", "106.7000")
    stock("SHIRT", depot, 1)
    order = place(("SHIRT", 3), allow_backorder=True)
    assert order.status == "backordered"
    routed(router, order)
    assert OrderLine.objects.get(order=order).quantity_backordered == 2
    stock_put(ProductFactory(sku="SHIRT"), depot, 5, reason="receipt PO-1")
    router.wait_for(
        lambda: OrderLine.objects.get(order=order).quantity_backordered == 0, what="backorder filled"
    )
    router.wait_for(lambda: status_of(order) == "allocated", what="allocated")
    # the arrived units join the location's pending fulfilment order: one per location
    (fo,) = fulfillment_orders(order)
    assert sum(fo.lines.values_list("quantity", flat=True)) == 3
    assert level("SHIRT", depot).reserved == 3


def test_backorders_are_filled_oldest_first_without_overselling(router):
    depot = warehouse("wh-main", "10.8000", "106.7000")
    stock("SHIRT", depot, 0)
    older = place(("SHIRT", 2), allow_backorder=True, email="old@example.com")
    newer = place(("SHIRT", 2), allow_backorder=True, email="new@example.com")
    stock_put(ProductFactory(sku="SHIRT"), depot, 3, reason="receipt")
    router.wait_for(lambda: status_of(older) == "allocated", what="older allocated")
    router.wait_for(
        lambda: OrderLine.objects.get(order=newer).quantity_backordered == 1, what="newer partly filled"
    )
    row = level("SHIRT", depot)
    assert (row.on_hand, row.reserved) == (3, 3)


def test_a_pickup_not_collected_in_time_expires_and_goes_back_on_sale(router):
    shop = store("st-d1", "10.7760", "106.7000")
    stock("SHIRT", shop, 3)
    order = place(("SHIRT", 2), method="pickup", pickup="st-d1")
    (fo,) = routed(router, order)
    services.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
    services.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
    FulfillmentOrder.objects.filter(pk=fo.pk).update(pickup_expires_at=timezone.now() - timedelta(minutes=1))
    expire_pickups.delay()
    router.wait_for(lambda: FulfillmentOrder.objects.get(pk=fo.pk).status == "expired", what="pickup expired")
    row = level("SHIRT", shop)
    assert (row.on_hand, row.reserved) == (3, 0)
    assert OrderLine.objects.get(order=order).quantity_cancelled == 2
    router.wait_for(lambda: status_of(order) == "cancelled", what="order cancelled")
    assert OrderEvent.objects.filter(order=order, kind="pickup_expired").exists()


def test_the_sweeper_finds_orders_a_lost_task_left_behind(router):
    depot = warehouse("wh-main", "10.8000", "106.7000")
    stock("SHIRT", depot, 5)
    order = place(("SHIRT", 1))
    routed(router, order)
    # simulate a lost routing task: a second order whose fulfilment order never got made
    lost = place(("SHIRT", 1), email="lost@example.com")
    router.wait_for(lambda: fulfillment_orders(lost), what="second order routed")
    FulfillmentOrder.objects.filter(order=lost).delete()
    Order.objects.filter(pk=lost.pk).update(status="received", updated_at=timezone.now() - timedelta(hours=1))
    Reservation.objects.filter(order=lost).update(created_at=timezone.now() - timedelta(hours=1))
    found = services.routing_sweep()
    assert found["stuck"] == [lost.pk]
    services.route_order(order_id=lost.pk)
    assert len(fulfillment_orders(lost)) == 1
    assert services.routing_sweep()["stuck"] == []


def test_route_order_twice_changes_nothing(router):
    depot = warehouse("wh-main", "10.8000", "106.7000")
    stock("SHIRT", depot, 5)
    order = place(("SHIRT", 2))
    routed(router, order)
    result = services.route_order(order_id=order.pk)
    assert result.created == []
    assert len(fulfillment_orders(order)) == 1
    assert level("SHIRT", depot).reserved == 2
