"""A third-party integrator's view: a Python client generated from the served OpenAPI schema with
openapi-python-client (a dev dependency) runs the omnichannel flow against a live server — stock,
availability, ship and pickup orders, an idempotent replay, BOPIS, shipping, an in-store return
received and refunded by the POS key, the customer's history, a cancel and the 409s — and every
answer parses into the schema's models with nothing left over in ``additional_properties``.

So a schema that drifts from what the server answers (a field not declared, a status not listed,
an operation renamed) fails here. The generator must also produce no warning. Without the
generator installed this is skipped, except where ``OMS_REQUIRE_CLIENT_GENERATOR`` is set (CI),
where that is a failure."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from oms.choices import ChannelKind
from oms.services import api_client_create
from oms.staff import staff_create
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "oms_generated_client"
# Free-form by design: the generic error's ``extra`` (the codes whose extra has a fixed shape have
# their own typed error: InsufficientStockError ...), and a timeline event's ``data``, whose keys
# depend on its kind (documented as such); everything else must be declared.
FREE_FORM = {"ErrorExtra", "OrderEventOutputData"}


def _generator() -> str:
    found = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent)) or shutil.which(
        "openapi-python-client"
    )
    if found is None:
        reason = "openapi-python-client is not installed (pip install -e '.[dev]')"
        if os.environ.get("OMS_REQUIRE_CLIENT_GENERATOR"):  # CI installs it: missing is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture
def generated(live_server, tmp_path):  # type: ignore[no-untyped-def]
    """The client package generated from the live server's /api/schema/, importable."""
    generator = _generator()
    schema = httpx.get(f"{live_server.url}/api/schema/?format=json", timeout=30)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: only the generator
    result = subprocess.run(  # noqa: S603 - our own venv's generator on our own schema
        [
            generator,
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    yield importlib.import_module(PACKAGE)
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def leftovers(value: Any, path: str = "$") -> list[str]:
    """Every parsed model under ``value`` with fields the schema did not declare."""
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in leftovers(item, f"{path}[{i}]")]
    if not attrs.has(type(value)):
        return []
    name = type(value).__name__
    extra = getattr(value, "additional_properties", {})
    found = [f"{path} ({name}): {sorted(extra)}"] if extra and name not in FREE_FORM else []
    for field in attrs.fields(type(value)):
        if field.name != "additional_properties":
            found += leftovers(getattr(value, field.name), f"{path}.{field.name}")
    return found


class Integrator:
    """Calls operations of the generated client by module name, as one of the callers' keys."""

    def __init__(self, package: Any, base_url: str, keys: dict[str, str]):
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.clients = {
            who: package.AuthenticatedClient(base_url=base_url, token=key, timeout=30.0)
            for who, key in keys.items()
        }

    def body(self, model: str, data: dict[str, Any]) -> Any:
        return getattr(self.models, model).from_dict(data)

    def call(self, who: str, operation: str, status: int = 200, **kwargs: Any) -> Any:
        module = importlib.import_module(f"{PACKAGE}.api.{operation}")
        response = module.sync_detailed(client=self.clients[who], **kwargs)
        assert response.status_code == status, (operation, response.status_code, response.content[:300])
        parsed = response.parsed
        assert parsed is not None, (operation, "not parsed", response.content[:300])
        # an error parses into the house Error or the typed error of its code (InsufficientStockError ...)
        assert type(parsed).__name__.endswith("Error") == (status >= 400), (operation, type(parsed).__name__)
        assert leftovers(parsed) == [], (operation, leftovers(parsed))
        self.last = response
        return parsed


@pytest.fixture
def network(db):  # type: ignore[no-untyped-def]
    ChannelFactory(code="web", kind=ChannelKind.WEB, currency="USD")
    ChannelFactory(code="pos", kind=ChannelKind.POS, currency="USD")
    LocationFactory(code="wh-1", latitude=Decimal("10.80"), longitude=Decimal("106.65"))
    StoreFactory(
        code="st-1",
        latitude=Decimal("10.776"),
        longitude=Decimal("106.70"),
        accepts_returns=True,
        ship_from_store=False,  # online orders ship from the warehouse
    )
    ProductFactory(sku="SKU-1", price=Decimal("10.00"))
    _, manager = staff_create(username="boss", role="manager")
    _, web = api_client_create(name="storefront", channel_code="web")
    _, pos = api_client_create(name="till-st-1", channel_code="pos")
    return {"manager": manager, "web": web, "pos": pos}


def test_the_omnichannel_flow_through_a_generated_client(generated, live_server, network):
    api = Integrator(generated, live_server.url, network)
    # Staff: the manager makes the store's associate through the API (token shown once).
    clerk = api.call(
        "manager",
        "staff.staff_create",
        201,
        body=api.body(
            "StaffCreateInputRequest", {"username": "clerk", "role": "associate", "locations": ["st-1"]}
        ),
    )
    api.clients["clerk"] = generated.AuthenticatedClient(base_url=live_server.url, token=clerk.token)
    assert [e.kind for e in clerk.events] == ["created"]

    # Stock and what can be promised.
    for location, delta in (("wh-1", 10), ("st-1", 3)):
        adjustment = {"sku": "SKU-1", "location": location, "delta": delta, "reason": "receipt"}
        api.call(
            "manager",
            "inventory.inventory_adjustments_create",
            201,
            body=api.body("StockAdjustmentInputRequest", adjustment),
        )
    availability = api.call(
        "web", "availability.availability_retrieve", sku=["SKU-1"], latitude=10.776, longitude=106.70
    )
    assert availability.results[0].available == 10  # to ship: the warehouse (stores do not ship here)

    # A ship order, replayed with its key, and a pickup order (BOPIS) at the store.
    address = {
        "name": "Ann",
        "line1": "1 Le Loi",
        "city": "HCMC",
        "country": "VN",
        "latitude": "10.7769",
        "longitude": "106.7009",
    }
    customer = {"email": "ann@example.com", "name": "Ann"}
    line = {"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}
    ship_body = api.body(
        "OrderCreateInputRequest",
        {"method": "ship", "customer": customer, "shipping_address": address, "lines": [line]},
    )
    ship = api.call("web", "orders.orders_create", 201, body=ship_body, idempotency_key="cart-1")
    replay = api.call("web", "orders.orders_create", 201, body=ship_body, idempotency_key="cart-1")
    assert replay.id == ship.id
    assert api.last.headers["Idempotent-Replayed"] == "true"
    pickup_body = {
        "method": "pickup",
        "pickup_location": "st-1",
        "customer": customer,
        "lines": [{**line, "quantity": 1}],
    }
    pickup = api.call(
        "web",
        "orders.orders_create",
        201,
        body=api.body("OrderCreateInputRequest", pickup_body),
        idempotency_key="cart-2",
    )
    short = {**pickup_body, "lines": [{**line, "quantity": 50}]}
    refused = api.call(
        "web",
        "orders.orders_create",
        409,
        body=api.body("OrderCreateInputRequest", short),
        idempotency_key="cart-3",
    )
    assert refused.code == "insufficient_stock"

    # BOPIS: the store's associate readies it and hands it over.
    (bopis,) = api.call("clerk", "fulfillment_orders.fulfillment_orders_list", order=pickup.id).results
    assert bopis.location == "st-1"
    for step in ("accept", "ready_for_pickup", "picked_up"):
        bopis = api.call("clerk", f"fulfillment_orders.fulfillment_orders_{step}_create", id=bopis.id)
    assert bopis.status == "picked_up"

    # Ship: the warehouse picks, packs and ships; picking a shipped parcel is an illegal transition.
    (parcel,) = api.call("manager", "fulfillment_orders.fulfillment_orders_list", order=ship.id).results
    for step in ("accept", "pick", "pack"):
        api.call("manager", f"fulfillment_orders.fulfillment_orders_{step}_create", id=parcel.id)
    tracking = api.body("ShipInputRequest", {"carrier": "ups", "tracking_number": "1Z999"})
    assert (
        api.call(
            "manager", "fulfillment_orders.fulfillment_orders_ship_create", id=parcel.id, body=tracking
        ).status
        == "shipped"
    )
    again = api.call("manager", "fulfillment_orders.fulfillment_orders_pick_create", 409, id=parcel.id)
    assert again.code == "invalid_transition"

    # The shipped order comes back at the store: the POS opens, receives and refunds the return
    # for the associate at the till.
    shipped = api.call("pos", "orders.orders_retrieve", id=ship.id)
    assert shipped.status == "completed"
    rma_body = {
        "order": str(ship.id),
        "method": "in_store",
        "location": "st-1",
        "lines": [{"order_line": shipped.lines[0].id, "quantity": 1, "reason": "wrong_size"}],
    }
    rma = api.call("pos", "returns.returns_create", 201, body=api.body("ReturnCreateInputRequest", rma_body))
    receipt = {
        "associate": "clerk",
        "lines": [{"return_line": rma.lines[0].id, "quantity": 1, "disposition": "restock"}],
    }
    received = api.call(
        "pos",
        "returns.returns_receive_create",
        id=rma.id,
        body=api.body("ReturnReceiveInputRequest", receipt),
    )
    assert (received.status, received.receipts[0].received_by) == ("received", "clerk")
    too_much = api.call(
        "pos",
        "returns.returns_refund_create",
        409,
        id=rma.id,
        body=api.body("ReturnRefundInputRequest", {"amount": "99.00", "associate": "clerk"}),
    )
    assert too_much.code == "refund_exceeds_paid"
    refund = api.call(
        "pos",
        "returns.returns_refund_create",
        201,
        id=rma.id,
        body=api.body(
            "ReturnRefundInputRequest", {"amount": "10.00", "method": "cash", "associate": "clerk"}
        ),
        idempotency_key="till-1",
    )
    assert (refund.created_by, refund.refundable) == ("clerk", "10.00")
    nobody = api.call(
        "pos",
        "returns.returns_refund_create",
        403,
        id=rma.id,
        body=api.body("ReturnRefundInputRequest", {"amount": "1.00"}),
    )
    assert nobody.code == "associate_required"
    web_refund = api.call(
        "web",
        "returns.returns_refund_create",
        403,
        id=rma.id,
        body=api.body("ReturnRefundInputRequest", {"amount": "1.00", "associate": "clerk"}),
    )
    assert web_refund.code == "permission_denied"

    # The unified history: both orders, the return on the shipped one.
    (person,) = api.call("manager", "customers.customers_list", email="ann@example.com").results
    history = api.call("web", "customers.customers_orders_list", id=person.id).results
    assert {o.id for o in history} == {ship.id, pickup.id}
    detail = api.call("manager", "orders.orders_retrieve", id=ship.id)
    assert [r.id for r in detail.returns] == [rma.id]
    assert {"return_received", "refund_created"} <= {e.kind for e in detail.events}

    # Cancel an order before it ships; a completed one cannot be.
    spare = {**pickup_body, "lines": [{**line, "quantity": 1}]}
    later = api.call(
        "web",
        "orders.orders_create",
        201,
        body=api.body("OrderCreateInputRequest", spare),
        idempotency_key="cart-4",
    )
    cancel = api.body("OrderCancelInputRequest", {"reason": "changed my mind"})
    assert api.call("web", "orders.orders_cancel_create", id=later.id, body=cancel).status == "cancelled"
    late = api.call("web", "orders.orders_cancel_create", 409, id=ship.id, body=cancel)
    assert late.code in ("invalid_transition", "order_not_cancellable")


def test_the_walk_finds_undeclared_fields_at_any_depth():
    @attrs.define
    class Inner:
        additional_properties: dict[str, Any] = attrs.field(factory=dict)

    @attrs.define
    class Outer:
        items: list[Inner]
        additional_properties: dict[str, Any] = attrs.field(factory=dict)

    clean = Outer(items=[Inner(), Inner()])
    assert leftovers(clean) == []
    clean.items[1].additional_properties["surprise"] = 1
    assert leftovers(clean) == ["$.items[1] (Inner): ['surprise']"]
