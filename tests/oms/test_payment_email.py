"""A payment the gateway refuses e-mails the customer (issue 19): the order waits on a payment hold
until it is sorted out. A captured payment is a webhook only (the shipped e-mail tells the customer)."""

from __future__ import annotations

from .test_notifications import emails_sent, html_of, network, on_commit, place  # noqa: F401


def test_a_declined_payment_e_mails_the_customer(network, on_commit, mailoutbox, settings):  # noqa: F811
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "1.00"
    with on_commit():
        order = place(network, ("SHIRT", 1))
    order.refresh_from_db()
    assert order.status == "on_hold"
    message = mailoutbox[-1]
    assert message.subject == f"We could not take payment for your order {order.number}"
    assert "so it is on hold for now" in message.body
    assert "Payment problem" in html_of(message)
    assert [e.data["template"] for e in emails_sent(order)] == ["order_confirmation", "payment_failed"]


def test_the_payment_e_mail_in_vietnamese(network, on_commit, mailoutbox, settings):  # noqa: F811
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "1.00"
    with on_commit():
        order = place(network, ("SHIRT", 1), language="vi")
    message = mailoutbox[-1]
    assert message.subject == f"Chúng tôi không thể thu tiền cho đơn hàng {order.number} của bạn"
    assert "Vấn đề thanh toán" in html_of(message)
