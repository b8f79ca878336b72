"""API fuzzing with schemathesis over the project's own OpenAPI schema: every operation, as a
manager and as a channel client, must answer without a 5xx and as the schema says (status codes
and bodies). The number of examples per operation is bounded for CI (``OMS_FUZZ_EXAMPLES``)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi import application
from oms.services import api_client_create
from oms.staff import staff_create
from tests.conftest import stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
EXAMPLES = int(os.environ.get("OMS_FUZZ_EXAMPLES", "6"))
CHECKS = (not_a_server_error, status_code_conformance, response_schema_conformance)


@pytest.fixture
def in_test_transaction():
    """Calls go straight to the WSGI app, whose request signals would close the test's database
    connection (it is inside the test transaction); Django's test client unhooks them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_identities(db, in_test_transaction) -> list[dict[str, str]]:
    ChannelFactory(code="web", currency="USD")
    warehouse = LocationFactory(code="wh-1")
    store = StoreFactory(code="st-1", latitude=Decimal("10.78"), longitude=Decimal("106.70"))
    product = ProductFactory(sku="SKU-1", price=Decimal("10.00"))
    stock_put(product, warehouse, 50)
    stock_put(product, store, 5)
    _, manager = staff_create(username="fuzz-manager", role="manager")
    _, client = api_client_create(name="fuzz-web", channel_code="web")
    return [{"Authorization": f"Bearer {manager}"}, {"Authorization": f"Bearer {client}"}]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_5xx_or_off_schema(case, fuzz_identities):
    for headers in fuzz_identities:
        extra = {"Idempotency-Key": "fuzz"} if case.method == "POST" else {}
        response = case.call(headers={**headers, **extra})
        case.validate_response(response, checks=CHECKS)
