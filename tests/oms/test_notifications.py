"""Customer e-mails: sent through Django's e-mail framework by the notification task, from text +
HTML templates, in the customer's language (English, Vietnamese), once per event even when the task
runs twice, each recorded on the order's timeline."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from fulfillment import services as fulfillment
from fulfillment.models import FulfillmentOrder
from oms import events
from oms.models import NotificationLog, NotificationStatus, OutboxEvent
from oms.notifications import (
    Notification,
    has_notifications,
    language_for,
    notification_register,
    notification_render,
)
from oms.outbox import outbox_relay
from oms.tasks import notification_send, notification_send_many
from orders.models import Order, OrderEvent
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from tests.conftest import SYSTEM, stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

X = "\N{MULTIPLICATION SIGN}"  # as in "2 x Linen shirt" in the e-mails
ADDRESS = {"name": "Ann Lee", "line1": "1 Le Loi", "city": "Ho Chi Minh City", "country": "VN"}


@pytest.fixture
def network(db):
    warehouse = LocationFactory(code="wh-hcm", latitude=Decimal("10.8"), longitude=Decimal("106.65"))
    store = StoreFactory(
        code="st-d1",
        name="Saigon Centre Store",
        address="65 Le Loi, District 1",
        city="Ho Chi Minh City",
        opening_hours="Mon-Sun 09:00-21:00",
        latitude=Decimal("10.776"),
        longitude=Decimal("106.70"),
        ship_from_store=False,
    )
    shirt = ProductFactory(sku="SHIRT", name="Linen shirt")
    jeans = ProductFactory(sku="JEANS", name="Slim jeans")
    for product in (shirt, jeans):
        stock_put(product, warehouse, 50)
        stock_put(product, store, 50)
    return {"channel": ChannelFactory(code="web"), "warehouse": warehouse, "store": store}


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run a block's after-commit work (events, eager tasks) as a real commit would."""

    @contextlib.contextmanager
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return run


def place(
    network,
    *lines: tuple[str, int],
    method: str = "ship",
    email: str = "ann@example.com",
    language: str = "",
    name: str = "Ann",
    phone: str = "",
) -> Order:
    data = OrderInput(
        channel=network["channel"],
        method=method,
        currency="USD",
        lines=[LineInput(sku=sku, quantity=q, unit_price=Decimal("12.50")) for sku, q in lines],
        customer=CustomerInput(email=email, name=name, language=language, phone=phone),
        pickup_location=network["store"].code if method == "pickup" else "",
        shipping_address=ADDRESS if method == "ship" else {},
        latitude=Decimal("10.77") if method == "ship" else None,
        longitude=Decimal("106.70") if method == "ship" else None,
        shipping_total=Decimal("2.00") if method == "ship" else Decimal("0"),
    )
    return order_place(data=data, actor=SYSTEM).order


def html_of(message: EmailMultiAlternatives) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


def emails_sent(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order, kind="email_sent").order_by("pk"))


def only_fulfillment_order(order: Order) -> FulfillmentOrder:
    return FulfillmentOrder.objects.select_related("location").get(order=order)


# --- Order confirmation --------------------------------------------------------------------------------


def test_order_confirmation_in_english_with_lines_totals_and_address(network, on_commit, mailoutbox):
    with on_commit():
        order = place(network, ("SHIRT", 2), ("JEANS", 1))

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ann@example.com"]
    assert message.subject == f"Your order {order.number} is confirmed"
    assert "Hello Ann," in message.body
    assert f"2 {X} Linen shirt (SHIRT): 25.00 USD" in message.body
    assert f"1 {X} Slim jeans (JEANS): 12.50 USD" in message.body
    assert "Total: 39.50 USD" in message.body
    assert "Delivery method: delivery to your address" in message.body
    assert "1 Le Loi" in message.body
    assert "&amp;" not in message.body  # plain text is not HTML-escaped
    html = html_of(message)
    assert "<html" in html
    assert "Linen shirt" in html
    assert "39.50 USD" in html
    assert 'lang="en"' in html

    (event,) = emails_sent(order)
    assert event.message == f"E-mail 'Your order {order.number} is confirmed' sent to ann@example.com"
    assert event.data["template"] == "order_confirmation"
    assert event.actor_name == "notifications"
    log = NotificationLog.objects.get()
    assert (log.status, log.recipient, log.language, log.order_id) == (
        "sent",
        "ann@example.com",
        "en",
        order.pk,
    )
    assert log.event_id == OutboxEvent.objects.get(topic="order.created").pk


