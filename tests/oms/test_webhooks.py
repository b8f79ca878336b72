"""Signed webhooks: the manager-only API, deliveries to a real local HTTP receiver whose signature
checks out, retries with exponential backoff logged attempt by attempt, and automatic disabling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.exceptions import Retry
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from oms import webhooks
from oms.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from oms.tasks import webhook_deliver
from oms.webhooks import webhook_endpoint_create, webhook_signature, webhook_signature_verify
from orders.models import Order
from orders.services import CustomerInput, LineInput, OrderInput, order_place
from tests.conftest import SYSTEM, stock_put
from tests.factories import ChannelFactory, LocationFactory, ProductFactory

SECRET = "whsec_test_0123456789abcdef"


# --- A real HTTP receiver -------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An http.server in a thread; answers ``statuses`` in turn, then ``default``."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/oms"


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append(Received(path=self.path, headers=dict(self.headers.items()), body=body))
            if state.delay:
                time.sleep(state.delay)
            status = state.statuses.pop(0) if state.statuses else state.default
            answer = json.dumps({"status": status}).encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _fresh_endpoint_cache():
    webhooks.webhook_endpoints_cache_clear()
    yield
    webhooks.webhook_endpoints_cache_clear()


@pytest.fixture
def shop(db):
    ProductFactory(sku="SHIRT")
    stock_put(ProductFactory(sku="SHIRT"), LocationFactory(code="wh-1"), 100)
    return ChannelFactory(code="web")


def place(channel) -> Order:
    return order_place(
        data=OrderInput(
            channel=channel,
            method="ship",
            currency="USD",
            lines=[LineInput(sku="SHIRT", quantity=1, unit_price=Decimal("10"))],
            customer=CustomerInput(email="ann@example.com"),
            shipping_address={"line1": "1 Le Loi", "city": "HCMC", "country": "VN"},
            latitude=Decimal("10.77"),
            longitude=Decimal("106.70"),
        ),
        actor=SYSTEM,
    ).order


def endpoint_for(receiver: Receiver, *events: str, payload_format: str = "cloudevents") -> WebhookEndpoint:
    endpoint, _ = webhook_endpoint_create(
        url=receiver.url, events=list(events), secret=SECRET, payload_format=payload_format
    )
    return endpoint


def verify_independently(secret: str, received: Received) -> bool:
    """What docs/webhooks.md tells a receiver to do, written without the OMS's helpers."""
    timestamp = received.header("X-OMS-Timestamp")
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", received.header("X-OMS-Signature"))


# --- API: manager only, house errors ---------------------------------------------------------------------


BODY = {"url": "https://hooks.example.com/oms", "events": ["order.created", "fulfillment.shipped"]}


def test_a_manager_registers_an_endpoint_and_sees_the_secret_only_once(manager):
    response = manager.api.post("/api/v1/webhooks", {**BODY, "secret": SECRET}, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["secret"] == SECRET
    assert created["events"] == ["order.created", "fulfillment.shipped"]
    assert created["active"] is True
    assert WebhookEndpoint.objects.get(pk=created["id"]).secret == SECRET  # stored: it signs

    detail = manager.api.get(f"/api/v1/webhooks/{created['id']}").json()
    listed = manager.api.get("/api/v1/webhooks").json()["results"]
    for shown in (detail, *listed):
        assert "secret" not in shown
        assert SECRET not in json.dumps(shown)
    assert [e["id"] for e in listed] == [created["id"]]


def test_a_secret_is_generated_when_none_is_given(manager):
    created = manager.api.post("/api/v1/webhooks", BODY, format="json").json()
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) > 32
    assert WebhookEndpoint.objects.get(pk=created["id"]).secret == created["secret"]


