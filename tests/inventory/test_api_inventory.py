"""/api/v1/inventory, /inventory/{id} and /inventory/adjustments."""

import pytest

from inventory.choices import MovementKind
from inventory.models import StockLevel, StockMovement
from tests.conftest import stock_put
from tests.factories import ProductFactory
from tests.inventory.conftest import db_state, ledger_matches, reserve

pytestmark = pytest.mark.django_db

ADJUST = "/api/v1/inventory/adjustments"


# --- GET /inventory ---------------------------------------------------------------------------------


def test_staff_list_rows_with_available(manager, make_associate, warehouse, store, make_stock):
    level = make_stock("TSHIRT-M", warehouse, 10, reserved=3, safety=2)
    make_stock("TSHIRT-M-2", store, 4)
    associate = make_associate("lan", store)
    for client in (manager.api, associate.api):
        response = client.get("/api/v1/inventory")
        assert response.status_code == 200
        rows = response.json()["results"]
        assert len(rows) == 2
    row = manager.api.get(f"/api/v1/inventory?sku=TSHIRT-M&location={warehouse.code}").json()["results"]
    assert row == [
        {
            "id": level.pk,
            "sku": "TSHIRT-M",
            "location": "wh-central",
            "on_hand": 10,
            "reserved": 3,
            "safety_stock": 2,
            "available": 5,
            "updated_at": row[0]["updated_at"],
        }
    ]
    by_location = associate.api.get(f"/api/v1/inventory?location={store.code}").json()["results"]
    assert [r["sku"] for r in by_location] == ["TSHIRT-M-2"]
    one = associate.api.get(f"/api/v1/inventory/{level.pk}")
    assert one.status_code == 200
    assert one.json()["available"] == 5


def test_channels_and_anonymous_may_not_list_inventory(web_client, anon, warehouse, make_stock):
    make_stock("A", warehouse, 1)
    response = web_client.api.get("/api/v1/inventory")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert anon.get("/api/v1/inventory").status_code == 401
    anon.credentials(HTTP_AUTHORIZATION="Bearer omsstaff_forged")
    assert anon.get("/api/v1/inventory").json()["code"] == "authentication_failed"


# --- PATCH /inventory/{id} --------------------------------------------------------------------------


def test_manager_sets_safety_stock(manager, warehouse, make_stock, published):
    level = make_stock("A", warehouse, 10, safety=4)
    published.clear()
    response = manager.api.patch(f"/api/v1/inventory/{level.pk}", {"safety_stock": 6}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["safety_stock"], response.json()["available"]) == (6, 4)
    assert published == []  # raising safety stock frees nothing
    lowered = manager.api.patch(f"/api/v1/inventory/{level.pk}", {"safety_stock": 1}, format="json")
    assert lowered.json()["available"] == 9
    assert published == [("stock.changed", {"location_id": warehouse.pk, "product_ids": [level.product_id]})]


