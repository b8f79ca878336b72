"""Zero oversell under real concurrency (PostgreSQL): many buyers race for the last units.

Every buyer runs in its own thread with its own database connection; a barrier releases them
together so their transactions overlap on the same stock rows."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F, Sum
from rest_framework.test import APIClient

from inventory.errors import InsufficientStock
from inventory.models import Location, Product, StockLevel, StockMovement
from oms.actors import Actor
from oms.choices import ChannelKind
from oms.models import Channel, Customer
from oms.services import api_client_create
from orders.choices import ReservationStatus
from orders.models import Order, Reservation
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from tests.conftest import stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

from .conftest import ship_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 50
BARRIER_TIMEOUT = 60

ADDRESS = {"name": "Buyer", "line1": "1 Le Loi", "city": "Ho Chi Minh City", "country": "VN"}
LATITUDE, LONGITUDE = Decimal("10.776900"), Decimal("106.700900")


def run_together(count: int, buy: Callable[[int], None]) -> list[BaseException]:
    """Run ``buy(i)`` in ``count`` threads released at once; return what they raised unexpectedly."""
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            buy(index)
        except BaseException as exc:  # reported by the test, never lost in a thread
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BARRIER_TIMEOUT * 3)
    assert not any(thread.is_alive() for thread in threads), "a buyer thread hung"
    return errors


def assert_stock_consistent() -> None:
    """Every stock row within its constraints, and the ledger sums equal the counters."""
    ledger = {
        row["stock_level"]: row
        for row in StockMovement.objects.values("stock_level").annotate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
        )
    }
    for level in StockLevel.objects.all():
        assert level.reserved >= 0, level
        assert level.reserved <= level.on_hand, level
        assert ledger[level.pk]["on_hand"] == level.on_hand, level
        assert ledger[level.pk]["reserved"] == level.reserved, level


def held_units(reservations) -> int:
    """Units of these reservations that were not given back to sale."""
    held = reservations.exclude(status=ReservationStatus.RELEASED).aggregate(total=Sum("quantity"))
    return held["total"] or 0


def channel_actor(code: str = "web") -> tuple[Channel, Actor]:
    channel = ChannelFactory(code=code, kind=ChannelKind.WEB)
    client, _key = api_client_create(name=f"{code}-buyers", channel_code=code)
    return channel, Actor.for_api_client(client)


def order_input(channel: Channel, sku: str, quantity: int, buyer: int) -> OrderInput:
    return OrderInput(
        channel=channel,
        method="ship",
        currency="USD",
        customer=CustomerInput(email=f"buyer{buyer}@example.com", name=f"Buyer {buyer}"),
        shipping_address=ADDRESS,
        latitude=LATITUDE,
        longitude=LONGITUDE,
        lines=[LineInput(sku=sku, quantity=quantity, unit_price=Decimal("10.00"))],
    )


@pytest.fixture
def last_ten() -> tuple[Product, Location]:
    product = ProductFactory(sku="LAST-TEN")
    warehouse = LocationFactory(
        code="wh-last", latitude=Decimal("10.800000"), longitude=Decimal("106.650000")
    )
    stock_put(product, warehouse, 10)
    return product, warehouse


def test_fifty_buyers_of_the_last_ten_units_through_the_service(last_ten):
    product, warehouse = last_ten
    channel, actor = channel_actor()
    accepted: list[int] = []
    refused: list[InsufficientStock] = []
    lock = threading.Lock()

    def buy(index: int) -> None:
        try:
            result = order_place(data=order_input(channel, product.sku, 1, index), actor=actor)
        except InsufficientStock as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                accepted.append(result.order.pk)

    errors = run_together(BUYERS, buy)

    assert errors == []
    assert len(accepted) == 10
    assert len(refused) == BUYERS - 10
    assert {(exc.status_code, exc.code) for exc in refused} == {(409, "insufficient_stock")}
    level = StockLevel.objects.get(product=product, location=warehouse)
    assert level.reserved == 10
    assert level.on_hand == 10
    assert Order.objects.count() == 10
    assert sorted(Order.objects.values_list("pk", flat=True)) == sorted(accepted)
    assert held_units(Reservation.objects.all()) == 10
    assert held_units(Reservation.objects.filter(order_id__in=accepted)) == 10
    assert_stock_consistent()


def test_fifty_buyers_of_the_last_ten_units_through_the_api(last_ten, web_client):
    product, warehouse = last_ten
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def buy(index: int) -> None:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {web_client.key}")
        body = ship_body((product.sku, 1))
        body["customer"] = {"email": f"http-buyer{index}@example.com", "name": f"Buyer {index}"}
        response = api.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=f"race-{index}")
        with lock:
            answers.append((response.status_code, response.json()))

    errors = run_together(BUYERS, buy)

    assert errors == []
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 10, 409: BUYERS - 10}, answers
    refusals = [data for status, data in answers if status == 409]
    assert {data["code"] for data in refusals} == {"insufficient_stock"}
    assert all(data["extra"]["skus"] == [product.sku] for data in refusals)
    created = sorted(data["id"] for status, data in answers if status == 201)
    assert sorted(Order.objects.values_list("pk", flat=True)) == created
    assert all(
        sum(r["quantity"] for r in data["reservations"]) == 1 for status, data in answers if status == 201
    )
    level = StockLevel.objects.get(product=product, location=warehouse)
    assert level.reserved == 10
    assert_stock_consistent()


def test_two_locations_and_mixed_quantities_never_oversell_and_sell_out():
    """Seven units in a warehouse and six in a store, fifty buyers of one or two units each (far
    more demand than supply). A buyer who is refused while the shop still shows enough units tries
    again, as a shopper would (a 409 can come from losing a race for the last units of a row); so
    every buyer who gives up saw fewer units than they wanted, and at most one unit is left."""
    product = ProductFactory(sku="MIXED")
    warehouse = LocationFactory(
        code="wh-mixed", latitude=Decimal("10.800000"), longitude=Decimal("106.650000")
    )
    store = StoreFactory(code="st-mixed", latitude=Decimal("10.776000"), longitude=Decimal("106.700000"))
    stock_put(product, warehouse, 7)
    stock_put(product, store, 6)
    supply = 13
    channel, actor = channel_actor()
    rng = random.Random(20240604)
    wanted = [rng.randint(1, 2) for _ in range(BUYERS)]
    assert sum(wanted) > supply + 2  # demand well beyond supply
    assert 1 in wanted
    accepted: dict[int, int] = {}  # buyer -> units held
    gave_up: dict[int, int] = {}  # buyer -> units they still saw for sale
    exhausted: list[int] = []
    lock = threading.Lock()

    def available() -> int:
        total = StockLevel.objects.filter(product=product).aggregate(
            units=Sum(F("on_hand") - F("reserved") - F("safety_stock"))
        )["units"]
        return int(total or 0)

    def buy(index: int) -> None:
        for _attempt in range(30):
            try:
                result = order_place(
                    data=order_input(channel, product.sku, wanted[index], index), actor=actor
                )
            except InsufficientStock:
                left = available()
                if left < wanted[index]:
                    with lock:
                        gave_up[index] = left
                    return
            else:
                with lock:
                    accepted[index] = sum(r.quantity for r in result.reservations)
                return
        with lock:
            exhausted.append(index)

    errors = run_together(BUYERS, buy)

    assert errors == []
    assert exhausted == []
    assert all(accepted[i] == wanted[i] for i in accepted)  # no partial orders without backorder
    sold = sum(accepted.values())
    assert sold <= supply
    levels = list(StockLevel.objects.filter(product=product))
    assert sum(level.reserved for level in levels) == sold
    assert held_units(Reservation.objects.filter(product=product)) == sold
    assert Order.objects.count() == len(accepted)
    assert gave_up  # demand exceeded supply
    assert supply - sold <= 1
    assert supply - sold < min(wanted[i] for i in gave_up)
    assert_stock_consistent()


def test_multi_line_orders_lock_their_rows_in_one_order_and_never_deadlock():
    """Forty buyers each want one unit of two SKUs, listed in either order: every order's rows are
    locked in pk order before the one reserving UPDATE, so no two transactions wait on each other
    crosswise (PostgreSQL would abort one with a deadlock error, and it would surface here)."""
    warehouse = LocationFactory(
        code="wh-pair", latitude=Decimal("10.800000"), longitude=Decimal("106.650000")
    )
    first, second = ProductFactory(sku="PAIR-A"), ProductFactory(sku="PAIR-B")
    stock_put(first, warehouse, 15)
    stock_put(second, warehouse, 15)
    channel, actor = channel_actor()
    accepted: list[int] = []
    refused: list[InsufficientStock] = []
    lock = threading.Lock()

    def buy(index: int) -> None:
        skus = [first.sku, second.sku] if index % 2 else [second.sku, first.sku]
        data = OrderInput(
            channel=channel,
            method="ship",
            currency="USD",
            customer=CustomerInput(email=f"pair{index}@example.com"),
            shipping_address=ADDRESS,
            latitude=LATITUDE,
            longitude=LONGITUDE,
            lines=[LineInput(sku=sku, quantity=1, unit_price=Decimal("5.00")) for sku in skus],
        )
        try:
            result = order_place(data=data, actor=actor)
        except InsufficientStock as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                accepted.append(result.order.pk)

    errors = run_together(40, buy)

    assert errors == []
    assert len(accepted) == 15
    assert len(refused) == 25
    assert {level.reserved for level in StockLevel.objects.filter(location=warehouse)} == {15}
    assert_stock_consistent()


def test_the_reserving_statement_locks_every_row_before_it_updates_one():
    """The plan PostgreSQL runs: the pk-ordered FOR UPDATE sits in a one-time filter of the UPDATE,
    so it is evaluated (every row locked, in pk order) before the UPDATE reads its first row."""
    from inventory.services import StockLine, stock_reserve

    warehouse = LocationFactory(code="wh-plan")
    levels = [stock_put(ProductFactory(sku=f"PLAN-{i}"), warehouse, 5) for i in range(3)]
    statements: list[str] = []

    def capture(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith("WITH want"):
            statements.append(sql)
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
                statements.append("\n".join(row[0] for row in cursor.fetchall()))
        return execute(sql, params, many, context)

    actor = Actor.system("test")
    lines = [StockLine(level.pk, level.product_id, level.location_id, 1) for level in reversed(levels)]
    with connection.execute_wrapper(capture):
        from django.db import transaction

        with transaction.atomic():
            stock_reserve(lines=lines, actor=actor, reference="plan")
    assert len(statements) == 2, statements
    plan = statements[1]
    assert "One-Time Filter" in plan, plan
    assert "LockRows" in plan, plan
    assert {level.reserved for level in StockLevel.objects.filter(location=warehouse)} == {1}


def test_one_new_customer_ordering_from_many_threads_at_once_is_one_row():
    """The customer row is written with INSERT ... ON CONFLICT DO NOTHING, then read: orders racing
    for the same new e-mail all land, on one customer, without an IntegrityError or a savepoint."""
    product = ProductFactory(sku="NEW-CUSTOMER")
    stock_put(product, LocationFactory(code="wh-new"), 100)
    channel, actor = channel_actor()
    placed: list[int] = []
    lock = threading.Lock()

    def buy(index: int) -> None:
        data = dataclasses.replace(
            order_input(channel, product.sku, 1, index),
            customer=CustomerInput(email="New.Buyer@Example.com ", name=f"Thread {index}"),
        )
        result = order_place(data=data, actor=actor)
        with lock:
            placed.append(result.order.customer_id)

    errors = run_together(20, buy)
    assert errors == []
    assert len(placed) == 20
    customer = Customer.objects.get()
    assert set(placed) == {customer.pk}
    assert customer.email_normalized == "new.buyer@example.com"
    assert customer.name.startswith("Thread ")
