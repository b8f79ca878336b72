"""Routing tests run against a real Celery worker on PostgreSQL + Redis (CI), and eagerly in
process on SQLite. ``router.wait_for`` polls the database until the worker has done its part."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection

from fulfillment.models import FulfillmentOrder
from inventory.models import Location
from oms.actors import Actor
from oms.choices import ChannelKind
from orders.models import Order
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory
from tests.worker import wait_idle

SYSTEM = Actor.system("tests")


@dataclass
class Router:
    worker: object | None

    @property
    def real(self) -> bool:
        return self.worker is not None

    def wait_for(self, condition: Callable[[], object], *, timeout: float = 30.0, what: str = "") -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
            time.sleep(0.05)


@pytest.fixture
def router(request, transactional_db) -> Iterator[Router]:
    if connection.vendor != "postgresql":
        yield Router(worker=None)
        return
    request.getfixturevalue("celery_broker")
    worker = request.getfixturevalue("session_worker")
    yield Router(worker=worker)
    wait_idle(worker)


def point(lat: str, lon: str) -> dict:
    return {"latitude": Decimal(lat), "longitude": Decimal(lon)}


def warehouse(code: str, lat: str, lon: str, **kw) -> Location:
    return LocationFactory(code=code, **point(lat, lon), **kw)


def store(code: str, lat: str, lon: str, **kw) -> Location:
    return StoreFactory(code=code, **point(lat, lon), **kw)


def place(
    *lines: tuple[str, int],
    method: str = "ship",
    at: tuple[str, str] = ("10.7769", "106.7009"),
    pickup: str = "",
    channel: str = "web",
    allow_backorder: bool = False,
    email: str = "ann@example.com",
) -> Order:
    ch = ChannelFactory(code=channel, kind=ChannelKind.WEB)
    for sku, _ in lines:
        ProductFactory(sku=sku)
    data = OrderInput(
        channel=ch,
        method=method,
        lines=[LineInput(sku=sku, quantity=q, unit_price=Decimal("10")) for sku, q in lines],
        currency="USD",
        customer=CustomerInput(email=email, name="Ann"),
        pickup_location=pickup,
        shipping_address={"line1": "1 Le Loi", "city": "HCMC", "country": "VN"} if method == "ship" else {},
        latitude=Decimal(at[0]) if method == "ship" else None,
        longitude=Decimal(at[1]) if method == "ship" else None,
        allow_backorder=allow_backorder,
    )
    return order_place(data=data, actor=SYSTEM).order


def fulfillment_orders(order: Order, **filters) -> list[FulfillmentOrder]:
    return list(
        FulfillmentOrder.objects.filter(order=order, **filters).select_related("location").order_by("pk")
    )


def routed(router: Router, order: Order, *, count: int = 1, **filters) -> list[FulfillmentOrder]:
    """Wait until the order has ``count`` fulfilment orders matching ``filters``."""
    return router.wait_for(  # type: ignore[return-value]
        lambda: fos if len(fos := fulfillment_orders(order, **filters)) >= count else None,
        what=f"{count} fulfilment order(s) {filters} for {order.number}",
    )


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)
