"""GET /customers/{id}/export and POST /customers/{id}/erase (manager): right of access and right to
erasure, keeping orders, stock and money intact."""

from __future__ import annotations

from decimal import Decimal

from oms.models import ChannelCustomerRef, Customer, NotificationLog
from orders.models import IdempotencyRecord, Order, OrderEvent

from .conftest import post_order, ship_body


def _order_with_ref(web_client):
    body = ship_body(("SHIRT", 2))
    body["customer"]["external_id"] = "shop-cust-9"
    response = post_order(web_client, body)
    assert response.status_code == 201
    return response.json()


def test_export_returns_everything_about_the_customer(network, web_client, manager):
    order = _order_with_ref(web_client)
    customer_id = order["customer"]["id"]
    response = manager.api.get(f"/api/v1/customers/{customer_id}/export")
    assert response.status_code == 200
    data = response.json()
    assert data["customer"]["email"] == "Ann@Example.com"
    assert data["customer"]["channel_refs"] == [{"channel": "web", "external_id": "shop-cust-9"}]
    assert [o["number"] for o in data["orders"]] == [order["number"]]
    exported = data["orders"][0]
    assert exported["shipping_address"]["line1"] == "1 Le Loi"
    assert {"lines", "reservations", "events", "fulfillment_orders"} <= exported.keys()


def test_erase_anonymises_the_person_and_keeps_the_records(network, web_client, manager):
    order = _order_with_ref(web_client)
    customer_id = order["customer"]["id"]
    NotificationLog.objects.create(
        topic="order.created",
        event_id=1,
        recipient="ann@example.com",
        template="order_confirmation",
        language="en",
        order_id=order["id"],
        status="sent",
    )
    response = manager.api.post(f"/api/v1/customers/{customer_id}/erase")
    assert response.status_code == 200
    customer = Customer.objects.get(pk=customer_id)
    assert (customer.email, customer.email_normalized, customer.phone, customer.name) == ("", "", "", "")
    assert customer.erased_at is not None
    assert not ChannelCustomerRef.objects.filter(customer=customer).exists()
    stored = Order.objects.get(pk=order["id"])
    assert stored.total == Decimal("20.00")
    assert stored.shipping_address["line1"] == ""
    assert stored.shipping_address["name"] == ""
    assert stored.shipping_address["country"] == "VN"
    assert stored.ship_latitude is None
    assert stored.lines.count() == 1
    assert stored.reservations.count() == 1
    assert not IdempotencyRecord.objects.filter(order=stored).exists()
    assert OrderEvent.objects.filter(order=stored, kind="note", message__contains="erased").exists()
    assert not NotificationLog.objects.filter(recipient__icontains="example.com").exists()
    # the erased person is no longer matched: the same e-mail makes a new customer
    again = post_order(web_client, ship_body(("SHIRT", 1)))
    assert again.json()["customer"]["id"] != customer_id
    # erasing twice is a no-op
    assert manager.api.post(f"/api/v1/customers/{customer_id}/erase").status_code == 200


def test_only_managers_export_or_erase(network, web_client, make_associate):
    order = _order_with_ref(web_client)
    customer_id = order["customer"]["id"]
    associate = make_associate("ann", network.store)
    for client in (web_client, associate):
        assert client.api.get(f"/api/v1/customers/{customer_id}/export").status_code == 403
        assert client.api.post(f"/api/v1/customers/{customer_id}/erase").status_code == 403
    assert Customer.objects.get(pk=customer_id).erased_at is None


def test_unknown_customer_is_404(network, manager):
    assert manager.api.get("/api/v1/customers/999999/export").status_code == 404
    assert manager.api.post("/api/v1/customers/nope/erase").status_code == 404
