"""/api/v1/locations and /api/v1/products: managers write, anyone authenticated reads."""

from decimal import Decimal

import pytest

from inventory.models import Location, Product
from tests.factories import ProductFactory
from tests.inventory.conftest import db_state

pytestmark = pytest.mark.django_db

STORE_BODY = {
    "code": "st-hn-hoankiem",
    "name": "Store Hoan Kiem",
    "kind": "store",
    "latitude": "21.028511",
    "longitude": 105.852400,
    "city": "Hanoi",
    "country": "vn",
    "pickup": True,
    "ship_from_store": True,
    "accepts_returns": True,
    "daily_capacity": 40,
    "priority": 5,
    "pickup_hold_days": 5,
}


# --- Locations --------------------------------------------------------------------------------------


def test_manager_creates_a_location_and_anyone_reads_it(manager, web_client, make_associate, store):
    response = manager.api.post("/api/v1/locations", STORE_BODY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"] == "st-hn-hoankiem"
    assert body["kind"] == "store"
    assert body["latitude"] == pytest.approx(21.028511)
    assert body["country"] == "VN"
    assert (body["pickup"], body["ship_from_store"], body["ships"]) == (True, True, False)
    assert body["daily_capacity"] == 40
    assert body["active"] is True
    location = Location.objects.get(code="st-hn-hoankiem")
    assert location.longitude == Decimal("105.852400")

    associate = make_associate("lan", store)
    for client in (web_client.api, associate.api, manager.api):
        listed = client.get("/api/v1/locations")
        assert listed.status_code == 200
        assert {row["code"] for row in listed.json()["results"]} == {"store-downtown", "st-hn-hoankiem"}
        assert "next" in listed.json()
        one = client.get("/api/v1/locations/st-hn-hoankiem")
        assert one.status_code == 200
        assert one.json()["name"] == "Store Hoan Kiem"


def test_location_filters(manager, warehouse, store):
    stores = manager.api.get("/api/v1/locations?kind=store").json()["results"]
    assert [row["code"] for row in stores] == ["store-downtown"]
    pickups = manager.api.get("/api/v1/locations?pickup=true").json()["results"]
    assert [row["code"] for row in pickups] == ["store-downtown"]


def test_only_a_manager_writes_locations(web_client, make_associate, store):
    associate = make_associate("lan", store)
    before = db_state()
    for client in (web_client.api, associate.api):
        response = client.post("/api/v1/locations", STORE_BODY, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        patched = client.patch(f"/api/v1/locations/{store.code}", {"name": "Mine"}, format="json")
        assert patched.status_code == 403
    assert db_state() == before


def test_bad_key_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer oms_nope")
    response = anon.get("/api/v1/locations")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert anon.post("/api/v1/locations", STORE_BODY, format="json").status_code == 401


def test_manager_patches_a_location(manager, store):
    response = manager.api.patch(
        f"/api/v1/locations/{store.code}/",
        {"active": False, "daily_capacity": None, "priority": 7, "code": "ignored"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["code"] == store.code
    store.refresh_from_db()
    assert (store.active, store.daily_capacity, store.priority) == (False, None, 7)


def test_duplicate_location_code_is_409(manager, store):
    response = manager.api.post("/api/v1/locations", {**STORE_BODY, "code": store.code}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "location_exists"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"kind": "kiosk"}, 422, "invalid_input"),
        ({"code": "Bad Code!"}, 422, "invalid_input"),
        ({"latitude": "91"}, 422, "invalid_input"),
        ({"longitude": -180.5}, 422, "invalid_input"),
        ({"daily_capacity": -1}, 422, "invalid_input"),
        ({"priority": 10**30}, 422, "invalid_input"),
        ({"country": "VNM"}, 422, "invalid_input"),
        ({"latitude": "north"}, 400, "malformed_request"),
        ({"pickup": "sometimes"}, 400, "malformed_request"),
        ({"daily_capacity": "many"}, 400, "malformed_request"),
        ({"name": ["a", "list"]}, 400, "malformed_request"),
        ({"name": None}, 400, "malformed_request"),
    ],
)
def test_bad_location_bodies(manager, change, status, code):
    before = db_state()
    response = manager.api.post("/api/v1/locations", {**STORE_BODY, **change}, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "message", "extra"}
    assert db_state() == before


def test_missing_fields_are_422(manager):
    response = manager.api.post("/api/v1/locations", {"code": "x"}, format="json")
    assert response.status_code == 422
    assert set(response.json()["extra"]["fields"]) >= {"name", "kind", "latitude", "longitude"}


def test_malformed_json_and_non_object_bodies_are_400(manager, store):
    before = db_state()
    broken = manager.api.post("/api/v1/locations", "{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["code"] == "malformed_request"
    listed = manager.api.post("/api/v1/locations", [STORE_BODY], format="json")
    assert listed.status_code == 400
    assert listed.json()["code"] == "malformed_request"
    patched = manager.api.patch(f"/api/v1/locations/{store.code}", {"latitude": 95}, format="json")
    assert patched.status_code == 422
    assert db_state() == before


def test_unknown_location_is_404(manager):
    response = manager.api.get("/api/v1/locations/nowhere")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_too_large_body_is_413(manager, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = manager.api.post("/api/v1/locations", {**STORE_BODY, "address": "x" * 2_000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Location.objects.filter(code=STORE_BODY["code"]).exists()


# --- Products ---------------------------------------------------------------------------------------

PRODUCT_BODY = {"sku": "JEANS-32.BLUE", "name": "Jeans 32 blue", "price": "499000.00", "currency": "vnd"}


def test_manager_creates_a_product_and_anyone_reads_it(manager, web_client):
    response = manager.api.post("/api/v1/products", PRODUCT_BODY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["sku"], body["price"], body["currency"], body["active"]) == (
        "JEANS-32.BLUE",
        "499000.00",
        "VND",
        True,
    )
    one = web_client.api.get("/api/v1/products/JEANS-32.BLUE")
    assert one.status_code == 200
    assert one.json()["name"] == "Jeans 32 blue"
    listed = web_client.api.get("/api/v1/products?sku=JEANS-32.BLUE").json()
    assert [row["sku"] for row in listed["results"]] == ["JEANS-32.BLUE"]


def test_products_list_filters_and_paginates(manager):
    for n in range(5):
        ProductFactory(sku=f"P-{n}", active=n % 2 == 0)
    page = manager.api.get("/api/v1/products?page_size=2").json()
    assert len(page["results"]) == 2
    assert page["next"]
    second = manager.api.get(page["next"]).json()
    assert [row["sku"] for row in second["results"]] == ["P-2", "P-3"]
    active = manager.api.get("/api/v1/products?active=false").json()["results"]
    assert [row["sku"] for row in active] == ["P-1", "P-3"]


def test_manager_patches_a_product(manager, product):
    response = manager.api.patch(
        f"/api/v1/products/{product.sku}", {"price": 12.5, "active": False}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["price"] == "12.50"
    product.refresh_from_db()
    assert (product.price, product.active) == (Decimal("12.50"), False)


def test_only_a_manager_writes_products(web_client, make_associate, store, product):
    associate = make_associate("lan", store)
    before = db_state()
    for client in (web_client.api, associate.api):
        assert client.post("/api/v1/products", PRODUCT_BODY, format="json").status_code == 403
        patched = client.patch(f"/api/v1/products/{product.sku}", {"price": "1.00"}, format="json")
        assert patched.status_code == 403
        assert patched.json()["code"] == "permission_denied"
    assert db_state() == before


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"currency": "ZZZ"}, 422, "unknown_currency"),
        ({"price": "-1"}, 422, "invalid_input"),
        ({"price": "1.234"}, 422, "invalid_input"),
        ({"price": "1e20"}, 422, "invalid_input"),
        ({"sku": "has space"}, 422, "invalid_input"),
        ({"sku": "x" * 65}, 422, "invalid_input"),
        ({"price": "cheap"}, 400, "malformed_request"),
        ({"price": "NaN"}, 400, "malformed_request"),
        ({"price": {"amount": 1}}, 400, "malformed_request"),
        ({"active": "maybe"}, 400, "malformed_request"),
    ],
)
def test_bad_product_bodies(manager, change, status, code):
    before = db_state()
    response = manager.api.post("/api/v1/products", {**PRODUCT_BODY, **change}, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert db_state() == before


def test_duplicate_sku_is_409(manager, product):
    response = manager.api.post("/api/v1/products", {**PRODUCT_BODY, "sku": product.sku}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "product_exists"
    assert Product.objects.count() == 1