def test_the_wildcard_stands_for_every_event(manager):
    created = manager.api.post(
        "/api/v1/webhooks", {"url": "http://h.example/x", "events": ["order.created", "*"]}, format="json"
    ).json()
    assert created["events"] == ["*"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**BODY, "url": "ftp://hooks.example.com/oms"}, 422, "invalid_input"),
        ({**BODY, "url": "not a url"}, 422, "invalid_input"),
        ({**BODY, "url": "javascript:alert(1)"}, 422, "invalid_input"),
        ({"events": ["order.created"]}, 422, "invalid_input"),
        ({**BODY, "events": []}, 422, "invalid_input"),
        ({**BODY, "events": ["order.exploded"]}, 422, "invalid_input"),
        ({**BODY, "events": "order.created"}, 422, "invalid_input"),
        ({**BODY, "events": [{"topic": "order.created"}]}, 422, "invalid_input"),
        ({**BODY, "secret": "short"}, 422, "invalid_input"),
        ({**BODY, "secret": ["whsec_0123456789abcdef"]}, 422, "invalid_input"),
        ({**BODY, "url": "https://h.example/" + "x" * 600}, 422, "invalid_input"),
        ([BODY], 422, "invalid_input"),
    ],
)
def test_bad_bodies_are_4xx_in_the_house_format_and_create_nothing(manager, body, status, code):
    response = manager.api.post("/api/v1/webhooks", body, format="json")
    assert response.status_code == status, response.json()
    assert set(response.json()) == {"code", "message", "extra"}
    assert response.json()["code"] == code
    assert WebhookEndpoint.objects.count() == 0


def test_malformed_json_is_400(manager):
    response = manager.api.post("/api/v1/webhooks", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_unknown_webhooks_are_404(manager):
    for path in ("/api/v1/webhooks/999999", "/api/v1/webhooks/abc", "/api/v1/webhooks/999999/deliveries"):
        response = manager.api.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "webhook_not_found"
    assert manager.api.delete("/api/v1/webhooks/999999").status_code == 404


def test_delete_removes_the_endpoint(manager):
    created = manager.api.post("/api/v1/webhooks", BODY, format="json").json()
    assert manager.api.delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
    assert manager.api.get(f"/api/v1/webhooks/{created['id']}").status_code == 404
    assert not WebhookEndpoint.objects.exists()


def test_only_managers_may_use_webhooks(manager, make_associate, web_client, anon):
    store = LocationFactory(code="st-1")
    associate = make_associate("alice", store)
    endpoint, _ = webhook_endpoint_create(url="https://h.example/x", events=["*"])
    calls = [
        ("get", "/api/v1/webhooks", None),
        ("post", "/api/v1/webhooks", BODY),
        ("get", f"/api/v1/webhooks/{endpoint.pk}", None),
        ("delete", f"/api/v1/webhooks/{endpoint.pk}", None),
        ("get", f"/api/v1/webhooks/{endpoint.pk}/deliveries", None),
        ("post", f"/api/v1/webhooks/{endpoint.pk}/enable", None),
    ]
    for who, status in ((associate.api, 403), (web_client.api, 403), (anon, 401)):
        for method, path, body in calls:
            response = getattr(who, method)(path, body, format="json")
            assert response.status_code == status, (method, path, response.json())
            assert set(response.json()) == {"code", "message", "extra"}
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert WebhookEndpoint.objects.count() == 1


# --- Delivery to a real receiver --------------------------------------------------------------------------


def test_order_created_is_delivered_signed_and_logged(
    shop, receiver, manager, django_capture_on_commit_callbacks
):
    """An endpoint registered before CloudEvents (payload_format legacy, set by the migration)
    still gets the body and the headers it always had (tests/oms/test_standard_webhooks.py: the
    CloudEvents envelope and the Standard Webhooks headers new endpoints get)."""
    endpoint = endpoint_for(receiver, "order.created", payload_format="legacy")
    with django_capture_on_commit_callbacks(execute=True):
        order = place(shop)

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    event = OutboxEvent.objects.get(topic="order.created")
    assert got.path == "/hooks/oms"
    assert got.header("Content-Type") == "application/json"
    assert got.header("X-OMS-Event") == "order.created"
    assert {"X-OMS-Event", "X-OMS-Delivery", "X-OMS-Timestamp", "X-OMS-Signature"} <= set(got.headers)
    assert got.json["id"] == event.pk
    assert got.json["topic"] == "order.created"
    assert got.json["created_at"] == event.created_at.isoformat()
    assert got.json["data"] == {"order_id": order.pk, "number": order.number, "channel": "web"}
    # the receiver can verify it: HMAC-SHA256(secret, "<timestamp>.<raw body>"), and it is recent
    assert verify_independently(SECRET, got)
    assert abs(int(got.header("X-OMS-Timestamp")) - time.time()) < 60
    assert webhook_signature_verify(
        secret=SECRET,
        body=got.body,
        timestamp=got.header("X-OMS-Timestamp"),
        signature=got.header("X-OMS-Signature"),
    )
    assert not verify_independently("another-secret-0000", got)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint_id, delivery.event_id, delivery.topic) == (
        endpoint.pk,
        event.pk,
        "order.created",
    )
    assert (delivery.attempt, delivery.status_code, delivery.succeeded) == (1, 200, True)
    assert str(delivery.delivery_id) == got.header("X-OMS-Delivery")
    assert delivery.next_attempt_at is None
    assert delivery.response_body == '{"status": 200}'

    log = manager.api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["results"]
    assert [(d["attempt"], d["status_code"], d["succeeded"]) for d in log] == [(1, 200, True)]
    assert log[0]["payload"]["data"]["order_id"] == order.pk


