"""Changing an order e-mails the customer what it holds now and its new total, in their language,
through the outbox and the notification registry like every customer e-mail (issue 19)."""

from __future__ import annotations

from orders.models import OrderLine
from orders.services import ChangeInput, ChangeOperation, order_change

from .test_cancellation_email import SERVICE
from .test_notifications import X, emails_sent, html_of, network, on_commit, place  # noqa: F401


def _one_unit_off(order) -> ChangeInput:  # type: ignore[no-untyped-def]
    line = OrderLine.objects.get(order=order, sku="SHIRT")
    return ChangeInput(operations=[ChangeOperation(kind="cancel_units", order_line=line.pk, quantity=1)])


def test_a_change_e_mails_what_the_order_holds_now(network, on_commit, mailoutbox):  # noqa: F811
    with on_commit():
        order = place(network, ("SHIRT", 3), ("JEANS", 1))
    with on_commit():
        order_change(order_id=order.pk, data=_one_unit_off(order), actor=SERVICE)
    message = mailoutbox[-1]
    assert message.to == ["ann@example.com"]
    assert message.subject == f"Your order {order.number} has been changed"
    assert f"2 {X} Linen shirt (SHIRT)" in message.body
    assert f"1 {X} Slim jeans (JEANS)" in message.body
    assert "New total: 39.50 USD" in message.body  # 2 shirts and the jeans at 12.50, shipping 2.00
    assert "You pay less" in message.body
    assert "Order changed" in html_of(message)
    assert [e.data["template"] for e in emails_sent(order)] == ["order_confirmation", "order_changed"]


def test_the_change_e_mail_in_vietnamese(network, on_commit, mailoutbox):  # noqa: F811
    with on_commit():
        order = place(network, ("SHIRT", 2), language="vi")
    with on_commit():
        order_change(order_id=order.pk, data=_one_unit_off(order), actor=SERVICE)
    message = mailoutbox[-1]
    assert message.subject == f"Đơn hàng {order.number} của bạn đã được thay đổi"
    assert "Tổng mới: 14,50 USD" in message.body  # Vietnamese decimals
    assert "Bạn trả ít hơn" in message.body
    assert "Đơn hàng đã thay đổi" in html_of(message)
