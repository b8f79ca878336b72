"""Cancelling an order e-mails the customer, in their language, once, through the outbox and the
notification registry like every customer e-mail."""

from __future__ import annotations

import pytest

from oms.actors import Actor
from oms.models import NotificationLog
from oms.notifications import Notification, notification_render
from orders.services import order_cancel

from .test_notifications import X, emails_sent, html_of, network, on_commit, place  # noqa: F401

SERVICE = Actor.system("service")


def test_cancelling_an_order_e_mails_the_customer(network, on_commit, mailoutbox):  # noqa: F811
    with on_commit():
        order = place(network, ("SHIRT", 2), ("JEANS", 1))
    with on_commit():
        order_cancel(order_id=order.pk, reason="fraud check failed", actor=SERVICE)
    message = mailoutbox[-1]
    assert message.to == ["ann@example.com"]
    assert message.subject == f"Your order {order.number} has been cancelled"
    assert "Hello Ann," in message.body
    assert f"Your order {order.number} has been cancelled." in message.body
    assert f"2 {X} Linen shirt (SHIRT)" in message.body
    assert f"1 {X} Slim jeans (JEANS)" in message.body
    assert "the payment will be released or refunded" in message.body
    assert "fraud check failed" not in message.body  # the reason may be internal
    html = html_of(message)
    assert "Order cancelled" in html
    assert "Linen shirt" in html
    assert [e.data["template"] for e in emails_sent(order)] == ["order_confirmation", "order_cancelled"]
    assert NotificationLog.objects.filter(topic="order.cancelled", status="sent").count() == 1


def test_the_cancellation_e_mail_in_vietnamese(network, on_commit, mailoutbox):  # noqa: F811
    with on_commit():
        order = place(network, ("SHIRT", 1), language="vi")
    with on_commit():
        order_cancel(order_id=order.pk, reason="requested", actor=SERVICE)
    message = mailoutbox[-1]
    assert message.subject == f"Đơn hàng {order.number} của bạn đã bị hủy"
    assert "Xin chào Ann," in message.body
    assert "Sản phẩm đã hủy:" in message.body
    assert "Nếu bạn đã thanh toán cho đơn hàng này" in message.body
    assert 'lang="vi"' in html_of(message)
    assert "Đơn hàng đã bị hủy" in html_of(message)


def test_cancelling_twice_sends_one_e_mail(network, on_commit, mailoutbox):  # noqa: F811
    with on_commit():
        order = place(network, ("SHIRT", 1))
    for _ in range(2):
        with on_commit():
            order_cancel(order_id=order.pk, reason="requested", actor=SERVICE)
    assert [m.subject for m in mailoutbox].count(f"Your order {order.number} has been cancelled") == 1


def test_a_pickup_cancelled_by_expiry_gets_only_the_expiry_e_mail(network, on_commit, mailoutbox):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from fulfillment import services as fulfillment
    from fulfillment.models import FulfillmentOrder
    from tests.conftest import SYSTEM

    with on_commit():
        order = place(network, ("SHIRT", 1), method="pickup")
    fo = FulfillmentOrder.objects.get(order=order)
    with on_commit():
        fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
    with on_commit():
        fulfillment.fulfillment_order_expire(
            fulfillment_order_id=fo.pk, now=timezone.now() + timedelta(days=30)
        )
    order.refresh_from_db()
    assert order.status == "cancelled"  # every unit expired: the status rule cancelled it
    assert [e.data["template"] for e in emails_sent(order)][-1] == "pickup_expired"
    assert "order_cancelled" not in [e.data["template"] for e in emails_sent(order)]


@pytest.mark.parametrize("language", ["en", "vi"])
def test_the_template_renders_without_lines(language):
    rendered = notification_render(
        Notification(
            recipient="a@example.com",
            template="order_cancelled",
            context={"order_number": "WEB-1", "lines": []},
            language=language,
        )
    )
    assert "WEB-1" in rendered.subject
    assert "WEB-1" in rendered.text
    assert "WEB-1" in rendered.html
