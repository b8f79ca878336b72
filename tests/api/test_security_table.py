"""docs/security.md is the authorisation table of the API; this test enforces it: every row for
every role (manager, associate, a web channel client, a POS channel client) and anonymous callers,
and every endpoint of the OpenAPI schema must be in the table."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from fulfillment import services as fs
from fulfillment.models import FulfillmentOrder
from inventory.models import StockLevel
from inventory.transfers.services import TransferItem, transfer_create
from oms.actors import Actor
from oms.choices import ChannelKind
from oms.models import StaffProfile, WebhookEndpoint
from orders.models import OrderChangeRequest
from returns.services import ReturnLineInput, return_create
from tests.conftest import stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

TABLE = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ROW = re.compile(r"^\| (GET|POST|PATCH|PUT|DELETE) \| (\S+)" + r" \| (allow|deny)" * 4 + r" \|$")
ROLES = ("manager", "associate", "channel", "pos")
SYSTEM = Actor.system("security-table")


def table_rows() -> list[tuple[str, str, dict[str, str]]]:
    rows = []
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line.strip())
        if match:
            method, path, *verdicts = match.groups()
            rows.append((method, path, dict(zip(ROLES, verdicts, strict=True))))
    return rows


ROWS = table_rows()


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path.rstrip("/"))


def test_every_endpoint_of_the_schema_is_in_the_table():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {
        (method.upper(), _shape(path.removeprefix("/api/v1")))
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    in_table = {(method, _shape(path)) for method, path, _ in ROWS}
    assert documented - in_table == set(), "endpoints missing from docs/security.md"
    assert in_table - documented == set(), "rows of docs/security.md that are no endpoint"


@pytest.fixture
def objects(db, web_client, make_channel_client, manager, make_associate):
    store = StoreFactory(code="st-mine", latitude=Decimal("10.78"), longitude=Decimal("106.70"))
    LocationFactory(code="wh-1")
    product = ProductFactory(sku="SKU-1", price=Decimal("10.00"))
    stock_put(product, store, 10)
    other_store = StoreFactory(code="st-mine-2", latitude=Decimal("10.79"), longitude=Decimal("106.71"))
    associate = make_associate("ann", store, other_store)  # both ends of the transfer below
    body = {
        "customer": {"email": "buyer@example.com"},
        "method": "pickup",
        "pickup_location": "st-mine",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}],
    }
    order = web_client.api.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="t").json()
    fs.route_order(order_id=order["id"])
    fo = FulfillmentOrder.objects.get(order_id=order["id"])
    for step in (
        fs.fulfillment_order_accept,
        fs.fulfillment_order_ready_for_pickup,
        fs.fulfillment_order_picked_up,
    ):
        step(fulfillment_order_id=fo.pk, actor=SYSTEM)
    rma = return_create(
        order_id=order["id"],
        method="in_store",
        location_code="st-mine",
        lines=[ReturnLineInput(order_line_id=order["lines"][0]["id"], quantity=1, reason="wrong_size")],
        actor=SYSTEM,
    ).rma
    webhook = WebhookEndpoint.objects.create(url="https://example.com/hook", events=["*"], secret="s" * 32)
    change_request = OrderChangeRequest.objects.create(
        order_id=order["id"], operations=[], location_ids=[store.pk], actor_type="channel", actor_name="web"
    )
    cart = web_client.api.post(
        "/api/v1/carts",
        {"customer": {"email": "buyer@example.com"}, "lines": [{"sku": "SKU-1", "quantity": 1}]},
        format="json",
    ).json()
    price_list = manager.api.post(
        "/api/v1/price-lists", {"code": "shared", "currency": "USD"}, format="json"
    ).json()
    ids = {
        "channel": "web",
        "location": "st-mine",
        "product": "SKU-1",
        "stock": StockLevel.objects.get(product=product, location=store).pk,
        "order": order["id"],
        "customer": order["customer"]["id"],
        "fo": fo.pk,
        "return": rma.pk,
        "webhook": webhook.pk,
        "staff": StaffProfile.objects.get(user__username="ann").pk,
        "change_request": change_request.pk,
        "transfer": transfer_create(
            source=store,
            destination=other_store,
            items=[TransferItem(product=product, quantity=1)],
            actor=SYSTEM,
        ).pk,
        "cart": cart["id"],  # the web's; the POS has not worked on it and does not know the buyer
        "price_list": price_list["id"],  # shared by every channel in USD
    }
    pos = make_channel_client("pos", ChannelKind.POS)
    return {"ids": ids, "manager": manager, "associate": associate, "channel": web_client, "pos": pos}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "expected"), ROWS, ids=[f"{m} {p}" for m, p, _ in ROWS])
def test_the_table_holds(objects, role, method, path, expected, anon):
    url = "/api/v1" + path.format(**objects["ids"])
    headers = {"HTTP_IDEMPOTENCY_KEY": f"sec-{role}"} if method == "POST" else {}
    response = getattr(objects[role].api, method.lower())(url, {}, format="json", **headers)
    if expected[role] == "deny":
        assert response.status_code == 403, (role, method, url, response.status_code, response.content[:200])
    else:
        assert response.status_code not in (401, 403), (role, method, url, response.content[:200])
    anonymous = getattr(anon, method.lower())(url, {}, format="json")
    assert anonymous.status_code == 401