def test_only_a_manager_sets_safety_stock(web_client, make_associate, warehouse, make_stock):
    level = make_stock("A", warehouse, 10)
    associate = make_associate("lan", warehouse)
    for client in (associate.api, web_client.api):
        response = client.patch(f"/api/v1/inventory/{level.pk}", {"safety_stock": 3}, format="json")
        assert response.status_code == 403
    level.refresh_from_db()
    assert level.safety_stock == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"safety_stock": -1}, 422, "invalid_quantity"),
        ({"safety_stock": 10**12}, 422, "invalid_quantity"),
        ({}, 422, "invalid_input"),
        ({"safety_stock": "lots"}, 400, "malformed_request"),
        ({"safety_stock": 2.5}, 400, "malformed_request"),
    ],
)
def test_bad_safety_stock(manager, warehouse, make_stock, body, status, code):
    level = make_stock("A", warehouse, 10)
    before = db_state()
    response = manager.api.patch(f"/api/v1/inventory/{level.pk}", body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert db_state() == before


def test_unknown_stock_row_is_404(manager):
    response = manager.api.patch("/api/v1/inventory/999999", {"safety_stock": 1}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "stock_level_not_found"
    assert manager.api.get("/api/v1/inventory/999999").status_code == 404


# --- POST /inventory/adjustments --------------------------------------------------------------------


def test_manager_adjusts_stock(manager, warehouse, product, published):
    response = manager.api.post(
        ADJUST,
        {"sku": product.sku, "location": warehouse.code, "delta": 7, "reason": "found in back room"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    movement = StockMovement.objects.get(pk=body["movement_id"])
    assert (movement.kind, movement.on_hand_delta, movement.reason) == (
        MovementKind.ADJUSTMENT,
        7,
        "found in back room",
    )
    assert movement.actor_name == "manager"
    assert body["stock"]["on_hand"] == 7
    assert body["stock"]["sku"] == product.sku
    assert body["stock"]["location"] == warehouse.code
    assert published == [("stock.changed", {"location_id": warehouse.pk, "product_ids": [product.pk]})]
    level = StockLevel.objects.get(pk=body["stock"]["id"])
    assert ledger_matches(level)


def test_a_count_sets_on_hand_and_records_what_was_expected(manager, warehouse, product, published):
    level = stock_put(product, warehouse, 10)
    published.clear()
    response = manager.api.post(
        ADJUST,
        {"sku": product.sku, "location": warehouse.code, "on_hand": 8, "reason": "cycle count"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["on_hand_delta"], body["expected_on_hand"]) == ("count", -2, 10)
    assert body["stock"]["on_hand"] == 8
    assert published == []  # a count that lowers stock announces nothing
    assert ledger_matches(level)
    raised = manager.api.post(
        ADJUST,
        {"sku": product.sku, "location": warehouse.code, "on_hand": 12, "reason": "recount"},
        format="json",
    )
    assert raised.status_code == 201
    assert published == [("stock.changed", {"location_id": warehouse.pk, "product_ids": [product.pk]})]


def test_removing_stock_announces_nothing(manager, warehouse, product, published):
    stock_put(product, warehouse, 5)
    published.clear()
    response = manager.api.post(
        ADJUST,
        {"sku": product.sku, "location": warehouse.code, "delta": -2, "reason": "damaged"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["stock"]["on_hand"] == 3
    assert published == []


def test_associate_adjusts_only_at_own_locations(make_associate, store, other_store, product):
    associate = make_associate("lan", store)
    own = associate.api.post(
        ADJUST, {"sku": product.sku, "location": store.code, "delta": 3, "reason": "delivery"}, format="json"
    )
    assert own.status_code == 201, own.json()
    assert StockMovement.objects.get(pk=own.json()["movement_id"]).actor_name == "lan"
    before = db_state()
    other = associate.api.post(
        ADJUST,
        {"sku": product.sku, "location": other_store.code, "delta": 3, "reason": "delivery"},
        format="json",
    )
    assert other.status_code == 403
    assert other.json()["code"] == "location_not_permitted"
    count = associate.api.post(
        ADJUST,
        {"sku": product.sku, "location": other_store.code, "on_hand": 3, "reason": "count"},
        format="json",
    )
    assert count.status_code == 403
    assert db_state() == before


def test_channels_and_bad_keys_may_not_adjust(web_client, anon, warehouse, product):
    body = {"sku": product.sku, "location": warehouse.code, "delta": 3, "reason": "x"}
    before = db_state()
    response = web_client.api.post(ADJUST, body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    anon.credentials(HTTP_AUTHORIZATION="Bearer oms_wrong")
    assert anon.post(ADJUST, body, format="json").status_code == 401
    assert db_state() == before


def test_stock_never_goes_negative(manager, warehouse, product):
    level = stock_put(product, warehouse, 5)
    reserve(level, 3)
    before = db_state()
    response = manager.api.post(
        ADJUST, {"sku": product.sku, "location": warehouse.code, "delta": -3, "reason": "lost"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "stock_would_go_negative"
    assert response.json()["extra"]["reserved"] == 3
    count = manager.api.post(
        ADJUST,
        {"sku": product.sku, "location": warehouse.code, "on_hand": 2, "reason": "count"},
        format="json",
    )
    assert count.status_code == 409
    assert count.json()["code"] == "count_below_reserved"
    assert db_state() == before


def test_removing_from_a_sku_never_stocked_here_changes_nothing(manager, warehouse, product):
    before = db_state()
    response = manager.api.post(
        ADJUST, {"sku": product.sku, "location": warehouse.code, "delta": -1, "reason": "x"}, format="json"
    )
    assert response.status_code == 409
    assert db_state() == before  # not even an empty stock row


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"sku": "NOPE"}, 422, "unknown_sku"),
        ({"location": "nowhere"}, 422, "unknown_location"),
        ({"on_hand": 4}, 422, "delta_or_on_hand_required"),
        ({"delta": None}, 400, "malformed_request"),
        ({"delta": 0}, 422, "invalid_quantity"),
        ({"delta": 10**9}, 422, "invalid_quantity"),
        ({"delta": -(10**40)}, 422, "invalid_quantity"),
        ({"delta": "5"}, 201, None),  # a numeric string is a number
        ({"delta": "five"}, 400, "malformed_request"),
        ({"delta": 1.5}, 400, "malformed_request"),
        ({"delta": True}, 400, "malformed_request"),
        ({"delta": [1]}, 400, "malformed_request"),
        ({"sku": {"id": 1}}, 400, "malformed_request"),
        ({"reason": ""}, 422, "invalid_input"),
    ],
)
def test_bad_adjustments(manager, warehouse, product, change, status, code):
    stock_put(product, warehouse, 5)
    body = {"sku": product.sku, "location": warehouse.code, "delta": 2, "reason": "x", **change}
    before = db_state()
    response = manager.api.post(ADJUST, body, format="json")
    assert response.status_code == status, response.json()
    if code is not None:
        assert response.json()["code"] == code
        assert set(response.json()) == {"code", "message", "extra"}
        assert db_state() == before


def test_neither_delta_nor_on_hand_is_422(manager, warehouse, product):
    response = manager.api.post(
        ADJUST, {"sku": product.sku, "location": warehouse.code, "reason": "x"}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "delta_or_on_hand_required"


def test_malformed_adjustment_json_is_400(manager):
    before = db_state()
    response = manager.api.post(ADJUST, '{"sku": "A", "delta": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    nested = manager.api.post(ADJUST, "[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert nested.status_code == 400
    assert nested.json()["code"] == "malformed_request"
    assert db_state() == before


def test_adjustments_is_not_a_stock_row(manager):
    assert manager.api.get(ADJUST).status_code == 405
    ProductFactory(sku="A")
    assert manager.api.get("/api/v1/inventory/adjustments/").status_code == 405
