"""An associate works their store's pickups in the admin, in a real browser."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment.models import FulfillmentOrder
from fulfillment.services import route_order
from inventory.models import StockLevel
from oms.actors import Actor
from oms.staff import staff_create
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from tests.conftest import stock_put
from tests.factories import ChannelFactory, ProductFactory, StoreFactory

from .conftest import admin_login, run_action, shot

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("browser-test")


def pickup_order(store_code: str, email: str) -> FulfillmentOrder:
    data = OrderInput(
        channel=ChannelFactory(code="web", currency="USD"),
        method="pickup",
        lines=[LineInput(sku="SHIRT", quantity=1, unit_price=Decimal("10"))],
        currency="USD",
        customer=CustomerInput(email=email, name=email.split("@")[0].title()),
        pickup_location=store_code,
    )
    order = order_place(data=data, actor=SYSTEM).order
    route_order(order_id=order.pk)
    return FulfillmentOrder.objects.get(order=order)


def test_an_associate_prepares_and_hands_over_a_pickup(page, live_server):
    mine = StoreFactory(
        code="st-mine", name="My Store", latitude=Decimal("10.77"), longitude=Decimal("106.70")
    )
    other = StoreFactory(
        code="st-other", name="Other Store", latitude=Decimal("21.0"), longitude=Decimal("105.8")
    )
    shirt = ProductFactory(sku="SHIRT")
    stock_put(shirt, mine, 5)
    stock_put(shirt, other, 5)
    fo = pickup_order("st-mine", "lan@example.com")
    theirs = pickup_order("st-other", "minh@example.com")
    _, password = staff_create(username="ann", role="associate", location_codes=["st-mine"])

    admin_login(page, live_server, "ann", password)
    page.goto(f"{live_server.url}/admin/fulfillment/fulfillmentorder/")
    shot(page, "associate-work-queue")
    assert page.locator("#result_list").get_by_text(fo.number).count() == 1
    assert page.get_by_text(theirs.number).count() == 0  # another store's work is not shown

    for action in ("accept", "ready_for_pickup"):
        run_action(page, action, fo.number)
        page.wait_for_selector(".messagelist .success")
    fo.refresh_from_db()
    assert fo.status == "ready_for_pickup"
    assert len(fo.pickup_code) == 6

    page.goto(f"{live_server.url}/admin/fulfillment/fulfillmentorder/?queue=waiting")
    shot(page, "associate-waiting-for-customer")
    # handing over is one customer's, with the code from their e-mail: on the pickup's page
    page.locator("#result_list a", has_text=fo.number).click()
    page.fill("input[name=pickup_code]", fo.pickup_code)
    page.click("form[data-button=hand-over] button")
    page.wait_for_selector(".messagelist .success")
    fo.refresh_from_db()
    assert fo.status == "picked_up"
    row = StockLevel.objects.get(product=shirt, location=mine)
    assert (row.on_hand, row.reserved) == (4, 0)
    shot(page, "associate-handed-over")


def test_an_associate_receives_a_return_at_their_store(page, live_server):
    from fulfillment import services as fs
    from returns.services import ReturnLineInput, return_create

    mine = StoreFactory(
        code="st-mine", name="My Store", latitude=Decimal("10.77"), longitude=Decimal("106.70")
    )
    shirt = ProductFactory(sku="SHIRT")
    stock_put(shirt, mine, 5)
    fo = pickup_order("st-mine", "lan@example.com")
    for step in (
        fs.fulfillment_order_accept,
        fs.fulfillment_order_ready_for_pickup,
        fs.fulfillment_order_picked_up,
    ):
        step(fulfillment_order_id=fo.pk, actor=SYSTEM)
    line = fo.order.lines.get()
    rma = return_create(
        order_id=fo.order_id,
        method="in_store",
        location_code="st-mine",
        lines=[ReturnLineInput(order_line_id=line.pk, quantity=1, reason="wrong_size")],
        actor=SYSTEM,
    ).rma
    _, password = staff_create(username="ann", role="associate", location_codes=["st-mine"])

    admin_login(page, live_server, "ann", password)
    page.goto(f"{live_server.url}/admin/returns/return/")
    shot(page, "associate-returns-to-receive")
    run_action(page, "receive_outstanding", rma.number)
    page.select_option("select[name=disposition]", "restock")
    page.click("input[name=apply]")
    page.wait_for_selector(".messagelist .success")
    shot(page, "associate-return-received")
    rma.refresh_from_db()
    assert rma.status == "received"
    assert StockLevel.objects.get(product=shirt, location=mine).on_hand == 5  # 4 after pickup, +1 back


def test_a_manager_sees_the_kpi_charts(page, live_server):
    mine = StoreFactory(code="st-mine", latitude=Decimal("10.77"), longitude=Decimal("106.70"))
    stock_put(ProductFactory(sku="SHIRT"), mine, 5)
    pickup_order("st-mine", "lan@example.com")
    _, password = staff_create(username="boss", role="manager")

    admin_login(page, live_server, "boss", password)
    page.click("a[href='/admin/kpis/']")
    page.wait_for_selector("canvas")
    page.wait_for_function("() => window.Chart !== undefined")
    assert page.locator("canvas").count() >= 3
    shot(page, "manager-kpis")
