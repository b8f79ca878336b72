"""POST /api/v1/inventory/snapshots and stock_snapshot_apply: a full count of one location."""

import threading

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from inventory.choices import MovementKind
from inventory.errors import UnknownSku
from inventory.models import Product, StockLevel, StockMovement
from inventory.snapshots import SnapshotBelowReserved, stock_snapshot_apply
from oms.actors import Actor
from oms.errors import PermissionDenied
from tests.conftest import SYSTEM, stock_put
from tests.factories import ProductFactory
from tests.inventory.conftest import db_state, ledger_matches, reserve

pytestmark = pytest.mark.django_db

SNAPSHOT = "/api/v1/inventory/snapshots"


def levels(location) -> dict[str, tuple[int, int]]:
    return {
        sku: (on_hand, reserved)
        for sku, on_hand, reserved in StockLevel.objects.filter(location=location).values_list(
            "product__sku", "on_hand", "reserved"
        )
    }


def test_snapshot_sets_counts_keeps_reservations_and_zeroes_absent_skus(
    manager, warehouse, store, make_stock, published
):
    make_stock("A", warehouse, 10, reserved=4)
    make_stock("B", warehouse, 5)
    make_stock("C", warehouse, 7)  # absent from the count, nothing reserved: goes to 0
    make_stock("D", warehouse, 3)  # counted as it is: unchanged, no ledger row
    make_stock("E", store, 9)  # another location: untouched
    ProductFactory(sku="F")  # not stocked here yet
    published.clear()
    movements_before = StockMovement.objects.count()

    response = manager.api.post(
        SNAPSHOT,
        {
            "location": warehouse.code,
            "reason": "annual count",
            "items": [
                {"sku": "A", "on_hand": 6},
                {"sku": "B", "on_hand": 8},
                {"sku": "D", "on_hand": 3},
                {"sku": "F", "on_hand": 2},
                {"sku": "E", "on_hand": 0},  # counted zero, never stocked here: no row needed
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["location"] == warehouse.code
    assert body["rows_changed"] == 4  # A, B, C, F
    assert body["units_delta"] == (6 - 10) + (8 - 5) + (0 - 7) + 2
    assert body["movements"] == 4
    assert body["reference"].startswith("snapshot:")

    assert levels(warehouse) == {"A": (6, 4), "B": (8, 0), "C": (0, 0), "D": (3, 0), "F": (2, 0)}
    assert levels(store) == {"E": (9, 0)}
    new = StockMovement.objects.filter(pk__gt=0).order_by("pk")[movements_before:]
    assert {(m.product.sku, m.kind, m.expected_on_hand, m.on_hand_after, m.on_hand_delta) for m in new} == {
        ("A", MovementKind.COUNT, 10, 6, -4),
        ("B", MovementKind.COUNT, 5, 8, 3),
        ("C", MovementKind.COUNT, 7, 0, -7),
        ("F", MovementKind.COUNT, 0, 2, 2),
    }
    assert {m.reference for m in new} == {body["reference"]}
    assert {m.reason for m in new} == {"annual count"}
    assert {m.actor_name for m in new} == {"manager"}
    for level in StockLevel.objects.all():
        assert ledger_matches(level)
    raised = sorted(Product.objects.filter(sku__in=["B", "F"]).values_list("pk", flat=True))
    assert published == [("stock.changed", {"location_id": warehouse.pk, "product_ids": raised})]


def test_a_count_below_reserved_is_refused_and_nothing_changes(manager, warehouse, make_stock):
    make_stock("A", warehouse, 10, reserved=4)
    make_stock("B", warehouse, 5)
    before = db_state()
    response = manager.api.post(
        SNAPSHOT,
        {"location": warehouse.code, "items": [{"sku": "A", "on_hand": 3}, {"sku": "B", "on_hand": 9}]},
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "snapshot_below_reserved"
    assert body["extra"]["items"] == [{"sku": "A", "on_hand": 3, "reserved": 4, "in_snapshot": True}]
    assert body["extra"]["count"] == 1
    assert db_state() == before


def test_an_absent_sku_with_reservations_is_refused(manager, warehouse, make_stock):
    make_stock("A", warehouse, 10, reserved=1)
    make_stock("B", warehouse, 5)
    before = db_state()
    response = manager.api.post(
        SNAPSHOT, {"location": warehouse.code, "items": [{"sku": "B", "on_hand": 5}]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["extra"]["items"] == [
        {"sku": "A", "on_hand": 0, "reserved": 1, "in_snapshot": False}
    ]
    assert db_state() == before


def test_unknown_skus_are_refused_and_listed(manager, warehouse, make_stock):
    make_stock("A", warehouse, 10)
    before = db_state()
    response = manager.api.post(
        SNAPSHOT,
        {
            "location": warehouse.code,
            "items": [
                {"sku": "A", "on_hand": 1},
                {"sku": "GHOST-2", "on_hand": 1},
                {"sku": "GHOST-1", "on_hand": 0},
            ],
        },
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_sku"
    assert response.json()["extra"] == {"skus": ["GHOST-1", "GHOST-2"], "count": 2}
    assert db_state() == before


def test_duplicate_skus_are_refused(manager, warehouse, make_stock):
    make_stock("A", warehouse, 10)
    before = db_state()
    response = manager.api.post(
        SNAPSHOT,
        {"location": warehouse.code, "items": [{"sku": "A", "on_hand": 1}, {"sku": "A", "on_hand": 2}]},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "duplicate_sku"
    assert response.json()["extra"]["skus"] == ["A"]
    assert db_state() == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"location": "nowhere", "items": []}, 422, "unknown_location"),
        ({"location": "wh-central", "items": [{"sku": "A", "on_hand": -1}]}, 422, "invalid_quantity"),
        ({"location": "wh-central", "items": [{"sku": "A", "on_hand": 10**12}]}, 422, "invalid_quantity"),
        ({"location": "wh-central", "items": [{"sku": "", "on_hand": 1}]}, 422, "invalid_quantity"),
        ({"location": "wh-central", "items": [{"sku": "A"}]}, 422, "invalid_input"),
        ({"location": "wh-central"}, 422, "invalid_input"),
        ({"location": "wh-central", "items": {"A": 1}}, 400, "malformed_request"),
        ({"location": "wh-central", "items": ["A"]}, 400, "malformed_request"),
        ({"location": "wh-central", "items": [{"sku": "A", "on_hand": "many"}]}, 400, "malformed_request"),
        ({"location": "wh-central", "items": [{"sku": "A", "on_hand": 1.5}]}, 400, "malformed_request"),
        ({"location": "wh-central", "items": [{"sku": 7, "on_hand": 1}]}, 400, "malformed_request"),
        ({"location": ["wh-central"], "items": []}, 400, "malformed_request"),
    ],
)
def test_bad_snapshot_bodies(manager, warehouse, make_stock, body, status, code):
    make_stock("A", warehouse, 10)
    before = db_state()
    response = manager.api.post(SNAPSHOT, body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert db_state() == before


def test_only_a_manager_applies_snapshots(web_client, make_associate, warehouse, make_stock, anon):
    make_stock("A", warehouse, 10)
    associate = make_associate("lan", warehouse)
    body = {"location": warehouse.code, "items": [{"sku": "A", "on_hand": 1}]}
    before = db_state()
    for client in (web_client.api, associate.api):
        response = client.post(SNAPSHOT, body, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    anon.credentials(HTTP_AUTHORIZATION="Bearer oms_wrong")
    assert anon.post(SNAPSHOT, body, format="json").status_code == 401
    assert db_state() == before


def test_an_associate_may_not_count_another_location_through_the_service(warehouse, store, make_stock):
    make_stock("A", warehouse, 10)
    associate = Actor(type="staff", name="lan", role="associate", location_ids=frozenset({store.pk}))
    with pytest.raises(PermissionDenied):
        stock_snapshot_apply(location=warehouse, items=[("A", 1)], actor=associate, reason="")
    assert levels(warehouse) == {"A": (10, 0)}


def test_an_empty_snapshot_empties_the_location(warehouse, make_stock):
    make_stock("A", warehouse, 10)
    make_stock("B", warehouse, 0)
    result = stock_snapshot_apply(location=warehouse, items=[], actor=SYSTEM, reason="closing")
    assert (result.rows_changed, result.units_delta) == (1, -10)
    assert levels(warehouse) == {"A": (0, 0), "B": (0, 0)}


def test_snapshot_body_limit_is_its_own(manager, warehouse, make_stock, settings):
    """The snapshot endpoint accepts more than DATA_UPLOAD_MAX_MEMORY_SIZE; beyond its own limit: 413."""
    make_stock("A", warehouse, 10)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    items = [{"sku": "A", "on_hand": 4, "note": "x" * 200}]
    response = manager.api.post(SNAPSHOT, {"location": warehouse.code, "items": items}, format="json")
    assert response.status_code == 201, response.json()
    settings.OMS_SNAPSHOT_MAX_BODY_BYTES = 100
    before = db_state()
    refused = manager.api.post(SNAPSHOT, {"location": warehouse.code, "items": items}, format="json")
    assert refused.status_code == 413
    assert refused.json()["code"] == "request_too_large"
    assert db_state() == before


def _seed_location(location, n: int, *, reserved_every: int = 7):
    """n SKUs stocked at ``location`` (through the ledger), some with units reserved."""
    products = Product.objects.bulk_create(
        [Product(sku=f"BULK-{i:06d}", name=f"Bulk {i}", price="1.00", currency="USD") for i in range(n)]
    )
    for i, product in enumerate(products[: n // 2]):
        level = stock_put(product, location, 10 + i % 5)
        if i % reserved_every == 0:
            reserve(level, 2)
    return products


def _apply_big_snapshot(manager, location, products):
    n = len(products)
    # The stocked half is counted at new values (never below what is reserved), except SKUs 1 mod 4
    # without reservations, which are left out (so they go to 0); the other half is new here.
    reserved = dict(
        StockLevel.objects.filter(location=location, reserved__gt=0).values_list("product__sku", "reserved")
    )
    items = []
    for i, product in enumerate(products):
        if i < n // 2 and i % 4 == 1 and product.sku not in reserved:
            continue
        on_hand = max(reserved.get(product.sku, 0), (i * 7) % 23)
        items.append({"sku": product.sku, "on_hand": on_hand})
    response = manager.api.post(SNAPSHOT, {"location": location.code, "items": items}, format="json")
    assert response.status_code == 201, response.json()
    return items, reserved, response.json()


def _check_big_snapshot(location, items, reserved, body):
    expected = {item["sku"]: item["on_hand"] for item in items}
    got = levels(location)
    for sku, (on_hand, held) in got.items():
        assert on_hand == expected.get(sku, 0), sku
        assert held == reserved.get(sku, 0), sku
    assert set(got) >= {sku for sku, count in expected.items() if count > 0}
    totals = dict(
        StockMovement.objects.filter(location=location)
        .values_list("stock_level_id")
        .annotate(total=Sum("on_hand_delta"))
        .values_list("stock_level_id", "total")
    )
    for level in StockLevel.objects.filter(location=location):
        assert totals.get(level.pk, 0) == level.on_hand
    assert body["movements"] == StockMovement.objects.filter(reference=body["reference"]).count()
    assert body["rows_changed"] == body["movements"]


def test_a_bigger_snapshot_through_the_orm_path(manager, warehouse):
    products = _seed_location(warehouse, 300)
    items, reserved, body = _apply_big_snapshot(manager, warehouse, products)
    _check_big_snapshot(warehouse, items, reserved, body)


@pytest.mark.postgres
def test_snapshot_of_2000_rows_through_copy_on_postgresql(
    manager, warehouse, store, django_assert_max_num_queries
):
    assert connection.vendor == "postgresql"
    products = _seed_location(warehouse, 2_000)
    untouched = stock_put(products[-1], store, 5)
    with django_assert_max_num_queries(40):  # set-based: no query per row
        items, reserved, body = _apply_big_snapshot(manager, warehouse, products)
    assert body["rows_changed"] > 1_000
    _check_big_snapshot(warehouse, items, reserved, body)
    untouched.refresh_from_db()
    assert untouched.on_hand == 5


@pytest.mark.postgres
def test_refusals_on_postgresql_change_nothing(warehouse, make_stock):
    make_stock("A", warehouse, 10, reserved=4)
    make_stock("B", warehouse, 5)
    before = db_state()
    with pytest.raises(UnknownSku):
        stock_snapshot_apply(location=warehouse, items=[("A", 5), ("NOPE", 1)], actor=SYSTEM)
    with pytest.raises(SnapshotBelowReserved):
        stock_snapshot_apply(location=warehouse, items=[("A", 3), ("B", 9)], actor=SYSTEM)
    assert db_state() == before
    # and the temporary tables are gone: a second snapshot in the same transaction works
    result = stock_snapshot_apply(location=warehouse, items=[("A", 4), ("B", 6)], actor=SYSTEM)
    assert (result.rows_changed, result.units_delta) == (2, -5)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_snapshot_while_orders_reserve_keeps_counters_and_ledger_consistent(warehouse):
    products = Product.objects.bulk_create(
        [Product(sku=f"RACE-{i:04d}", name=f"Race {i}", price="1.00", currency="USD") for i in range(300)]
    )
    for product in products:
        stock_put(product, warehouse, 10)
    level_ids = list(
        StockLevel.objects.filter(location=warehouse).order_by("pk").values_list("pk", flat=True)
    )
    errors: list[BaseException] = []

    def reserve_many() -> None:
        try:
            for pk in level_ids[::-1]:  # the opposite order to the snapshot's locks
                with transaction.atomic():
                    reserve(StockLevel.objects.get(pk=pk), 2, reference=f"order:{pk}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    def count() -> None:
        try:
            stock_snapshot_apply(
                location=warehouse, items=[(p.sku, 7) for p in products], actor=SYSTEM, reason="race"
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve_many), threading.Thread(target=count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    for level in StockLevel.objects.filter(location=warehouse):
        assert (level.on_hand, level.reserved) == (7, 2)
        assert ledger_matches(level)
