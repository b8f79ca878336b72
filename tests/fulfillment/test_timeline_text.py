"""The routing events of the order timeline name locations by code and always say why."""

from __future__ import annotations

import pytest

from fulfillment import services, subscribers
from fulfillment.services.common import RouteNote
from oms.actors import Actor
from orders.models import Order, OrderEvent

from .conftest import fulfillment_orders, place, store, warehouse
from .test_routing import stock

MANAGER = Actor(type="staff", name="manager", role="manager")


@pytest.fixture
def routed_by_hand(db, monkeypatch):
    """Routing runs when the test calls it, not on the order's commit or the rejection's."""
    monkeypatch.setattr(subscribers, "route_soon", lambda order_ids: None)


def routed_messages(order: Order) -> list[str]:
    return list(
        OrderEvent.objects.filter(order=order, kind="routed").order_by("pk").values_list("message", flat=True)
    )


def test_routed_names_the_location_by_its_code(routed_by_hand):
    depot = warehouse("wh-main", "10.8000", "106.7000")
    stock("SHIRT", depot, 5)
    order = place(("SHIRT", 1))
    services.route_order(order_id=order.pk)
    (fo,) = fulfillment_orders(order)
    (message,) = routed_messages(order)
    reason = "1 location (wh-main) holds every unit, 2.6 km away."
    assert message == f"Fulfilment order {fo.number} sent to wh-main. {reason}"
    assert f"location {depot.pk}" not in message


def test_after_a_rejection_the_new_location_is_named_with_the_reason(routed_by_hand):
    shop = store("st-near", "10.7770", "106.7010")
    depot = warehouse("wh-far", "10.9500", "106.8500")
    stock("SHIRT", shop, 5)
    stock("SHIRT", depot, 5)
    order = place(("SHIRT", 2))
    services.route_order(order_id=order.pk)
    (first,) = fulfillment_orders(order)
    services.fulfillment_order_reject(fulfillment_order_id=first.pk, reason="damaged stock", actor=MANAGER)
    services.route_order(order_id=order.pk)
    second = fulfillment_orders(order, location=depot)[0]
    first_message, second_message = routed_messages(order)
    assert first_message.startswith(f"Fulfilment order {first.number} sent to st-near. ")
    assert second_message.startswith(f"Fulfilment order {second.number} sent to wh-far. ")
    assert "1 location (wh-far) holds every unit" in second_message  # the re-route's reason, not empty
    for message in (first_message, second_message):
        assert not message.endswith((" ", ".."))
    rejected = OrderEvent.objects.get(order=order, kind="fulfillment_rejected")
    assert rejected.message == f"{first.number} rejected by st-near: damaged stock"


def test_a_note_without_a_reason_still_ends_in_a_sentence(db):
    depot = warehouse("wh-main", "10.8000", "106.7000")
    stock("SHIRT", depot, 5)
    order = place(("SHIRT", 1))
    services.route_order(order_id=order.pk)
    (fo,) = fulfillment_orders(order)
    assert RouteNote().sent(fo) == f"Fulfilment order {fo.number} sent to wh-main, where its units are held."
