"""Transfer orders: the ledger at both ends, the transition table, who may act where, the API, ATP's
units in transit, and two receipts racing for the same units (PostgreSQL)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from inventory.choices import MovementKind, TransferStatus
from inventory.errors import InsufficientStock, TransferOverReceipt
from inventory.models import StockLevel, StockMovement, TransferLine, TransferOrder
from inventory.selectors import availability_for_skus
from inventory.transfers.services import (
    TransferItem,
    transfer_cancel,
    transfer_create,
    transfer_receive,
    transfer_ship,
)
from oms.errors import InvalidTransition
from tests.conftest import SYSTEM, stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

from .conftest import ledger_matches

TRANSFERS = "/api/v1/transfers/"


@pytest.fixture
def network(db):
    wh = LocationFactory(code="wh-src")
    st = StoreFactory(code="st-dst", latitude=Decimal("10.770000"), longitude=Decimal("106.700000"))
    product = ProductFactory(sku="TR-A")
    stock_put(product, wh, 10)
    return wh, st, product


def _level(product, location) -> StockLevel:
    return StockLevel.objects.get(product=product, location=location)


def _create(wh, st, product, quantity=4) -> TransferOrder:
    return transfer_create(
        source=wh, destination=st, items=[TransferItem(product=product, quantity=quantity)], actor=SYSTEM
    )


def test_create_reserves_ship_moves_out_receive_moves_in(network):
    wh, st, product = network
    transfer = _create(wh, st, product)
    assert transfer.number == f"TR-{transfer.pk:06d}"
    source = _level(product, wh)
    assert (source.on_hand, source.reserved) == (10, 4)  # held: cannot be sold meanwhile

    transfer_ship(transfer_id=transfer.pk, actor=SYSTEM)
    source.refresh_from_db()
    assert (source.on_hand, source.reserved) == (6, 0)
    out = StockMovement.objects.get(stock_level=source, kind=MovementKind.TRANSFER_OUT)
    assert (out.on_hand_delta, out.reserved_delta, out.reference) == (-4, -4, f"transfer:{transfer.number}")

    transfer_receive(transfer_id=transfer.pk, actor=SYSTEM, items=[TransferItem(product=product, quantity=1)])
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PARTIALLY_RECEIVED
    transfer_receive(transfer_id=transfer.pk, actor=SYSTEM)  # the rest
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    assert transfer.received_at is not None
    dest = _level(product, st)
    assert (dest.on_hand, dest.reserved) == (4, 0)
    assert list(
        StockMovement.objects.filter(stock_level=dest, kind=MovementKind.TRANSFER_IN).values_list(
            "on_hand_delta", flat=True
        )
    ) == [1, 3]
    assert ledger_matches(source)
    assert ledger_matches(dest)


def test_never_more_received_than_shipped_nor_received_twice(network):
    wh, st, product = network
    transfer = _create(wh, st, product, quantity=3)
    with pytest.raises(InvalidTransition):
        transfer_receive(transfer_id=transfer.pk, actor=SYSTEM)  # a draft has nothing on the road
    transfer_ship(transfer_id=transfer.pk, actor=SYSTEM)
    with pytest.raises(TransferOverReceipt):
        transfer_receive(
            transfer_id=transfer.pk, actor=SYSTEM, items=[TransferItem(product=product, quantity=4)]
        )
    transfer_receive(transfer_id=transfer.pk, actor=SYSTEM, idempotency_key="dock-1")
    transfer_receive(transfer_id=transfer.pk, actor=SYSTEM, idempotency_key="dock-1")  # a no-op
    assert _level(product, st).on_hand == 3
    with pytest.raises(InvalidTransition):
        transfer_receive(transfer_id=transfer.pk, actor=SYSTEM, idempotency_key="dock-2")


def test_cancel_only_before_shipping_and_releases(network):
    wh, st, product = network
    transfer = _create(wh, st, product)
    transfer_cancel(transfer_id=transfer.pk, actor=SYSTEM, reason="not needed")
    assert _level(product, wh).reserved == 0
    with pytest.raises(InvalidTransition):
        transfer_ship(transfer_id=transfer.pk, actor=SYSTEM)
    shipped = _create(wh, st, product)
    transfer_ship(transfer_id=shipped.pk, actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        transfer_cancel(transfer_id=shipped.pk, actor=SYSTEM)


def test_create_refuses_what_the_source_cannot_hold(network):
    wh, st, product = network
    with pytest.raises(InsufficientStock):
        _create(wh, st, product, quantity=11)
    assert not TransferOrder.objects.exists()


def test_in_transit_is_future_supply_never_available(network):
    wh, st, product = network
    transfer = _create(wh, st, product, quantity=4)
    transfer_ship(transfer_id=transfer.pk, actor=SYSTEM)
    (sku,) = availability_for_skus(skus=["TR-A"]).results
    assert [(loc.location, loc.available) for loc in sku.locations] == [("wh-src", 6)]
    assert [(inc.location, inc.quantity) for inc in sku.incoming] == [("st-dst", 4)]
    assert sku.incoming[0].expected_on == transfer.expected_on.isoformat()
    assert sku.available == 6  # the store's units on the road are not sold for shipping


# --- API ---------------------------------------------------------------------------------------------


def test_api_flow_and_permissions(network, manager, make_associate):
    wh, st, product = network
    at_store = make_associate("store-lan", st)
    at_wh = make_associate("wh-minh", wh)
    body = {"source": "wh-src", "destination": "st-dst", "lines": [{"sku": "TR-A", "quantity": 2}]}
    refused = at_store.api.post(TRANSFERS, body, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "location_not_permitted")
    created = at_wh.api.post(TRANSFERS, body, format="json")
    assert created.status_code == 201, created.json()
    tid = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert created.json()["lines"] == [
        {"sku": "TR-A", "quantity": 2, "shipped": 0, "received": 0, "in_transit": 0}
    ]

    assert at_store.api.post(f"{TRANSFERS}{tid}/ship/", {}, format="json").status_code == 403
    shipped = at_wh.api.post(f"{TRANSFERS}{tid}/ship/", {"carrier": "GHN"}, format="json")
    assert shipped.json()["status"] == "shipped"
    assert at_wh.api.post(f"{TRANSFERS}{tid}/receive/", {}, format="json").status_code == 403
    again = at_wh.api.post(f"{TRANSFERS}{tid}/ship/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")

    over = at_store.api.post(
        f"{TRANSFERS}{tid}/receive/", {"lines": [{"sku": "TR-A", "quantity": 3}]}, format="json"
    )
    assert (over.status_code, over.json()["code"]) == (409, "transfer_over_receipt")
    received = at_store.api.post(f"{TRANSFERS}{tid}/receive/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert received.json()["status"] == "received", received.json()
    repeat = at_store.api.post(f"{TRANSFERS}{tid}/receive/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert repeat.status_code == 200
    assert _level(product, st).on_hand == 2

    assert manager.api.get(f"{TRANSFERS}{tid}/").json()["number"] == received.json()["number"]
    assert [t["id"] for t in at_store.api.get(TRANSFERS).json()["results"]] == [tid]
    outsider = make_associate("elsewhere", LocationFactory(code="wh-other"))
    missing = outsider.api.get(f"{TRANSFERS}{tid}/")
    assert (missing.status_code, missing.json()["code"]) == (404, "transfer_not_found")
    bad = manager.api.post(TRANSFERS, {**body, "lines": [{"sku": "NOPE", "quantity": 1}]}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (422, "unknown_sku")


def test_api_answers_in_transit_in_availability(network, web_client):
    wh, st, product = network
    transfer = _create(wh, st, product, quantity=3)
    transfer_ship(transfer_id=transfer.pk, actor=SYSTEM)
    stock_put(product, st, 1)
    (entry,) = web_client.api.get("/api/v1/availability/?sku=TR-A").json()["results"]
    store = next(loc for loc in entry["locations"] if loc["location"] == "st-dst")
    assert (store["available"], store["in_transit"]) == (1, 3)
    assert entry["incoming"] == [
        {"location": "st-dst", "quantity": 3, "expected_on": transfer.expected_on.isoformat()}
    ]


# --- Concurrency (PostgreSQL) ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_key", [True, False])
def test_a_transfer_received_twice_concurrently_adds_the_units_once(same_key):
    wh, st = LocationFactory(code="wh-race"), StoreFactory(code="st-race")
    product = ProductFactory(sku="RACE")
    stock_put(product, wh, 5)
    transfer = _create(wh, st, product, quantity=5)
    transfer_ship(transfer_id=transfer.pk, actor=SYSTEM)
    barrier = threading.Barrier(4, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def receive(index: int) -> None:
        try:
            barrier.wait()
            key = "dock" if same_key else f"dock-{index}"
            transfer_receive(transfer_id=transfer.pk, actor=SYSTEM, idempotency_key=key)
            result = "ok"
        except (InvalidTransition, TransferOverReceipt) as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=receive, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 4
    level = _level(product, st)
    assert level.on_hand == 5
    assert StockMovement.objects.filter(stock_level=level, kind=MovementKind.TRANSFER_IN).count() == 1
    assert TransferLine.objects.get(transfer=transfer).received == 5
    assert outcomes.count("ok") == (4 if same_key else 1)
    assert ledger_matches(level)
