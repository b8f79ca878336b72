"""Orders in the Django admin: read-only pages with lines, reservations, holds and the timeline
inline, and the actions cancel / hold / release that go through the services."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db.models import Sum
from django.test import Client

from inventory.models import StockLevel
from oms.staff import staff_create
from orders.models import Order, OrderEvent, OrderHold, OrderLine

from .conftest import pickup_body, post_order, ship_body

CHANGELIST = "/admin/orders/order/"


@pytest.fixture
def admin_client(db) -> Client:
    staff_create(username="boss", role="manager")
    client = Client()
    client.force_login(get_user_model().objects.get(username="boss"))
    return client


def place(authed, body: dict) -> Order:
    response = post_order(authed, body)
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def total_reserved() -> int:
    return StockLevel.objects.aggregate(total=Sum("reserved"))["total"] or 0


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def run_action(client: Client, action: str, *orders: Order, follow: bool = True, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in orders], **extra}
    return client.post(CHANGELIST, data, follow=follow)


def test_changelist_renders_with_filters_and_search(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 1)))
    pickup = place(web_client, pickup_body("st-district1", ("SHIRT", 1)))
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {order, pickup}
    by_store = admin_client.get(CHANGELIST, {"pickup_location__id__exact": network.store.pk})
    assert list(by_store.context["cl"].result_list) == [pickup]
    by_status = admin_client.get(CHANGELIST, {"status__exact": "on_hold"})
    assert list(by_status.context["cl"].result_list) == []
    by_channel = admin_client.get(CHANGELIST, {"channel__id__exact": order.channel_id})
    assert by_channel.status_code == 200
    searched = admin_client.get(CHANGELIST, {"q": order.number})
    assert list(searched.context["cl"].result_list) == [order]
    assert admin_client.get(CHANGELIST, {"q": "ann@example.com"}).status_code == 200


def test_change_page_shows_lines_reservations_holds_and_timeline(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 2), ("JEANS", 1)))
    assert run_action(admin_client, "hold_orders", order, apply="1", reason="address").status_code == 200

    response = admin_client.get(f"{CHANGELIST}{order.pk}/change/")

    assert response.status_code == 200
    formsets = {f.formset.prefix: f for f in response.context["inline_admin_formsets"]}
    # the timeline is no longer a table of events but sentences (issue 23): see below
    assert set(formsets) == {"lines", "reservations", "holds", "payment", "payment_transactions"}
    assert len(formsets["lines"].formset.queryset) == 2
    assert len(formsets["reservations"].formset.queryset) == 2
    assert len(formsets["holds"].formset.queryset) == 1
    content = response.content.decode()
    timeline = content.split('class="oms-timeline"')[1].split("</ol>")[0]
    assert timeline.count("<li>") == 3
    assert "Order placed on web" in timeline
    assert "Hold: address" in timeline
    for text in ("JEANS", "SHIRT", "wh-hcm"):
        assert text in content
    # read-only: no editable inputs for the lines, no delete or add
    assert 'name="lines-0-quantity"' not in content
    assert admin_client.get("/admin/orders/order/add/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}{order.pk}/delete/").status_code == 403


def test_a_change_page_post_changes_nothing(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 1)))
    admin_client.post(f"{CHANGELIST}{order.pk}/change/", {"status": "completed", "total": "0"})
    order.refresh_from_db()
    assert order.status == "received"
    assert str(order.total) == "10.00"


def test_cancel_action_cancels_through_the_service(network, web_client, admin_client):
    first = place(web_client, ship_body(("SHIRT", 2)))
    second = place(web_client, ship_body(("JEANS", 1)))
    assert total_reserved() == 3

    response = run_action(admin_client, "cancel_orders", first, second)

    assert response.status_code == 200
    assert ("success", "Cancelled 2 order(s).") in messages_of(response)
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}
    assert total_reserved() == 0
    event = OrderEvent.objects.get(order=first, kind="cancelled")
    assert event.actor_name == "boss"
    assert event.data["reason"] == "cancelled in admin"


def test_hold_action_asks_for_a_reason_then_holds(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 1)))

    form = run_action(admin_client, "hold_orders", order, follow=False)

    assert form.status_code == 200
    assert "admin/orders/hold_form.html" in [t.name for t in form.templates]
    assert order.number in form.content.decode()
    assert Order.objects.get(pk=order.pk).status == "received"
    assert not OrderHold.objects.exists()

    applied = run_action(admin_client, "hold_orders", order, apply="1", reason="fraud_review", note="check")

    assert applied.status_code == 200
    assert applied.redirect_chain  # back to the changelist
    assert ("success", "Held 1 order(s).") in messages_of(applied)
    order.refresh_from_db()
    assert order.status == "on_hold"
    hold = OrderHold.objects.get(order=order)
    assert (hold.reason, hold.note, hold.placed_by) == ("fraud_review", "check", "boss")
    assert total_reserved() == 1


def test_hold_action_with_a_bad_reason_shows_the_form_again(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 1)))
    response = run_action(admin_client, "hold_orders", order, follow=False, apply="1", reason="vibes")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not OrderHold.objects.exists()
    assert Order.objects.get(pk=order.pk).status == "received"


def test_release_action_releases_the_holds(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 1)))
    run_action(admin_client, "hold_orders", order, apply="1", reason="payment")
    assert Order.objects.get(pk=order.pk).status == "on_hold"

    response = run_action(admin_client, "release_holds", order)

    assert response.status_code == 200
    assert ("success", "Released 1 order(s).") in messages_of(response)
    order.refresh_from_db()
    assert order.status == "received"
    assert OrderHold.objects.get(order=order).released_by == "boss"
    assert OrderEvent.objects.filter(order=order, kind="hold_released").count() == 1


def test_a_failing_action_shows_an_error_not_a_500(network, web_client, admin_client):
    shipped = place(web_client, ship_body(("SHIRT", 2)))
    other = place(web_client, ship_body(("JEANS", 1)))
    OrderLine.objects.filter(order=shipped).update(quantity_fulfilled=1)

    response = run_action(admin_client, "cancel_orders", shipped, other)

    assert response.status_code == 200
    levels = dict(messages_of(response))
    assert levels["error"].startswith(f"{shipped.number}: ")
    assert "shipped or collected" in levels["error"]
    assert levels["success"] == "Cancelled 1 order(s)."
    assert Order.objects.get(pk=shipped.pk).status == "received"
    assert Order.objects.get(pk=other.pk).status == "cancelled"
    assert total_reserved() == 2


def test_releasing_an_order_without_a_hold_shows_an_error(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 1)))
    response = run_action(admin_client, "release_holds", order)
    assert response.status_code == 200
    assert [level for level, _ in messages_of(response)] == ["error"]
    assert Order.objects.get(pk=order.pk).status == "received"


def test_holding_a_cancelled_order_shows_an_error(network, web_client, admin_client):
    order = place(web_client, ship_body(("SHIRT", 1)))
    run_action(admin_client, "cancel_orders", order)
    response = run_action(admin_client, "hold_orders", order, apply="1", reason="manual")
    assert response.status_code == 200
    assert [level for level, _ in messages_of(response)] == ["error"]
    assert not OrderHold.objects.exists()


def test_idempotency_records_are_read_only_in_the_admin(network, web_client, admin_client):
    place(web_client, ship_body(("SHIRT", 1)))
    assert admin_client.get("/admin/orders/idempotencyrecord/").status_code == 200
    assert admin_client.get("/admin/orders/idempotencyrecord/add/").status_code == 403
