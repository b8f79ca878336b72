"""What schemathesis found (issue 24), one test each: no 500 for an out-of-range number, JSON in
the house format for every error under /api/ (no CSRF or error HTML page), and input the schema
forbids refused instead of silently accepted."""

from __future__ import annotations

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import get_resolver

from oms.api import error_views
from oms.choices import ChannelKind
from oms.staff import staff_create

HUGE = "99999999999999999999"  # beyond PostgreSQL's bigint (and SQLite's integer)
LOCATION = {"code": "st-x", "name": "X", "kind": "store", "latitude": 10, "longitude": 106}


def assert_house_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "extra"}
    if code is not None:
        assert body["code"] == code
    return body


# --- Numbers out of range: 4xx, never a 500 ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("latitude", [-1.2e308, 1.2e308, "-1.2e308", 1e20])
def test_a_huge_coordinate_is_422_not_a_500(manager, latitude):
    response = manager.api.post("/api/v1/locations", {**LOCATION, "latitude": latitude}, format="json")
    body = assert_house_error(response, 422, "invalid_input")
    assert "latitude" in body["extra"]["fields"]


@pytest.mark.django_db
def test_a_huge_coordinate_in_a_patch_is_422(manager, store):
    response = manager.api.patch(f"/api/v1/locations/{store.code}", {"longitude": -1.2e308}, format="json")
    assert_house_error(response, 422, "invalid_input")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["-1.696e+294", HUGE, str(2**53), "0", "1.5", "-3"])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/fulfillment-orders?order={v}", "/api/v1/orders?customer={v}", "/api/v1/returns?order={v}"],
)
def test_an_id_filter_out_of_range_is_422(manager, path, value):
    assert_house_error(manager.api.get(path.format(v=value)), 422, "invalid_input")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/{v}",
        "/api/v1/customers/{v}",
        "/api/v1/customers/{v}/orders",
        "/api/v1/inventory/{v}",
        "/api/v1/fulfillment-orders/{v}",
        "/api/v1/returns/{v}",
        "/api/v1/webhooks/{v}",
    ],
)
def test_an_id_beyond_bigint_in_a_path_is_404(manager, path):
    assert_house_error(manager.api.get(path.format(v=HUGE)), 404)


@pytest.mark.django_db
def test_a_safety_stock_patch_of_a_row_beyond_bigint_is_404(manager):
    response = manager.api.patch(f"/api/v1/inventory/{HUGE}", {"safety_stock": 1}, format="json")
    assert_house_error(response, 404, "stock_level_not_found")


# --- Every error under /api/ is JSON --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "patch", "delete", "put"])
def test_a_non_integer_id_answers_json_404_to_any_method(manager, method):
    response = getattr(manager.api, method)("/api/v1/orders/0.5/cancel/", {}, format="json")
    assert_house_error(response, 404, "not_found")


@pytest.mark.django_db
def test_a_key_authenticated_post_never_meets_the_csrf_check(web_client):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {web_client.key}")
    response = client.post("/api/v1/orders/0.5/cancel/", "{}", content_type="application/json")
    assert_house_error(response, 404, "not_found")
    response = client.post("/api/v1/orders/", "{}", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code in (400, 422)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_a_session_post_without_csrf_token_is_json_403():
    profile, _ = staff_create(username="boss", role="manager", password="pw-123456789")
    client = Client(enforce_csrf_checks=True)
    client.force_login(profile.user)
    response = client.post("/api/v1/channels/", {"code": "x"}, content_type="application/json")
    assert_house_error(response, 403)


def test_the_csrf_failure_view_answers_json_under_api_and_html_elsewhere():
    factory = RequestFactory()
    assert_house_error(
        error_views.csrf_failure(factory.post("/api/v1/anything"), reason="no token"), 403, "csrf_failed"
    )
    page = error_views.csrf_failure(factory.post("/admin/login/"), reason="no token")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("handler", "status", "code"),
    [
        ("handler400", 400, "malformed_request"),
        ("handler403", 403, "permission_denied"),
        ("handler404", 404, "not_found"),
        ("handler500", 500, "server_error"),
    ],
)
def test_django_error_handlers_answer_json_under_api(handler, status, code):
    view = get_resolver().resolve_error_handler(int(handler[-3:]))
    request = RequestFactory().get("/api/v1/orders")
    response = view(request) if status == 500 else view(request, Exception("boom"))
    assert_house_error(response, status, code)
    elsewhere = RequestFactory().get("/admin/")
    page = view(elsewhere) if status == 500 else view(elsewhere, Exception("boom"))
    assert page.status_code == status
    assert not page["Content-Type"].startswith("application/json")


# --- What the schema forbids is refused ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["null", "0", "501", "-1", "1.5", "", "ten"])
def test_a_page_size_the_schema_forbids_is_422(manager, page_size):
    body = assert_house_error(
        manager.api.get(f"/api/v1/products?page_size={page_size}"), 422, "invalid_input"
    )
    assert "page_size" in body["extra"]["fields"]


@pytest.mark.django_db
def test_a_page_size_in_range_pages(manager, product):
    response = manager.api.get("/api/v1/products?page_size=500")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["ships=null", "active=1", "pickup=0", "accepts_returns=", "ship_from_store=yes"]
)
def test_a_flag_filter_is_true_or_false_only(manager, query):
    assert_house_error(manager.api.get(f"/api/v1/locations?{query}"), 422, "invalid_input")