def test_order_confirmation_in_vietnamese(network, on_commit, mailoutbox):
    with on_commit():
        order = place(network, ("SHIRT", 1), email="lan@example.com", name="Lan", language="vi")

    message = mailoutbox[0]
    assert message.subject == f"Đơn hàng {order.number} của bạn đã được xác nhận"
    assert "Xin chào Lan," in message.body
    assert "Tạm tính" in message.body
    assert "Hình thức nhận hàng: giao đến địa chỉ của bạn" in message.body
    assert "Tổng cộng: 14,50 USD" in message.body  # Vietnamese number format
    assert "Your order" not in message.body
    html = html_of(message)
    assert 'lang="vi"' in html
    assert "Cảm ơn bạn đã mua sắm cùng chúng tôi." in html
    assert NotificationLog.objects.get().language == "vi"
    assert len(emails_sent(order)) == 1


def test_a_pickup_confirmation_names_the_store(network, on_commit, mailoutbox):
    with on_commit():
        place(network, ("SHIRT", 1), method="pickup")
    body = mailoutbox[0].body
    assert "Delivery method: pick up in store" in body
    for detail in ("Saigon Centre Store", "65 Le Loi, District 1", "Opening hours: Mon-Sun 09:00-21:00"):
        assert detail in body
        assert detail in html_of(mailoutbox[0])


