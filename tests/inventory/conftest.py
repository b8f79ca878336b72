"""Fixtures of the inventory API tests (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum

from inventory.models import Location, Product, StockLevel, StockMovement
from inventory.services import StockLine, stock_reserve
from tests.conftest import SYSTEM, stock_put
from tests.factories import ProductFactory, StoreFactory


@pytest.fixture
def other_store(db) -> Location:
    return StoreFactory(code="store-riverside", latitude="10.800000", longitude="106.700000")


def reserve(level: StockLevel, quantity: int, *, reference: str = "order:test") -> None:
    """Hold units of a stock row through the service (so the ledger matches)."""
    stock_reserve(
        lines=[
            StockLine(
                stock_level_id=level.pk,
                product_id=level.product_id,
                location_id=level.location_id,
                quantity=quantity,
            )
        ],
        actor=SYSTEM,
        reference=reference,
    )


def db_state() -> list[tuple[Any, ...]]:
    """Everything the inventory endpoints may change, to assert that a refused request changed nothing."""
    return [
        *StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved", "safety_stock"),
        ("movements", StockMovement.objects.count()),
        ("locations", *Location.objects.order_by("pk").values_list("code", "name", "active")),
        ("products", *Product.objects.order_by("pk").values_list("sku", "name", "price", "active")),
    ]


def ledger_matches(level: StockLevel) -> bool:
    totals = StockMovement.objects.filter(stock_level=level).aggregate(
        on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
    )
    level.refresh_from_db()
    return (totals["on_hand"] or 0, totals["reserved"] or 0) == (level.on_hand, level.reserved)


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Events published by the services (captured at publish time, committed or not)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def capture(*, topic: str, payload: dict[str, Any]) -> None:
        calls.append((topic, payload))

    monkeypatch.setattr("inventory.services.adjustments.publish", capture)
    monkeypatch.setattr("inventory.snapshots.publish", capture)
    return calls


@pytest.fixture
def make_stock() -> Callable[..., StockLevel]:
    def make(sku: str, location: Location, on_hand: int, *, reserved: int = 0, safety: int = 0) -> StockLevel:
        product = ProductFactory(sku=sku)
        if on_hand:
            level = stock_put(product, location, on_hand)
        else:
            level = StockLevel.objects.create(product=product, location=location)
        if reserved:
            reserve(level, reserved)
        if safety:
            StockLevel.objects.filter(pk=level.pk).update(safety_stock=safety)
        level.refresh_from_db()
        return level

    return make
