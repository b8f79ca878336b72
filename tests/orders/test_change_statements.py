"""What an order change costs in statements (the bench's change: one quantity down, one line added),
and that its answer, built from the rows the change holds, is the order as a read shows it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .conftest import new_key, post_order, ship_body
from .test_changes import NEAR_WAREHOUSE

pytestmark = pytest.mark.django_db(transaction=True)


def _bench_change(web_client) -> tuple[dict, object, CaptureQueriesContext]:
    placed = post_order(web_client, ship_body(("SHIRT", 2), shipping_address=NEAR_WAREHOUSE))
    assert placed.status_code == 201, placed.json()
    order = placed.json()
    operations = [
        {"op": "change_quantity", "order_line": order["lines"][0]["id"], "quantity": 1},
        {"op": "add_line", "sku": "JEANS", "quantity": 1, "unit_price": "10.00"},
    ]
    with CaptureQueriesContext(connection) as ctx:
        response = web_client.api.post(
            f"/api/v1/orders/{order['id']}/changes",
            {"operations": operations},
            format="json",
            HTTP_IDEMPOTENCY_KEY=new_key(),
        )
    assert response.status_code == 201, response.json()
    return order, response, ctx


def test_a_change_runs_a_fixed_number_of_statements(network, web_client, monkeypatch):
    # count the request alone: routing and the payment's adjustment run after commit
    monkeypatch.setattr("oms.events.subscribers", lambda topic: [])
    post_order(web_client, ship_body(("SHIRT", 1)))  # warm up: the customer exists
    _order, _response, ctx = _bench_change(web_client)
    count = len(ctx.captured_queries)
    if connection.vendor == "postgresql":
        # BEGIN; the order locked with its customer, pickup store and last revision (the view
        # does not read it first: the lock is the 404 and the 403); its lines; its active
        # reservations with their fulfilment states (one read); the products added with their
        # stock and the new lines' ids; the units given back (the stock row and its ledger row:
        # one statement); the units held with every new reservation row (one); one batch (lines,
        # reservations, order, change rows, timeline, status, outbox); the answer's reads
        # (reservations, holds, timeline, payments, fulfilment orders, returns, exchanges); the
        # idempotency record; COMMIT; the outbox row marked (tests).
        assert count == 18, "\n".join(q["sql"][:120] for q in ctx.captured_queries)
    else:
        assert count <= 30, count


def test_the_answer_is_the_order_as_read_after_the_change(network, web_client, monkeypatch):
    monkeypatch.setattr("oms.events.subscribers", lambda topic: [])
    order, response, _ctx = _bench_change(web_client)
    detail = web_client.api.get(f"/api/v1/orders/{order['id']}")
    assert detail.status_code == 200
    assert response.json()["order"] == detail.json()