def test_one_email_per_event_even_if_the_task_runs_twice(network, on_commit, mailoutbox):
    with on_commit():
        order = place(network, ("SHIRT", 1))
    event = OutboxEvent.objects.get(topic="order.created")
    assert len(mailoutbox) == 1

    kwargs = {"topic": "order.created", "event_id": event.pk, "payload": event.payload}
    notification_send.delay(**kwargs).get()  # a redelivered task
    notification_send.apply(kwargs=kwargs).get()
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    outbox_relay(now=timezone.now() + timedelta(minutes=1))  # a re-dispatched event

    assert len(mailoutbox) == 1
    assert len(emails_sent(order)) == 1
    assert NotificationLog.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_claims_in_autocommit_and_sends_once(network, mailoutbox):
    """A worker runs the task outside any transaction: the claim is one INSERT committing on its
    own (no BEGIN/COMMIT around it), and a second delivery of the task still sends nothing."""
    from django.db import connection

    order = place(network, ("SHIRT", 1))  # committed (autocommit test); e-mail sent eagerly
    assert len(mailoutbox) == 1
    mailoutbox.clear()
    NotificationLog.objects.all().delete()
    OrderEvent.objects.filter(order=order, kind="email_sent").delete()
    event = OutboxEvent.objects.get(topic="order.created")
    kwargs = {"topic": "order.created", "event_id": event.pk, "payload": event.payload}

    claims: list[bool] = []  # was the claim's INSERT inside a transaction block?

    def watch(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "notificationlog" in sql:
            claims.append(connection.in_atomic_block)
        return execute(sql, params, many, context)

    assert not connection.in_atomic_block
    with connection.execute_wrapper(watch):
        assert notification_send.apply(kwargs=kwargs).successful()
    assert claims == [False]
    assert len(mailoutbox) == 1

    # redelivered: the claim conflicts, nothing sent
    assert notification_send.apply(kwargs=kwargs).successful()
    assert len(mailoutbox) == 1
    assert NotificationLog.objects.get().status == NotificationStatus.SENT
    assert len(emails_sent(order)) == 1


def test_an_email_costs_two_writes_on_postgresql(network, mailoutbox):
    """On PostgreSQL a worker's e-mail writes twice, each one statement with no transaction around
    it: the claim (INSERT ... ON CONFLICT DO NOTHING) and, once sent, the log's mark with the
    order's ``email_sent`` event. A redelivery's claim finds the row (its retake of a stale claim
    matches nothing): nothing is sent or marked again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement writes are PostgreSQL's; elsewhere the ORM writes each row")
    order = place(network, ("SHIRT", 1))
    mailoutbox.clear()
    NotificationLog.objects.all().delete()
    OrderEvent.objects.filter(order=order, kind="email_sent").delete()
    event = OutboxEvent.objects.get(topic="order.created")
    kwargs = {"topic": "order.created", "event_id": event.pk, "payload": event.payload}

    with CaptureQueriesContext(connection) as ctx:
        assert notification_send.apply(kwargs=kwargs).successful()
    writes = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("SELECT")]
    assert len(writes) == 2, writes
    assert writes[0].startswith("INSERT")
    assert "ON CONFLICT DO NOTHING" in writes[0]
    assert writes[1].startswith("WITH w0 AS (UPDATE")
    assert "orders_orderevent" in writes[1]
    log = NotificationLog.objects.get()
    assert (log.status, log.subject) == (NotificationStatus.SENT, mailoutbox[0].subject)
    (sent,) = emails_sent(order)
    assert sent.data["notification"] == log.pk
    assert sent.message == f"E-mail '{log.subject}' sent to {log.recipient}"

    with CaptureQueriesContext(connection) as ctx:  # redelivered
        assert notification_send.apply(kwargs=kwargs).successful()
    writes = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("SELECT")]
    assert [w.split(None, 1)[0] for w in writes] == ["INSERT", "UPDATE"]
    assert len(mailoutbox) == 1
    assert len(emails_sent(order)) == 1


def test_each_event_is_its_own_email(network, on_commit, mailoutbox):
    with on_commit():
        place(network, ("SHIRT", 1))
        place(network, ("SHIRT", 1))
    assert len(mailoutbox) == 2
    assert len({m.subject for m in mailoutbox}) == 2


def test_a_customer_without_email_is_skipped_and_logged(network, on_commit, mailoutbox, caplog):
    caplog.set_level("INFO", logger="oms.notifications")
    with on_commit():
        order = place(network, ("SHIRT", 1), email="", phone="+84 90 123 4567")
    assert mailoutbox == []
    assert emails_sent(order) == []
    log = NotificationLog.objects.get()
    assert (log.status, log.recipient, log.order_id) == (NotificationStatus.SKIPPED, "", order.pk)
    assert "no e-mail address" in caplog.text


def test_a_failed_send_is_retried_and_still_sends_once(network, on_commit, mailoutbox, monkeypatch):
    real_send = EmailMultiAlternatives.send
    calls = {"n": 0}

    def flaky_send(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionRefusedError("SMTP server restarting")
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky_send)
    with on_commit():
        order = place(network, ("SHIRT", 1))
    # failed: the log says so; eagerly run, the task's retry surfaces as a failed dispatch, so the
    # outbox event stays undispatched for the relay (on a broker, Celery retries the task itself)
    assert calls["n"] == 1
    log = NotificationLog.objects.get()
    assert log.status == NotificationStatus.FAILED
    assert "SMTP server restarting" in log.error
    assert OutboxEvent.objects.get(topic="order.created").dispatched_at is None

    outbox_relay(now=timezone.now() + timedelta(minutes=1))

    assert len(mailoutbox) == 1
    log.refresh_from_db()
    assert (log.status, log.attempts) == (NotificationStatus.SENT, 2)
    assert len(emails_sent(order)) == 1


@pytest.fixture
def marking_rounds(monkeypatch, settings):  # with transaction=True: a round is its own session
    """Production's marking: dispatched events wait for the process's marking round (a fresh
    marker whose thread waits long enough that only ``outbox_marks_flush()`` runs a round)."""
    settings.OMS_OUTBOX_MARK_DELAY_SECONDS = 60.0
    marker = events._Marker()
    monkeypatch.setattr(events, "_marker", marker)
    return marker


@pytest.mark.django_db(transaction=True)  # the marking round closes stale connections
def test_emails_wait_for_the_marking_round_and_go_in_one_task(
    network, on_commit, mailoutbox, marking_rounds, monkeypatch
):
    """The web's after-commit path enqueues no e-mail: the process's marking round enqueues one
    ``notification_send_many`` for every e-mail waiting, then marks their events."""
    from oms import subscribers

    enqueued: list[dict] = []
    monkeypatch.setattr(
        subscribers,
        "notification_send_many",
        SimpleNamespace(
            delay=lambda **kwargs: enqueued.append(kwargs) or notification_send_many.delay(**kwargs)
        ),
    )
    with on_commit():
        orders = [place(network, ("SHIRT", 1), email=f"c{n}@example.com") for n in range(3)]
    assert mailoutbox == []
    # the round also carries each order's payment authorisation (issue 19): the e-mails are the dicts
    assert len([item for item in marking_rounds.pending_items() if isinstance(item, dict)]) == 3
    created = OutboxEvent.objects.filter(topic="order.created")
    assert created.filter(dispatched_at__isnull=True).count() == 3

    events.outbox_marks_flush()

    assert len(enqueued) == 1
    assert [item["event_id"] for item in enqueued[0]["events"]] == sorted(
        created.values_list("pk", flat=True)
    )
    assert sorted(message.to[0] for message in mailoutbox) == [f"c{n}@example.com" for n in range(3)]
    for order in orders:
        assert len(emails_sent(order)) == 1
    assert created.filter(dispatched_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)  # the marking round closes stale connections
def test_one_waiting_email_goes_in_its_own_task(network, on_commit, mailoutbox, marking_rounds):
    with on_commit():
        place(network, ("SHIRT", 1))
    assert mailoutbox == []
    events.outbox_marks_flush()
    assert len(mailoutbox) == 1
    assert NotificationLog.objects.get().status == NotificationStatus.SENT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_marking_thread_sends_the_waiting_emails(network, mailoutbox, settings, monkeypatch):
    """As in production: the process's own marking thread, within its delay, enqueues the e-mail
    (run eagerly here, in that thread) and then marks the event."""
    import time

    settings.OMS_OUTBOX_MARK_DELAY_SECONDS = 0.05
    monkeypatch.setattr(events, "_marker", events._Marker())
    order = place(network, ("SHIRT", 1))  # committed: the dispatch defers the e-mail
    created = OutboxEvent.objects.get(topic="order.created")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        created.refresh_from_db()
        if created.dispatched_at is not None:
            break
        time.sleep(0.02)
    assert created.dispatched_at is not None
    assert [message.to for message in mailoutbox] == [["ann@example.com"]]
    assert len(emails_sent(order)) == 1


def test_a_batch_sends_the_others_and_hands_a_failing_event_to_its_own_task(network, mailoutbox, monkeypatch):
    from oms import tasks

    for n in range(3):
        place(network, ("SHIRT", 1), email=f"c{n}@example.com")  # no commit: nothing sent yet
    items = [
        {"topic": event.topic, "event_id": event.pk, "payload": event.payload}
        for event in OutboxEvent.objects.filter(topic="order.created").order_by("pk")
    ]
    real_send = EmailMultiAlternatives.send
    refused: list[str] = []

    def smtp_refuses_c1_once(self, *args, **kwargs):
        if self.to == ["c1@example.com"] and not refused:
            refused.append(self.to[0])
            raise ConnectionRefusedError("SMTP server restarting")
        return real_send(self, *args, **kwargs)

    handed: list[dict] = []
    monkeypatch.setattr(EmailMultiAlternatives, "send", smtp_refuses_c1_once)
    monkeypatch.setattr(tasks, "notification_send", SimpleNamespace(delay=lambda **kw: handed.append(kw)))

    assert notification_send_many.apply(kwargs={"events": items}).successful()

    assert sorted(message.to[0] for message in mailoutbox) == ["c0@example.com", "c2@example.com"]
    assert handed == [items[1]]  # retried on its own, with notification_send's retries
    failed = NotificationLog.objects.get(recipient="c1@example.com")
    assert failed.status == NotificationStatus.FAILED
    assert notification_send.apply(kwargs=handed[0]).successful()  # the handed task, run
    assert len(mailoutbox) == 3

    # the whole batch delivered again: every e-mail is claimed, nothing is sent twice
    assert notification_send_many.apply(kwargs={"events": items}).successful()
    assert len(mailoutbox) == 3
    assert NotificationLog.objects.filter(status=NotificationStatus.SENT).count() == 3


def test_a_batch_reads_claims_and_marks_once_for_all_its_emails_on_postgresql(network, mailoutbox):
    """On PostgreSQL a batch of confirmations costs the same statements whatever its size: the
    orders and their lines (two reads), every claim (one INSERT), every sent mark with its
    ``email_sent`` event (one statement). Each e-mail is still rendered and sent on its own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("the set-based claims and marks are PostgreSQL's; elsewhere one e-mail at a time")
    orders = [place(network, ("SHIRT", 1), ("JEANS", 2), email=f"c{n}@example.com") for n in range(5)]
    items = [
        {"topic": event.topic, "event_id": event.pk, "payload": event.payload}
        for event in OutboxEvent.objects.filter(topic="order.created").order_by("pk")
    ]
    counts = []
    for batch in (items[:2], items[2:]):
        with CaptureQueriesContext(connection) as ctx:
            assert notification_send_many.apply(kwargs={"events": batch}).successful()
        counts.append([q["sql"].split(None, 1)[0] for q in ctx.captured_queries])
    assert counts[0] == counts[1] == ["SELECT", "SELECT", "INSERT", "WITH"], counts
    assert sorted(message.to[0] for message in mailoutbox) == [f"c{n}@example.com" for n in range(5)]
    assert f"2 {X} Slim jeans (JEANS)" in mailoutbox[0].body
    for order in orders:
        (sent,) = emails_sent(order)
        log = NotificationLog.objects.get(order_id=order.pk)
        assert (log.status, log.error) == (NotificationStatus.SENT, "")
        assert log.sent_at is not None
        assert sent.data["notification"] == log.pk
        assert sent.message == f"E-mail '{log.subject}' sent to {log.recipient}"


def test_a_batch_builds_one_by_one_when_its_many_builder_fails(db, monkeypatch, mailoutbox):
    monkeypatch.setattr("oms.notifications._registry", defaultdict(list))

    def build(topic: str, payload: dict) -> Notification | None:
        if payload["email"] == "broken":
            raise ValueError("no such order")
        return Notification(
            recipient=payload["email"],
            template="shipped",
            context={"order_number": "X-1", "carrier": "GHN", "tracking_number": "T", "lines": []},
        )

    def build_many(topic: str, payloads: list[dict]) -> list:
        raise ConnectionError("database restarting")

    notification_register("test.hello", build, build_many=build_many)
    items = [
        {"topic": "test.hello", "event_id": n, "payload": {"email": email}}
        for n, email in enumerate(["ann@example.com", "broken", "bob@example.com"], start=1)
    ]
    handed: list[dict] = []
    monkeypatch.setattr("oms.tasks.notification_send", SimpleNamespace(delay=lambda **kw: handed.append(kw)))
    assert notification_send_many.apply(kwargs={"events": items}).successful()
    assert sorted(message.to[0] for message in mailoutbox) == ["ann@example.com", "bob@example.com"]
    assert handed == [items[1]]  # the one whose build failed, retried on its own


def test_a_claim_left_by_a_dead_worker_is_retaken_only_when_stale(network, mailoutbox, settings):
    order = place(network, ("SHIRT", 1))  # no commit: nothing sent yet
    event = OutboxEvent.objects.get(topic="order.created")
    claim = NotificationLog.objects.create(
        topic="order.created",
        event_id=event.pk,
        recipient="ann@example.com",
        template="order_confirmation",
        language="en",
        order_id=order.pk,
        status=NotificationStatus.SENDING,
        attempts=1,
        claimed_at=timezone.now(),
    )
    kwargs = {"topic": "order.created", "event_id": event.pk, "payload": event.payload}
    assert notification_send.delay(**kwargs).get() == []  # another worker may be sending it
    assert mailoutbox == []

    NotificationLog.objects.filter(pk=claim.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.OMS_NOTIFICATION_CLAIM_SECONDS + 1)
    )
    assert notification_send.delay(**kwargs).get() == [claim.pk]
    assert len(mailoutbox) == 1
    claim.refresh_from_db()
    assert (claim.status, claim.attempts) == (NotificationStatus.SENT, 2)


