"""Placing a pickup with ``allow_transfer`` through the API: the store's own units are held there,
the missing ones at the nearest ship-capable location for a transfer to the store, in the order's
transaction; without a shortage nothing changes."""

from __future__ import annotations

from fulfillment.models import FulfillmentOrder
from fulfillment.services import route_order
from inventory.models import StockLevel, TransferOrder
from orders.models import Order, OrderLine

from .conftest import pickup_body, post_order


def test_a_partial_store_holds_what_it_has_and_a_transfer_brings_the_rest(network, web_client):
    response = post_order(web_client, pickup_body("st-district1", ("SHIRT", 5), allow_transfer=True))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "backordered"
    assert [(r["sku"], r["location"], r["quantity"]) for r in body["reservations"]] == [
        ("SHIRT", "st-district1", 3)
    ]
    (transfer,) = TransferOrder.objects.all()
    assert (transfer.source.code, transfer.destination.code) == ("wh-hcm", "st-district1")
    assert (transfer.order_id, transfer.order_number) == (body["id"], body["number"])
    assert [(line.product.sku, line.quantity) for line in transfer.lines.all()] == [("SHIRT", 2)]
    assert StockLevel.objects.get(product=network.shirt, location=network.warehouse).reserved == 2
    assert OrderLine.objects.get(order_id=body["id"]).quantity_backordered == 2
    # routed: one fulfilment order at the store, waiting with the store's 3 units
    route_order(order_id=body["id"])
    (fo,) = FulfillmentOrder.objects.filter(order_id=body["id"])
    assert (fo.status, fo.location_id, sum(line.quantity for line in fo.lines.all())) == (
        "awaiting_transfer",
        network.store.pk,
        3,
    )


def test_allow_transfer_with_the_units_at_the_store_is_an_ordinary_pickup(network, web_client):
    response = post_order(web_client, pickup_body("st-district1", ("SHIRT", 2), allow_transfer=True))
    assert response.status_code == 201, response.json()
    assert response.json()["status"] != "backordered"
    assert not TransferOrder.objects.exists()
    route_order(order_id=response.json()["id"])
    assert FulfillmentOrder.objects.get(order_id=response.json()["id"]).status == "pending"


def test_nothing_anywhere_to_transfer_is_still_a_409(network, web_client):
    response = post_order(web_client, pickup_body("st-district1", ("JEANS", 50), allow_transfer=True))
    assert response.status_code == 409
    assert response.json()["extra"]["transfer_possible"] is False
    assert not Order.objects.exists()
    assert not TransferOrder.objects.exists()