@pytest.mark.django_db
def test_a_flag_filter_filters(manager, warehouse, store):
    store.pickup, warehouse.pickup = True, False
    store.save()
    warehouse.save()
    codes = [row["code"] for row in manager.api.get("/api/v1/locations?pickup=true").json()["results"]]
    assert codes == [store.code]
    codes = [row["code"] for row in manager.api.get("/api/v1/locations?pickup=false").json()["results"]]
    assert codes == [warehouse.code]
    assert manager.api.get("/api/v1/products?active=false").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"active": 0}, {"ships": 1}, {"pickup": "true"}, {"name": 12}, {"city": True}, {"priority": True}],
)
def test_a_location_field_of_the_wrong_json_type_is_400(manager, change):
    response = manager.api.post("/api/v1/locations", {**LOCATION, **change}, format="json")
    assert_house_error(response, 400, "malformed_request")


@pytest.mark.django_db
def test_a_numeric_snapshot_reason_is_400(manager, warehouse):
    body = {"location": warehouse.code, "items": [], "reason": 0}
    assert_house_error(
        manager.api.post("/api/v1/inventory/snapshots", body, format="json"), 400, "malformed_request"
    )


@pytest.mark.django_db
def test_a_channel_key_gets_json_for_an_unknown_api_path(make_channel_client):
    client = make_channel_client("web2", ChannelKind.WEB)
    assert_house_error(client.api.post("/api/v1/no-such-thing/1/", {}, format="json"), 404, "not_found")


# --- Second fuzz round ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("sku", ["A\x00B", "\udc00"])  # a NUL, a lone surrogate (JSON escapes them)
def test_a_snapshot_sku_postgresql_cannot_store_is_422_not_a_500(manager, warehouse, sku):
    body = json.dumps({"location": warehouse.code, "items": [{"sku": sku, "on_hand": 1}]})
    response = manager.api.post("/api/v1/inventory/snapshots", body, content_type="application/json")
    assert_house_error(response, 422, "invalid_input")


@pytest.mark.django_db
def test_an_error_echoing_a_lone_surrogate_is_json_not_a_500(manager):
    body = json.dumps({**LOCATION, "kind": "\udc00"})
    response = manager.api.post("/api/v1/locations", body, content_type="application/json")
    body = assert_house_error(response, 422, "invalid_input")
    assert body["extra"]["fields"]["kind"] == ['"\udc00" is not a valid choice.']


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["email=a%00b", "phone=%00", f"email={'a' * 300}"])
def test_a_customer_search_postgresql_cannot_run_is_422(manager, query):
    assert_house_error(manager.api.get(f"/api/v1/customers?{query}"), 422, "invalid_input")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders?created_before=",
        "/api/v1/orders?status=",
        "/api/v1/returns?created_after=",
        "/api/v1/orders?method=",
        "/api/v1/returns?order=",
        "/api/v1/locations?active=",
        "/api/v1/kpis?to=",
        "/api/v1/kpis?from=",
    ],
)
def test_a_query_parameter_without_a_value_is_422(manager, path):
    assert_house_error(manager.api.get(path), 422, "invalid_input")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/fulfillment-orders?location=", "/api/v1/products?currency="])
def test_a_text_filter_without_a_value_matches_everything(manager, path):
    assert manager.api.get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"code": 0}, {"name": 5}, {"active": 1}, {"ship_from_stores": "yes"}])
def test_a_channel_field_of_the_wrong_json_type_is_refused(manager, change):
    body = {"code": "kiosk", "name": "Kiosk", "kind": "pos", "currency": "USD", **change}
    assert_house_error(manager.api.post("/api/v1/channels", body, format="json"), 422, "invalid_input")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/fulfillment-orders/1/reject/", {"reason": 12}),
        ("/api/v1/fulfillment-orders/1/ship/", {"carrier": 1, "tracking_number": "T"}),
        ("/api/v1/orders/1/cancel/", {"reason": 0}),
    ],
)
def test_a_numeric_reason_is_refused_before_anything_else(manager, path, body):
    # fulfilment order 1 / order 1 do not exist: the body is checked first, so the type error shows
    assert_house_error(manager.api.post(path, body, format="json"), 422, "invalid_input")


BEYOND = 2**63  # one past PostgreSQL's bigint (ids stop at 2**53 - 1, see oms.lookups)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/orders/1/release-hold/", {"hold": BEYOND}),
        (
            "/api/v1/returns/",
            {"order": "1", "method": "mail", "lines": [{"order_line": BEYOND, "quantity": 1}]},
        ),
        (
            "/api/v1/returns/1/receive/",
            {"lines": [{"return_line": BEYOND, "quantity": 1, "disposition": "damaged"}]},
        ),
    ],
)
def test_a_body_id_beyond_bigint_is_refused_before_the_database(manager, path, body):
    assert_house_error(manager.api.post(path, body, format="json"), 422, "invalid_input")


@pytest.mark.django_db
@pytest.mark.parametrize("sku", ["SKU\f", " SKU", "SKU "])
def test_a_sku_with_whitespace_is_refused_not_trimmed(manager, sku):
    body = {"sku": sku, "name": "N", "price": "1.00", "currency": "USD"}
    assert_house_error(manager.api.post("/api/v1/products", body, format="json"), 422, "invalid_input")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change", [{"channel": 0}, {"external_id": 5}, {"currency": 1}, {"pickup_location": 2}]
)
def test_an_order_text_field_of_the_wrong_json_type_is_refused(manager, change):
    line = {"sku": "X", "quantity": 1, "unit_price": "1.00"}
    body = {"channel": "web", "method": "ship", "lines": [line], **change}
    assert_house_error(manager.api.post("/api/v1/orders", body, format="json"), 422, "invalid_input")