# --- Fulfilment e-mails ---------------------------------------------------------------------------------


def test_ready_for_pickup_gives_store_address_hours_and_deadline(network, on_commit, mailoutbox):
    with on_commit():
        order = place(network, ("SHIRT", 1), ("JEANS", 2), method="pickup")
    fo = only_fulfillment_order(order)
    with on_commit():
        fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)

    assert len(mailoutbox) == 2
    message = mailoutbox[1]
    fo.refresh_from_db()
    assert message.subject == f"Your order {order.number} is ready for pickup"
    for detail in (
        "Saigon Centre Store",
        "65 Le Loi, District 1",
        "Opening hours: Mon-Sun 09:00-21:00",
        f"2 {X} Slim jeans (JEANS)",
        f"until {fo.pickup_expires_at:%b.} {fo.pickup_expires_at.day}, {fo.pickup_expires_at.year}",
        "(UTC)",
    ):
        assert detail in message.body, detail
    assert "Saigon Centre Store" in html_of(message)
    assert [e.data["template"] for e in emails_sent(order)] == ["order_confirmation", "ready_for_pickup"]


def test_ready_for_pickup_in_vietnamese(network, on_commit, mailoutbox):
    with on_commit():
        order = place(network, ("SHIRT", 1), method="pickup", language="vi", name="Lan")
    fo = only_fulfillment_order(order)
    with on_commit():
        fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
    message = mailoutbox[-1]
    assert message.subject == f"Đơn hàng {order.number} của bạn đã sẵn sàng để nhận"
    assert "Chúng tôi sẽ giữ hàng cho bạn đến" in message.body
    assert "tháng" in message.body  # the deadline in Vietnamese date format
    assert "Giờ mở cửa: Mon-Sun 09:00-21:00" in message.body


