"""The OpenAPI schema is as precise as the server (issue 24): what it answers is declared, what it
refuses is stated, and each operation says what it does and which errors it can answer."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _component(schema, name):
    return schema["components"]["schemas"][name]


def test_every_operation_has_a_summary_and_every_write_body_an_example(schema):
    for method, path, operation in _operations(schema):
        assert operation.get("summary"), f"{method} {path}"
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert body.get("examples"), f"{method} {path} has no request example"


def test_actions_have_their_own_descriptions(schema):
    fo = "/api/v1/fulfillment-orders/{id}"
    resource = schema["paths"][f"{fo}/"]["get"]["description"]
    descriptions = {
        action: schema["paths"][f"{fo}/{action}/"]["post"]["description"]
        for action in ("accept", "reject", "ship", "pick", "pack", "ready-for-pickup", "picked-up")
    }
    assert resource not in descriptions.values()
    assert len(set(descriptions.values())) == len(descriptions)
    order_resource = schema["paths"]["/api/v1/orders/{id}/"]["get"]["description"]
    assert schema["paths"]["/api/v1/orders/{id}/cancel/"]["post"]["description"] != order_resource


def test_error_statuses_are_the_ones_each_operation_can_answer(schema):
    detail = schema["paths"]["/api/v1/orders/{id}/"]["get"]["responses"]
    assert set(detail) == {"200", "401", "403", "404", "429", "503"}
    create = schema["paths"]["/api/v1/orders/"]["post"]["responses"]
    assert {"400", "409", "413", "415", "422"} <= set(create)
    assert "404" not in create
    assert "409" not in schema["paths"]["/api/v1/webhooks/{id}/enable/"]["post"]["responses"]


def test_error_extra_is_typed_per_code(schema):
    conflict = schema["paths"]["/api/v1/orders/"]["post"]["responses"]["409"]["content"]["application/json"]
    refs = [option["$ref"].rsplit("/", 1)[1] for option in conflict["schema"]["anyOf"]]
    assert refs == ["InsufficientStockError", "InsufficientPointsError", "Error"]  # loyalty_points too
    extra = _component(schema, "InsufficientStockExtra")["properties"]
    assert set(extra["shortages"]["items"]["required"]) == {"sku", "requested", "missing"}
    assert set(extra["nearby_stores"]["items"]["properties"]) == {"location", "distance_km"}
    refund = schema["paths"]["/api/v1/returns/{id}/refund/"]["post"]["responses"]["409"]
    assert "RefundExceedsPaidError" in str(refund)
    assert "refundable" in _component(schema, "RefundExceedsPaidExtra")["properties"]
    burn = schema["paths"]["/api/v1/customers/{id}/loyalty/burn/"]["post"]["responses"]["409"]
    assert "InsufficientPointsError" in str(burn)
    assert set(_component(schema, "InsufficientPointsExtra")["required"]) == {"balance", "points"}
    invalid = schema["paths"]["/api/v1/locations/"]["post"]["responses"]["422"]
    assert "InvalidInputError" in str(invalid)


def test_every_returned_field_is_declared_with_its_type(schema):
    summary = _component(schema, "FulfillmentOrderSummary")
    assert {"number", "carrier", "tracking_number", "pickup_expires_at"} <= set(summary["properties"])
    assert summary["properties"]["status"] == {"$ref": "#/components/schemas/FulfillmentStatusEnum"}
    order = _component(schema, "OrderOutput")["properties"]
    assert "AddressOutput" in str(order["shipping_address"])
    assert "ReturnSummaryOutput" in str(order["returns"])
    assert "ExchangeForOutput" in str(order["exchange_for"])
    assert "BackorderedLineOutput" in str(
        _component(schema, "OrderCreateOutput")["properties"]["backordered"]
    )
    assert _component(schema, "OrderEventOutput")["properties"]["data"]["type"] == "object"
    assert "ReturnStatusEnum" in str(_component(schema, "ReturnSummaryOutput")["properties"]["status"])


def test_input_rules_the_server_enforces_are_stated(schema):
    params = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/fulfillment-orders/"]["get"]["parameters"]
    }
    assert params["order"] == {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**53 - 1}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert _component(schema, "OrderCreateInputRequest")["properties"]["lines"]["minItems"] == 1
    assert _component(schema, "ReturnReceiveInputRequest")["properties"]["lines"]["minItems"] == 1
    assert _component(schema, "WebhookEndpointInputRequest")["properties"]["events"]["minItems"] == 1
    assert _component(schema, "PatchedStockLevelUpdateInputRequest")["required"] == ["safety_stock"]
    price = _component(schema, "ProductCreateInputRequest")["properties"]["price"]["anyOf"]
    pattern = re.compile(price[0]["pattern"])
    assert pattern.match("12.50")
    assert not pattern.match("")
    assert not pattern.match("-1")
    assert price[1]["minimum"] == 0
    name = re.compile(_component(schema, "ProductCreateInputRequest")["properties"]["name"]["pattern"])
    assert name.match("Polo")
    assert not name.match("   ")
    assert not name.match("a\x00b")
    currency = _component(schema, "ChannelInputRequest")["properties"]["currency"]
    assert "VND" in currency["enum"]


def _validator(schema, name):
    root = {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    return jsonschema.Draft7Validator(root)


def test_rules_between_fields_are_stated(schema):
    """Required-when and exactly-one rules, as a ``not`` a generated client keeps typed."""
    adjustment = _validator(schema, "StockAdjustmentInputRequest")
    base = {"sku": "SKU-1", "location": "wh-1", "reason": "count"}
    assert adjustment.is_valid({**base, "delta": 2})
    assert adjustment.is_valid({**base, "on_hand": 2})
    assert not adjustment.is_valid(base)
    assert not adjustment.is_valid({**base, "delta": 2, "on_hand": 2})
    order = _validator(schema, "OrderCreateInputRequest")
    lines = [{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}]
    address = {"line1": "1 Le Loi", "city": "HCMC", "country": "VN"}
    assert order.is_valid({"method": "ship", "lines": lines, "shipping_address": address})
    assert not order.is_valid({"method": "ship", "lines": lines})
    assert not order.is_valid({"method": "ship", "lines": lines, "shipping_address": None})
    point = {**address, "latitude": 10.7, "longitude": 106.7}
    assert order.is_valid({"method": "ship", "lines": lines, "shipping_address": point})
    half = {**address, "latitude": 10.7, "longitude": None}
    assert not order.is_valid({"method": "ship", "lines": lines, "shipping_address": half})
    assert order.is_valid({"method": "pickup", "lines": lines, "pickup_location": "st-1"})
    assert not order.is_valid({"method": "pickup", "lines": lines, "pickup_location": ""})
    staff = _validator(schema, "StaffCreateInputRequest")
    assert staff.is_valid({"username": "lan", "role": "associate", "locations": ["st-1"]})
    assert not staff.is_valid({"username": "lan", "role": "associate", "locations": []})
    assert not staff.is_valid({"username": "lan", "role": "associate"})
    assert staff.is_valid({"username": "boss", "role": "manager"})
    change = _validator(schema, "ChangeOperationInputRequest")
    assert change.is_valid({"op": "remove_line", "order_line": 3})
    assert not change.is_valid({"op": "remove_line"})
    assert not change.is_valid({"op": "add_line", "sku": "SKU-1", "quantity": 1})
    assert not change.is_valid({"op": "change_method", "method": "pickup"})


def test_time_zones_and_python_whitespace_are_stated(schema):
    timezone = schema["components"]["schemas"]["TimezoneEnum"]
    assert "Asia/Ho_Chi_Minh" in timezone["enum"]
    assert "0" not in timezone["enum"]
    assert len(set(timezone["x-enum-varnames"])) == len(timezone["enum"])  # Etc/GMT+1 vs Etc/GMT-1
    sku = re.compile(_component(schema, "ProductCreateInputRequest")["properties"]["sku"]["pattern"])
    assert sku.match("TEE-BLA-M")
    for space in (" ", "\x1f", "\x85", "\u3000"):  # what Python's \s (the server's regex) matches
        assert not sku.match(f"TEE{space}M")


def test_a_nullable_decimal_takes_a_blank_string_as_the_server_does(schema):
    payment = _validator(schema, "PaymentInputRequest")
    assert payment.is_valid({"authorized_amount": ""})  # DRF: blank is null for allow_null
    assert payment.is_valid({"authorized_amount": "12.50"})
    assert not payment.is_valid({"authorized_amount": "12.5.0"})
