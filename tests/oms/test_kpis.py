"""KPIs: a small week of business driven through the services, every figure asserted exactly; the
registry; the percentile helper; the API (permissions, dates); the admin page with its charts.

The services stamp real times; the scenario then moves every timestamp to a fixed week
(2025-03-01 .. 2025-03-07, UTC) with ``QuerySet.update`` so durations and days are exact."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from inventory.choices import MovementKind
from inventory.models import Location, StockMovement
from inventory.services import stock_count
from oms import kpis as kpi_module
from oms.actors import Actor
from oms.api.kpis import EXAMPLE
from oms.choices import ChannelKind
from oms.errors import InvalidInput
from oms.kpis import duration_percentiles, kpi_period, kpi_register, kpis_compute, percentile
from orders.models import Order
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from returns import services as returns
from returns.models import Refund
from returns.services import ReceiveLineInput, ReturnLineInput
from tests.conftest import stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")
MANAGER = Actor(type="staff", name="boss", role="manager")
WEEK = {"from": "2025-03-01", "to": "2025-03-07"}
START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 8, tzinfo=UTC)  # midnight after the 7th: excluded


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=UTC)


# --- The scenario -------------------------------------------------------------------------------------


class Week:
    """Two channels, a warehouse, a store that ships and a pickup store:

    - O1 web, ship: 2 SHIRT (warehouse only) + 1 JEANS (store A only): split over two locations,
      both shipped (one from the warehouse, one from the store); 1 SHIRT returned (wrong size,
      refunded 10.00); a JEANS return opened then cancelled.
    - O2 app, ship: 1 SOCKS, sent to store A (nearest), rejected there, re-routed to the warehouse
      (backordered then filled), not shipped yet.
    - O3 web, pickup at store B: 1 CAP, ready, collected on time.
    - O4 app, pickup at store B: 2 CAP, ready, not collected: expired (the order is cancelled).
    - O5 web, placed at midnight after the period: outside it.
    - Counts: SHIRT at the warehouse 18 -> 17 (off by one), CAP at store B 4 -> 4 (exact); one more
      count and one refund just outside the period.
    """

    def __init__(self) -> None:
        self.web = ChannelFactory(code="web", kind=ChannelKind.WEB)
        self.app = ChannelFactory(code="app", kind=ChannelKind.APP)
        self.warehouse = LocationFactory(
            code="wh-main", latitude=Decimal("10.900000"), longitude=Decimal("106.600000")
        )
        self.store_a = StoreFactory(
            code="st-a", latitude=Decimal("10.777000"), longitude=Decimal("106.701000"), ship_from_store=True
        )
        self.store_b = StoreFactory(
            code="st-b", latitude=Decimal("10.700000"), longitude=Decimal("106.600000"), ship_from_store=False
        )
        self.shirt = ProductFactory(sku="SHIRT", price=Decimal("10.00"))
        self.jeans = ProductFactory(sku="JEANS", price=Decimal("30.00"))
        self.socks = ProductFactory(sku="SOCKS", price=Decimal("5.00"))
        self.cap = ProductFactory(sku="CAP", price=Decimal("8.00"))
        stock_put(self.shirt, self.warehouse, 20)
        stock_put(self.jeans, self.store_a, 10)
        stock_put(self.socks, self.store_a, 5)
        stock_put(self.socks, self.warehouse, 5)
        stock_put(self.cap, self.store_b, 5)

        self.o1 = self.place(self.web, ("SHIRT", 2, "10.00"), ("JEANS", 1, "30.00"))
        self.o2 = self.place(self.app, ("SOCKS", 1, "5.00"))
        self.o3 = self.place(self.web, ("CAP", 1, "8.00"), pickup=self.store_b)
        self.o4 = self.place(self.app, ("CAP", 2, "8.00"), pickup=self.store_b)
        self.o5 = self.place(self.web, ("SHIRT", 1, "10.00"))
        for order in (self.o1, self.o2, self.o3, self.o4):
            fulfillment.route_order(order_id=order.pk)

        # O1: two fulfilment orders, both shipped.
        self.o1_wh, self.o1_st = self.fos(self.o1)
        assert (self.o1_wh.location, self.o1_st.location) == (self.warehouse, self.store_a)
        for fo in (self.o1_wh, self.o1_st):
            self.ship(fo)
        # O2: store A rejects, the router sends it to the warehouse.
        [first] = self.fos(self.o2)
        assert first.location == self.store_a
        fulfillment.fulfillment_order_reject(fulfillment_order_id=first.pk, reason="damaged", actor=SYSTEM)
        fulfillment.route_order(order_id=self.o2.pk)
        self.o2_rejected, self.o2_wh = self.fos(self.o2)
        assert (self.o2_rejected.status, self.o2_wh.location) == ("rejected", self.warehouse)
        # O3 collected, O4 expired.
        [self.o3_fo] = self.fos(self.o3)
        [self.o4_fo] = self.fos(self.o4)
        for fo in (self.o3_fo, self.o4_fo):
            fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
            fulfillment.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_picked_up(fulfillment_order_id=self.o3_fo.pk, actor=SYSTEM)
        self.o4_fo.refresh_from_db()
        assert fulfillment.fulfillment_order_expire(
            fulfillment_order_id=self.o4_fo.pk, now=self.o4_fo.pickup_expires_at + timedelta(seconds=1)
        )

        # Returns: 1 SHIRT of O1 back and refunded; a JEANS return opened then cancelled.
        shirt_line = self.o1.lines.get(sku="SHIRT")
        rma = returns.return_create(
            order_id=self.o1.pk,
            method="in_store",
            location_code="st-a",
            lines=[ReturnLineInput(order_line_id=shirt_line.pk, quantity=1, reason="wrong_size")],
            actor=MANAGER,
        ).rma
        returns.return_receive(
            return_id=rma.pk,
            lines=[ReceiveLineInput(return_line_id=rma.lines.get().pk, quantity=1, disposition="restock")],
            actor=MANAGER,
        )
        self.refund = returns.return_refund(return_id=rma.pk, amount=Decimal("10.00"), actor=MANAGER).refund
        jeans_rma = returns.return_create(
            order_id=self.o1.pk,
            method="mail",
            location_code="wh-main",
            lines=[
                ReturnLineInput(order_line_id=self.o1.lines.get(sku="JEANS").pk, quantity=1, reason="damaged")
            ],
            actor=MANAGER,
        ).rma
        returns.return_cancel(return_id=jeans_rma.pk, actor=MANAGER)
        self.late_refund = returns.return_refund(
            return_id=rma.pk, amount=Decimal("5.00"), actor=MANAGER
        ).refund

        # Counts: SHIRT at the warehouse (18 on the books, 17 on the shelf), CAP at store B exact.
        stock_count(product=self.shirt, location=self.warehouse, on_hand=17, reason="cycle", actor=SYSTEM)
        stock_count(product=self.cap, location=self.store_b, on_hand=4, reason="cycle", actor=SYSTEM)
        stock_count(product=self.cap, location=self.store_b, on_hand=2, reason="late", actor=SYSTEM)

        self.move_to_the_week()

    @staticmethod
    def place(channel, *lines: tuple[str, int, str], pickup: Location | None = None) -> Order:  # type: ignore[no-untyped-def]
        data = OrderInput(
            channel=channel,
            method="pickup" if pickup else "ship",
            lines=[LineInput(sku=sku, quantity=q, unit_price=Decimal(p)) for sku, q, p in lines],
            currency="USD",
            customer=CustomerInput(email="ann@example.com", name="Ann"),
            pickup_location=pickup.code if pickup else "",
            shipping_address={} if pickup else {"line1": "1 Le Loi", "city": "HCMC", "country": "VN"},
            latitude=None if pickup else Decimal("10.776900"),
            longitude=None if pickup else Decimal("106.700900"),
        )
        return order_place(data=data, actor=SYSTEM).order

    @staticmethod
    def fos(order: Order) -> list[FulfillmentOrder]:
        return list(FulfillmentOrder.objects.filter(order=order).select_related("location").order_by("pk"))

    @staticmethod
    def ship(fo: FulfillmentOrder) -> None:
        for step in (
            fulfillment.fulfillment_order_accept,
            fulfillment.fulfillment_order_pick,
            fulfillment.fulfillment_order_pack,
        ):
            step(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_ship(
            fulfillment_order_id=fo.pk, carrier="ups", tracking_number="1Z", actor=SYSTEM
        )

    def move_to_the_week(self) -> None:
        """Fixed timestamps, so every duration and day is exact."""
        assert all(
            Order.objects.get(pk=o.pk).allocated_at is not None for o in (self.o1, self.o2, self.o3, self.o4)
        )
        orders = {
            self.o1: (at(3, 9), 60),
            self.o2: (at(3, 10), 120),
            self.o3: (at(4, 9), 30),
            self.o4: (at(4, 12), 90),
        }
        for order, (created, to_allocation) in orders.items():
            Order.objects.filter(pk=order.pk).update(
                created_at=created, allocated_at=created + timedelta(seconds=to_allocation)
            )
        Order.objects.filter(pk=self.o5.pk).update(created_at=END)
        o1, o3, o4 = at(3, 9), at(4, 9), at(4, 12)
        FulfillmentOrder.objects.filter(pk=self.o1_wh.pk).update(completed_at=o1 + timedelta(hours=1))
        FulfillmentOrder.objects.filter(pk=self.o1_st.pk).update(completed_at=o1 + timedelta(hours=2))
        FulfillmentOrder.objects.filter(pk=self.o3_fo.pk).update(
            ready_at=o3 + timedelta(minutes=30),
            pickup_expires_at=o3 + timedelta(days=3),
            completed_at=o3 + timedelta(days=1),
        )
        FulfillmentOrder.objects.filter(pk=self.o4_fo.pk).update(
            ready_at=o4 + timedelta(hours=1),
            pickup_expires_at=o4 + timedelta(days=3),
            closed_at=o4 + timedelta(days=3, seconds=1),
        )
        Refund.objects.filter(pk=self.refund.pk).update(created_at=at(5, 12))
        Refund.objects.filter(pk=self.late_refund.pk).update(created_at=END)
        first, second, late = StockMovement.objects.filter(kind=MovementKind.COUNT).order_by("pk")
        StockMovement.objects.filter(pk=first.pk).update(created_at=at(5, 10))
        StockMovement.objects.filter(pk=second.pk).update(created_at=at(7, 23, 59, 59))
        StockMovement.objects.filter(pk=late.pk).update(created_at=START - timedelta(seconds=1))


@pytest.fixture
def week(db) -> Week:
    return Week()


# The API's OpenAPI example (oms.api.kpis.EXAMPLE) is this week's output with some groups cut
# short: the groups it shows whole are taken from it, so the documented figures are the computed ones.
SHOWN = EXAMPLE["kpis"]
EXPECTED = {
    "inventory_accuracy": SHOWN["inventory_accuracy"],
    "orders_by_channel": {
        "app": {"orders": 2, "revenue": {"USD": "5.00"}},  # O4 is cancelled: no revenue
        "web": {"orders": 2, "revenue": {"USD": "58.00"}},
    },
    # in each channel's own currency; O4 (app) is cancelled: neither in the sales nor the average
    "sales_by_channel": {
        "app": {"currency": "USD", "orders": 2, "sales": "5.00", "average_order": "5.00"},
        "web": {"currency": "USD", "orders": 2, "sales": "58.00", "average_order": "29.00"},
    },
    "orders_by_day": [
        {"date": "2025-03-03", "channel": "app", "orders": 1, "revenue": {"USD": "5.00"}},
        {"date": "2025-03-03", "channel": "web", "orders": 1, "revenue": {"USD": "50.00"}},
        {"date": "2025-03-04", "channel": "app", "orders": 1, "revenue": {"USD": "0.00"}},
        {"date": "2025-03-04", "channel": "web", "orders": 1, "revenue": {"USD": "8.00"}},
    ],
    "order_status_mix": {
        "received": 0,
        "allocated": 1,
        "in_fulfillment": 0,
        "completed": 2,
        "backordered": 0,
        "on_hold": 0,
        "cancelled": 1,
        "partially_cancelled": 0,
    },
    # O1 and O3 are filled without a backorder; O2 waited after the rejection
    "fill_rate": SHOWN["fill_rate"],
    "split_shipment_rate": SHOWN["split_shipment_rate"],
    # to_allocation: 30, 60, 90, 120 s: p50 = 75, p90 = 90 + 0.7 * 30
    "cycle_times": SHOWN["cycle_times"],
    "pickup": SHOWN["pickup"],
    "ship_from_store": SHOWN["ship_from_store"],
    "rejections": {
        **SHOWN["rejections"],  # the example's by_location lists st-a alone
        "by_location": {
            "st-a": {"kind": "store", "fulfillment_orders": 2, "rejected": 1, "rate": 0.5},
            "st-b": {"kind": "store", "fulfillment_orders": 2, "rejected": 0, "rate": 0.0},
            "wh-main": {"kind": "warehouse", "fulfillment_orders": 2, "rejected": 0, "rate": 0.0},
        },
    },
    "return_rate": {
        "units_fulfilled": 4,
        "units_returned": 1,
        "rate": 0.25,
        "by_reason": {
            "wrong_size": {"units": 1, "rate": 0.25},
            "wrong_item": {"units": 0, "rate": 0.0},
            "damaged": {"units": 0, "rate": 0.0},  # that return was cancelled
            "defective": {"units": 0, "rate": 0.0},
            "not_as_described": {"units": 0, "rate": 0.0},
            "changed_mind": {"units": 0, "rate": 0.0},
            "late_delivery": {"units": 0, "rate": 0.0},
            "other": {"units": 0, "rate": 0.0},
        },
    },
    "refunds": SHOWN["refunds"],
}


def test_every_kpi_over_the_week(week):
    assert kpis_compute(start=START, end=END) == EXPECTED


def test_kpis_are_registered_in_app_order(week):
    assert list(kpis_compute(start=START, end=END)) == list(EXPECTED)


def test_an_empty_period_has_zeros_and_no_rates(week):
    kpis = kpis_compute(start=END + timedelta(days=30), end=END + timedelta(days=31))
    assert kpis["orders_by_channel"] == {}
    assert kpis["sales_by_channel"] == {}
    assert kpis["orders_by_day"] == []
    assert kpis["fill_rate"]["unit_fill_rate"] is None
    assert kpis["cycle_times"]["to_ship"] == {"count": 0, "p50_seconds": None, "p90_seconds": None}
    assert kpis["inventory_accuracy"]["accuracy"] is None
    assert kpis["refunds"] == {"count": 0, "amount": {}}


def test_returns_count_requested_units_received_units_once_closed_and_nothing_once_cancelled(week):
    """A fresh order today: 2 SHIRT shipped, both sent back as defective."""
    order = week.place(week.web, ("SHIRT", 2, "10.00"))
    fulfillment.route_order(order_id=order.pk)
    [fo] = week.fos(order)
    week.ship(fo)
    rma = returns.return_create(
        order_id=order.pk,
        method="mail",
        location_code="wh-main",
        lines=[ReturnLineInput(order_line_id=order.lines.get().pk, quantity=2, reason="defective")],
        actor=MANAGER,
    ).rma
    now = timezone.now()
    today = {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1)}

    def defective() -> dict:
        return kpis_compute(**today)["return_rate"]["by_reason"]["defective"]

    assert defective() == {"units": 2, "rate": 1.0}
    returns.return_receive(
        return_id=rma.pk,
        lines=[ReceiveLineInput(return_line_id=rma.lines.get().pk, quantity=1, disposition="damaged")],
        actor=MANAGER,
    )
    assert defective() == {"units": 2, "rate": 1.0}  # one more on its way
    returns.return_close(return_id=rma.pk, actor=MANAGER)
    assert defective() == {"units": 1, "rate": 0.5}  # the other never came
    # The cancelled JEANS return of the week counts for nothing.
    assert kpis_compute(start=START, end=END)["return_rate"]["by_reason"]["damaged"]["units"] == 0


# --- The registry and the helpers ---------------------------------------------------------------------


def test_a_registered_kpi_is_computed_with_the_period(monkeypatch, db):
    seen = {}

    def probe(*, start, end):
        seen.update(start=start, end=end)
        return {"ok": True}

    monkeypatch.setitem(kpi_module._REGISTRY, "probe", probe)
    kpi_register("probe", probe)  # the same function again: a no-op
    assert kpis_compute(start=START, end=END)["probe"] == {"ok": True}
    assert seen == {"start": START, "end": END}


def test_another_function_under_a_taken_name_is_refused(db):
    kpis_compute(start=START, end=END)  # registers every app's KPIs
    with pytest.raises(ValueError, match="already registered"):
        kpi_register("fill_rate", lambda *, start, end: 0)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7], 0.5, 7.0),
        ([7], 0.9, 7.0),
        ([1, 2, 3, 4], 0.5, 2.5),
        ([4, 1, 3, 2], 0.9, 3.7),
        ([10, 20], 0.0, 10.0),
        ([10, 20], 1.0, 20.0),
        ([30, 60, 90, 120], 0.9, 111.0),
        ([1, 1, 1, 100], 0.5, 1.0),
    ],
)
def test_percentile_interpolates_like_percentile_cont(values, fraction, expected):
    result = percentile(values, fraction)
    assert result == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_percentile_refuses_a_fraction_outside_0_1(fraction):
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1, 2], fraction)


def test_duration_percentiles_skip_rows_without_both_times(week):
    Order.objects.filter(pk=week.o2.pk).update(allocated_at=None)
    result = duration_percentiles(
        Order.objects.filter(created_at__gte=START, created_at__lt=END),
        since="created_at",
        until="allocated_at",
    )
    assert result == {"count": 3, "p50_seconds": 60.0, "p90_seconds": 84.0}


def test_postgresql_computes_percentiles_in_the_database(week):
    with CaptureQueriesContext(connection) as queries:
        kpis_compute(start=START, end=END)
    in_database = any("PERCENTILE_CONT" in q["sql"] for q in queries.captured_queries)
    assert in_database is (connection.vendor == "postgresql")


def test_period_defaults_to_the_last_30_days_both_inclusive():
    today = date(2025, 3, 31)
    date_from, date_to, start, end = kpi_period(today=today)
    assert (date_from, date_to) == (date(2025, 3, 2), today)
    assert start == datetime(2025, 3, 2, tzinfo=UTC)
    assert end == datetime(2025, 4, 1, tzinfo=UTC)
    assert kpi_period(date_to=date(2025, 1, 30))[0] == date(2025, 1, 1)
    assert kpi_period(date_from=date(2025, 3, 5), date_to=date(2025, 3, 5))[2:] == (
        datetime(2025, 3, 5, tzinfo=UTC),
        datetime(2025, 3, 6, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("date_from", "date_to", "code"),
    [
        (date(2025, 3, 8), date(2025, 3, 7), "invalid_period"),
        (date(2024, 1, 1), date(2025, 1, 1), "period_too_long"),
        (date(9999, 12, 31), date(9999, 12, 31), "invalid_period"),
    ],
)
def test_period_refusals(date_from, date_to, code):
    with pytest.raises(InvalidInput) as excinfo:
        kpi_period(date_from=date_from, date_to=date_to)
    assert excinfo.value.code == code


# --- The API ---------------------------------------------------------------------------------------------


def test_manager_reads_the_kpis_of_a_period(week, manager):
    response = manager.api.get("/api/v1/kpis", WEEK)
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2025-03-01"
    assert body["to"] == "2025-03-07"
    assert body["kpis"] == EXPECTED


def test_to_is_inclusive(week, manager):
    body = manager.api.get("/api/v1/kpis", {"from": "2025-03-08", "to": "2025-03-08"}).json()
    assert body["kpis"]["orders_by_channel"] == {"web": {"orders": 1, "revenue": {"USD": "10.00"}}}
    assert body["kpis"]["refunds"] == {"count": 1, "amount": {"USD": "5.00"}}
    body = manager.api.get("/api/v1/kpis/", {"from": "2025-03-04", "to": "2025-03-04"}).json()
    assert sum(row["orders"] for row in body["kpis"]["orders_by_day"]) == 2


def test_default_period_is_the_last_30_days(manager):
    today = timezone.localdate()
    body = manager.api.get("/api/v1/kpis").json()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    body = manager.api.get("/api/v1/kpis", {"to": "2025-03-30"}).json()
    assert (body["from"], body["to"]) == ("2025-03-01", "2025-03-30")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"from": "2025-03-08", "to": "2025-03-07"}, "invalid_period"),
        ({"from": "2024-01-01", "to": "2025-06-30"}, "period_too_long"),
        ({"from": "2025-13-01"}, "invalid_input"),
        ({"to": "yesterday"}, "invalid_input"),
        ({"from": "03/01/2025"}, "invalid_input"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "invalid_period"),
    ],
)
def test_bad_dates_answer_422_in_the_house_format(manager, query, code):
    response = manager.api.get("/api/v1/kpis", query)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"code", "message", "extra"}


def test_only_managers_read_kpis(db, make_associate, web_client, anon):
    store = StoreFactory(code="st-x")
    associate = make_associate("ann", store)
    for client, status in ((associate.api, 403), (web_client.api, 403), (anon, 401)):
        response = client.get("/api/v1/kpis")
        assert response.status_code == status
        assert response.json()["code"] in {"permission_denied", "not_authenticated"}


# --- The admin page -----------------------------------------------------------------------------------


def admin_login(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_manager_sees_the_kpi_page_with_local_charts(week, manager):
    response = admin_login("manager").get("/admin/kpis/", WEEK)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<canvas") >= 6
    assert "/static/oms/vendor/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    assert 'id="kpi-chart-data"' in html
    assert 'value="2025-03-01"' in html
    assert "57.1%" in html  # fill rate
    charts = response.context["charts"]
    days = charts["orders_by_day"]
    assert days["labels"][0] == "2025-03-01"
    assert len(days["labels"]) == 7
    assert days["datasets"] == [
        {"label": "app", "data": [0, 0, 1, 1, 0, 0, 0]},
        {"label": "web", "data": [0, 0, 1, 1, 0, 0, 0]},
    ]
    assert charts["cycle_times"]["datasets"][0]["data"] == [0.02, 1.5, 0.75, 24.0]
    assert response.context["kpis"] == EXPECTED


def test_the_kpi_page_shows_bad_dates_and_falls_back_to_the_default(manager):
    response = admin_login("manager").get("/admin/kpis/", {"from": "2025-03-08", "to": "2025-03-07"})
    assert response.status_code == 200
    assert "&#x27;from&#x27; must not be after &#x27;to&#x27;" in response.content.decode()
    assert response.context["date_to"] == timezone.localdate()
    response = admin_login("manager").get("/admin/kpis/", {"from": "not-a-date"})
    assert response.status_code == 200
    assert response.context["error"]


def test_associates_are_refused_the_kpi_page_and_anonymous_users_sent_to_login(db, make_associate):
    make_associate("ann", StoreFactory(code="st-x"))
    assert admin_login("ann").get("/admin/kpis/").status_code == 403
    response = Client().get("/admin/kpis/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_chart_js_is_served_locally_with_its_licence():
    path = finders.find("oms/vendor/chart.umd.min.js")
    assert path is not None
    with open(path, encoding="utf-8") as handle:
        head = handle.read(300)
    assert "Chart.js v4" in head
    assert "MIT" in head


def test_the_admin_index_links_the_kpi_dashboard_for_managers(client, manager):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="manager"))
    page = client.get("/admin/")
    assert page.status_code == 200
    assert b"/admin/kpis/" in page.content