def test_shipped_gives_carrier_and_tracking(network, on_commit, mailoutbox):
    with on_commit():
        order = place(network, ("SHIRT", 1), language="vi")
    fo = only_fulfillment_order(order)
    with on_commit():
        for step in (
            fulfillment.fulfillment_order_accept,
            fulfillment.fulfillment_order_pick,
            fulfillment.fulfillment_order_pack,
        ):
            step(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_ship(
            fulfillment_order_id=fo.pk, carrier="GHN", tracking_number="GHN123456VN", actor=SYSTEM
        )
    message = mailoutbox[-1]
    assert message.subject == f"Đơn hàng {order.number} của bạn đã được gửi đi"
    assert "Đơn vị vận chuyển: GHN" in message.body
    assert "Mã vận đơn: GHN123456VN" in message.body
    assert "GHN123456VN" in html_of(message)
    assert [e.data["template"] for e in emails_sent(order)] == ["order_confirmation", "shipped"]


def test_pickup_expired_says_the_items_were_released(network, on_commit, mailoutbox):
    with on_commit():
        order = place(network, ("SHIRT", 1), method="pickup")
    fo = only_fulfillment_order(order)
    with on_commit():
        fulfillment.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
    with on_commit():
        assert fulfillment.fulfillment_order_expire(
            fulfillment_order_id=fo.pk, now=timezone.now() + timedelta(days=30)
        )
    message = mailoutbox[-1]
    assert message.subject == f"Your pickup for order {order.number} has expired"
    assert "was not collected at Saigon Centre Store in time" in message.body
    assert f"1 {X} Linen shirt (SHIRT)" in message.body
    assert [e.data["template"] for e in emails_sent(order)] == [
        "order_confirmation",
        "ready_for_pickup",
        "pickup_expired",
    ]


# --- Returns e-mails (when the returns app provides its services) -------------------------------------------


def test_return_received_and_refund_issued(network, on_commit, mailoutbox):
    returns = pytest.importorskip("returns.services")
    needed = ("return_create", "return_receive", "return_refund", "ReturnLineInput", "ReceiveLineInput")
    if not all(hasattr(returns, name) for name in needed):
        pytest.skip("the returns services are not there yet")
    with on_commit():
        order = place(network, ("SHIRT", 2), language="vi")
    fo = only_fulfillment_order(order)
    with on_commit():
        for step in (
            fulfillment.fulfillment_order_accept,
            fulfillment.fulfillment_order_pick,
            fulfillment.fulfillment_order_pack,
        ):
            step(fulfillment_order_id=fo.pk, actor=SYSTEM)
        fulfillment.fulfillment_order_ship(
            fulfillment_order_id=fo.pk, carrier="GHN", tracking_number="T1", actor=SYSTEM
        )
    line = order.lines.get()
    with on_commit():
        rma = returns.return_create(
            order_id=order.pk,
            method="in_store",
            location_code=network["store"].code,
            lines=[returns.ReturnLineInput(order_line_id=line.pk, quantity=2, reason="wrong_size")],
            actor=SYSTEM,
        ).rma
    return_line = rma.lines.get()
    with on_commit():
        returns.return_receive(
            return_id=rma.pk,
            lines=[
                returns.ReceiveLineInput(return_line_id=return_line.pk, quantity=2, disposition="restock")
            ],
            actor=SYSTEM,
        )
    received = mailoutbox[-1]
    assert received.subject == f"Chúng tôi đã nhận được hàng trả lại {rma.number}"
    assert f"2 {X} Linen shirt (SHIRT)" in received.body
    assert "Saigon Centre Store" in received.body

    with on_commit():
        returns.return_refund(return_id=rma.pk, amount=Decimal("25.00"), actor=SYSTEM)
    refunded = mailoutbox[-1]
    assert refunded.subject == f"Hoàn tiền cho đơn hàng {order.number}"
    assert "25,00 USD" in refunded.body
    assert "phương thức thanh toán ban đầu" in refunded.body
    templates = [e.data["template"] for e in emails_sent(order)]
    assert templates[-2:] == ["return_received", "refund_issued"]


# --- The registry ----------------------------------------------------------------------------------------


def test_every_customer_email_has_a_registered_builder():
    for topic in (
        "order.created",
        "fulfillment.ready_for_pickup",
        "fulfillment.shipped",
        "fulfillment.pickup_expired",
        "return.received",
        "refund.created",
    ):
        assert has_notifications(topic), topic
    assert not has_notifications("stock.changed")


@pytest.mark.parametrize(
    ("code", "expected"),
    [("vi", "vi"), ("vi-VN", "vi"), ("VI", "vi"), ("en", "en"), ("en-GB", "en"), ("fr", "en"), ("", "en")],
)
def test_language_for_a_customer(code, expected):
    assert language_for(code) == expected


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("order_confirmation", {"method": "ship", "lines": [], "shipping_address": ["1 Le Loi"]}),
        ("ready_for_pickup", {"store": {"name": "S"}, "lines": [], "hold_until": timezone.now()}),
        ("shipped", {"carrier": "GHN", "tracking_number": "T", "lines": []}),
        ("pickup_expired", {"store": {"name": "S"}, "lines": []}),
        ("return_received", {"return_number": "R1", "lines": [], "complete": True}),
        ("refund_issued", {"amount": Decimal("5.00"), "currency": "USD", "refund_method": "store_credit"}),
    ],
)
@pytest.mark.parametrize("language", ["en", "vi"])
def test_every_template_renders_in_both_languages(template, context, language):
    rendered = notification_render(
        Notification(
            recipient="a@example.com",
            template=template,
            context={"order_number": "WEB-1", **context},
            language=language,
        )
    )
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert "WEB-1" in rendered.text
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    english_greeting = "Hello," in rendered.text
    assert english_greeting == (language == "en")


def test_a_registered_builder_for_a_new_topic_is_sent(
    db, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    """Any app may add an e-mail for its own topic: register a builder, publish the event."""
    monkeypatch.setattr("oms.notifications._registry", defaultdict(list))
    sent: list[str] = []
    notification_register(
        "test.hello",
        lambda topic, payload: Notification(
            recipient=payload["email"],
            template="shipped",
            context={"order_number": "X-1", "carrier": "GHN", "tracking_number": "T", "lines": []},
        ),
        on_sent=lambda notification, log: sent.append(log.recipient),
    )
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(topic="test.hello", payload={"email": "bob@example.com"})
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]
    assert sent == ["bob@example.com"]
    assert mail.outbox is mailoutbox