def test_only_matching_active_endpoints_receive_an_event(shop, receiver, django_capture_on_commit_callbacks):
    wanted = endpoint_for(receiver, "order.created")
    wildcard = endpoint_for(receiver, "*")
    endpoint_for(receiver, "fulfillment.shipped")  # another topic
    off = endpoint_for(receiver, "order.created")
    WebhookEndpoint.objects.filter(pk=off.pk).update(active=False)
    webhooks.webhook_endpoints_cache_clear()

    with django_capture_on_commit_callbacks(execute=True):
        place(shop)

    created = [r for r in receiver.requests if r.json["type"] == "order.created"]
    assert len(created) == 2
    endpoints = set(
        WebhookDelivery.objects.filter(topic="order.created").values_list("endpoint_id", flat=True)
    )
    assert endpoints == {wanted.pk, wildcard.pk}
    # the wildcard also gets the other public events (routing allocated the order), never internal ones
    topics = {r.json["type"] for r in receiver.requests}
    assert "order.allocated" in topics
    assert not any(t.endswith("cancelling") for t in topics)


def test_a_failure_is_retried_with_exponential_backoff_and_every_attempt_is_logged(
    shop, receiver, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(receiver, "order.created")
    receiver.statuses = [500, 503, 200]

    with django_capture_on_commit_callbacks(execute=True):
        place(shop)

    attempts = list(WebhookDelivery.objects.order_by("pk"))
    assert [(d.attempt, d.status_code, d.succeeded) for d in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert attempts[0].error == "HTTP 500"
    for delivery, delay in zip(attempts[:2], (2, 4), strict=True):
        waited = (delivery.next_attempt_at - delivery.created_at).total_seconds()
        assert delay - 1 < waited < delay + 1
    assert attempts[2].next_attempt_at is None
    assert len({d.delivery_id for d in attempts}) == 1  # one delivery, three attempts
    assert len({r.header("X-OMS-Delivery") for r in receiver.requests}) == 1
    assert all(verify_independently(SECRET, r) for r in receiver.requests)
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.failure_count) == (True, 0)  # a success resets the count


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_on_a_broker_the_task_retries_with_a_countdown_of_two_to_the_attempt(
    receiver, monkeypatch, db, retries
):
    """Outside eager mode the task asks Celery to retry after 2**attempt seconds."""
    endpoint = endpoint_for(receiver, "order.created")
    receiver.default = 500
    asked: list[dict] = []

    def retry(**kwargs):
        asked.append(kwargs)
        return Retry("retry", when=kwargs["countdown"])

    monkeypatch.setattr(webhook_deliver, "retry", retry)
    webhook_deliver.push_request(retries=retries, is_eager=False)
    try:
        with pytest.raises(Retry):
            webhook_deliver.run(
                endpoint_id=endpoint.pk,
                delivery_id="0b7c53a6-5b59-4a44-9b8f-0e1b1f8ad7c1",
                event_id=1,
                topic="order.created",
                created_at="2026-01-01T00:00:00+00:00",
                data={"order_id": 1},
            )
    finally:
        webhook_deliver.pop_request()
    assert asked == [{"countdown": 2 ** (retries + 1), "max_retries": 8}]
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempt == retries + 1


def test_an_endpoint_that_keeps_failing_is_disabled(
    shop, receiver, manager, settings, django_capture_on_commit_callbacks
):
    settings.OMS_WEBHOOK_MAX_FAILURES = 4
    endpoint = endpoint_for(receiver, "order.created")
    receiver.default = 500

    with django_capture_on_commit_callbacks(execute=True):
        place(shop)

    endpoint.refresh_from_db()
    assert endpoint.active is False
    assert endpoint.disabled_at is not None
    assert endpoint.failure_count == 4
    attempts = list(WebhookDelivery.objects.order_by("pk"))
    assert [d.attempt for d in attempts] == [1, 2, 3, 4]  # no retry once disabled
    assert attempts[-1].next_attempt_at is None
    assert len(receiver.requests) == 4

    with django_capture_on_commit_callbacks(execute=True):
        place(shop)  # a disabled endpoint receives nothing more
    assert len(receiver.requests) == 4
    shown = manager.api.get(f"/api/v1/webhooks/{endpoint.pk}").json()
    assert (shown["active"], shown["failure_count"]) == (False, 4)
    assert shown["disabled_at"]

    receiver.default = 200
    enabled = manager.api.post(f"/api/v1/webhooks/{endpoint.pk}/enable")
    assert enabled.status_code == 200
    assert (enabled.json()["active"], enabled.json()["failure_count"]) == (True, 0)
    with django_capture_on_commit_callbacks(execute=True):
        place(shop)
    assert receiver.requests[-1].json["type"] == "order.created"
    assert WebhookDelivery.objects.order_by("-pk").first().succeeded


def test_retries_stop_after_the_maximum(shop, receiver, settings, django_capture_on_commit_callbacks):
    settings.OMS_WEBHOOK_MAX_RETRIES = 2
    endpoint_for(receiver, "order.created")
    receiver.default = 500
    with django_capture_on_commit_callbacks(execute=True):
        place(shop)
    attempts = list(WebhookDelivery.objects.order_by("pk"))
    assert [d.attempt for d in attempts] == [1, 2, 3]
    assert attempts[-1].next_attempt_at is None


def test_network_failures_redirects_and_timeouts_are_logged_failures(receiver, settings, db):
    settings.OMS_WEBHOOK_TIMEOUT_SECONDS = 0.3
    redirecting = endpoint_for(receiver, "*")
    refused, _ = webhook_endpoint_create(
        url="http://127.0.0.1:9/nothing-listens", events=["*"], secret=SECRET
    )

    def attempt(endpoint: WebhookEndpoint) -> WebhookDelivery:
        outcome = webhooks.webhook_deliver(
            endpoint_id=endpoint.pk,
            delivery_id="0b7c53a6-5b59-4a44-9b8f-0e1b1f8ad7c1",
            event_id=1,
            topic="order.created",
            created_at="2026-01-01T00:00:00+00:00",
            data={"order_id": 1},
            attempt=1,
            retries_left=True,
        )
        assert outcome.retry_in == 2
        return outcome.delivery

    receiver.statuses = [302]
    moved = attempt(redirecting)
    assert (moved.status_code, moved.succeeded) == (302, False)  # not followed
    assert len(receiver.requests) == 1

    receiver.delay = 1.0
    slow = attempt(redirecting)
    assert slow.status_code is None
    assert slow.error == "timed out"

    down = attempt(refused)
    assert down.status_code is None
    assert down.error

    WebhookEndpoint.objects.filter(pk=refused.pk).update(url="http://127.0.0.1:99999/x")
    assert attempt(refused).error  # an impossible port is a failed attempt, not a crash
    assert WebhookEndpoint.objects.get(pk=refused.pk).failure_count == 2


def test_credentials_in_the_url_are_sent_as_basic_auth(receiver, db):
    endpoint, _ = webhook_endpoint_create(
        url=receiver.url.replace("http://", "http://erp:s%40cret@"), events=["*"], secret=SECRET
    )
    webhook_deliver.delay(
        endpoint_id=endpoint.pk,
        delivery_id="0b7c53a6-5b59-4a44-9b8f-0e1b1f8ad7c1",
        event_id=1,
        topic="order.created",
        created_at="2026-01-01T00:00:00+00:00",
        data={},
    ).get()
    (got,) = receiver.requests
    assert got.header("Authorization") == "Basic " + base64.b64encode(b"erp:s@cret").decode()
    assert got.path == "/hooks/oms"
    assert verify_independently(SECRET, got)


def test_deliveries_of_a_deleted_endpoint_are_dropped(db):
    endpoint, _ = webhook_endpoint_create(url="http://127.0.0.1:9/x", events=["*"])
    webhooks.webhook_endpoint_delete(endpoint_id=endpoint.pk)
    outcome = webhook_deliver.delay(
        endpoint_id=endpoint.pk,
        delivery_id="0b7c53a6-5b59-4a44-9b8f-0e1b1f8ad7c1",
        event_id=1,
        topic="order.created",
        created_at="2026-01-01T00:00:00+00:00",
        data={},
    ).get()
    assert outcome["skipped"] == "endpoint deleted"
    assert not WebhookDelivery.objects.exists()


# --- Signature and replay protection ------------------------------------------------------------------------


def test_signature_covers_timestamp_and_body_and_refuses_replays():
    body = b'{"id":1,"topic":"order.created"}'
    now = 1_800_000_000
    signature = webhook_signature(secret=SECRET, timestamp=now, body=body)
    assert signature.startswith("sha256=")
    assert len(signature) == len("sha256=") + 64

    def ok(**overrides) -> bool:
        args = {"secret": SECRET, "body": body, "timestamp": now, "signature": signature, "now": now + 10}
        return webhook_signature_verify(**{**args, **overrides})

    assert ok()
    assert not ok(body=body + b" ")  # tampered body
    assert not ok(timestamp=now + 1)  # another timestamp
    assert not ok(secret="whsec_another_secret_000")
    assert not ok(now=now + 301)  # an old delivery replayed
    assert not ok(timestamp="yesterday")
    assert not ok(signature="")


# --- A real worker on PostgreSQL + Redis -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_on_the_webhooks_queue_and_retries_after_a_countdown(request, receiver):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    request.getfixturevalue("celery_broker")
    worker = request.getfixturevalue("session_worker")
    from tests.worker import wait_idle

    ProductFactory(sku="SHIRT")
    stock_put(ProductFactory(sku="SHIRT"), LocationFactory(code="wh-1"), 10)
    channel = ChannelFactory(code="web")
    endpoint = endpoint_for(receiver, "order.created")
    receiver.statuses = [503]  # the first attempt fails; the retry 2 s later succeeds
    order = place(channel)

    deadline = time.monotonic() + 30
    delivered = WebhookDelivery.objects.filter(endpoint=endpoint, delivered_at__isnull=False)
    while not delivered.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    wait_idle(worker)
    attempts = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk"))
    assert [(d.attempt, d.status_code) for d in attempts] == [(1, 503), (2, 200)]
    assert (attempts[1].created_at - attempts[0].created_at).total_seconds() >= 1.5  # the countdown
    got = [r for r in receiver.requests if r.json["type"] == "order.created"]
    assert len(got) == 2
    assert got[1].json["data"]["order_id"] == order.pk
    assert all(verify_independently(SECRET, r) for r in got)


# --- Admin -------------------------------------------------------------------------------------------------


def test_the_admin_shows_endpoints_and_logs_read_only_and_never_the_secret(
    shop, receiver, manager, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(receiver, "order.created")
    with django_capture_on_commit_callbacks(execute=True):
        place(shop)
    admin = Client()
    admin.force_login(get_user_model().objects.get(username="manager"))
    delivery = WebhookDelivery.objects.get()
    pages = {
        "/admin/oms/webhookendpoint/": 200,
        f"/admin/oms/webhookendpoint/{endpoint.pk}/change/": 200,
        "/admin/oms/webhookdelivery/": 200,
        f"/admin/oms/webhookdelivery/{delivery.pk}/change/": 200,
        "/admin/oms/outboxevent/": 200,
        "/admin/oms/notificationlog/": 200,
        "/admin/oms/webhookendpoint/add/": 403,
        "/admin/oms/outboxevent/add/": 403,
    }
    for path, status in pages.items():
        response = admin.get(path)
        assert response.status_code == status, path
        assert SECRET.encode() not in response.content, path
    response = admin.post(
        f"/admin/oms/webhookendpoint/{endpoint.pk}/change/", {"url": "http://evil.example/"}
    )
    assert response.status_code == 403
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == receiver.url
