"""Integrator standards (issue 22): a receiver written against the Standard Webhooks reference
verification (``standardwebhooks``, a real HTTP server in a thread) verifies our deliveries, also
across a secret rotation; the CloudEvents SDK parses our payloads with the right attributes;
retries keep the webhook-id; the event-type registry feeds subscriptions, deliveries and the
OpenAPI 3.1 ``webhooks`` section; endpoints registered before keep their legacy body."""

from __future__ import annotations

import base64
import importlib
import json
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cloudevents.v1.http import from_http
from django.contrib.auth import get_user_model
from django.db.migrations.operations import AddField, AlterField
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from oms import event_types, webhooks
from oms.event_types import ID, event_type_register
from oms.events import publish
from oms.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from oms.tasks import webhook_deliver
from oms.webhook_messages import (
    webhook_secret_generate,
    webhook_secret_key,
    webhook_secret_standard_form,
)
from oms.webhooks import webhook_endpoint_create, webhook_secret_rotate
from tests.oms.test_webhooks import place

PLAIN_SECRET = "a-plain-secret-chosen-in-2025"


# --- A receiver that verifies with the reference library ----------------------------------------------------


@dataclass
class Got:
    headers: dict[str, str]
    body: bytes
    verified: bool

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


@dataclass
class StandardReceiver:
    """Trusts ``secret`` (a whsec_ string or key bytes, as ``Webhook`` takes it); answers 204 to a
    delivery that verifies and 401 to one that does not, after ``statuses`` (answered in turn)."""

    secret: str | bytes = b""
    port: int = 0
    got: list[Got] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oms-events"

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True


@pytest.fixture
def standard_receiver():
    state = StandardReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            verified = state.verify(body, headers)
            state.got.append(Got(headers=headers, body=body, verified=verified))
            status = state.statuses.pop(0) if state.statuses else (204 if verified else 401)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

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
    from tests.conftest import stock_put
    from tests.factories import ChannelFactory, LocationFactory, ProductFactory

    stock_put(ProductFactory(sku="SHIRT"), LocationFactory(code="wh-1"), 100)
    return ChannelFactory(code="web")


def deliver(endpoint: WebhookEndpoint, *, event_id: int = 7, delivery_id: str | None = None) -> dict:
    """One delivery task of an order.created event, run eagerly (retries included)."""
    return webhook_deliver.delay(
        endpoint_id=endpoint.pk,
        delivery_id=delivery_id or "0b7c53a6-5b59-4a44-9b8f-0e1b1f8ad7c1",
        event_id=event_id,
        topic="order.created",
        created_at="2026-12-04T10:41:07.512338+00:00",
        data={"order_id": 412, "number": "WEB-0000412", "channel": "web"},
    ).get()


# --- Standard Webhooks --------------------------------------------------------------------------------------


def test_a_standard_webhooks_receiver_verifies_an_order_created_delivery(
    shop, manager, standard_receiver, django_capture_on_commit_callbacks
):
    created = manager.api.post(
        "/api/v1/webhooks", {"url": standard_receiver.url, "events": ["order.created"]}, format="json"
    ).json()
    assert created["secret"].startswith("whsec_")  # generated in the Standard Webhooks form
    assert created["standard_webhooks_secret"] == created["secret"]
    assert len(webhook_secret_key(created["secret"])) == 32
    assert created["payload_format"] == "cloudevents"
    standard_receiver.secret = created["secret"]

    with django_capture_on_commit_callbacks(execute=True):
        order = place(shop)

    (got,) = standard_receiver.got
    event = OutboxEvent.objects.get(topic="order.created")
    assert got.verified
    assert got.header("webhook-id") == f"evt_{event.pk}"
    assert abs(int(got.header("webhook-timestamp")) - timezone.now().timestamp()) < 60
    assert got.header("webhook-signature").startswith("v1,")
    assert len(got.header("webhook-signature").split(" ")) == 1  # one secret in use
    # tampering with the body, the id or the timestamp is refused by the reference verification
    for headers, body in (
        (got.headers, got.body + b" "),
        ({**got.headers, "webhook-id": "evt_0"}, got.body),
        ({**got.headers, "webhook-timestamp": str(int(got.header("webhook-timestamp")) - 1)}, got.body),
    ):
        with pytest.raises(WebhookVerificationError):
            Webhook(created["secret"]).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secret_generate()).verify(got.body, got.headers)
    assert got.header("Content-Type") == "application/cloudevents+json; charset=utf-8"
    assert json.loads(got.body)["data"]["order_id"] == order.pk
    assert WebhookDelivery.objects.get().succeeded  # 204 from the verifying receiver


def test_a_plain_secret_maps_to_its_utf8_bytes_and_keeps_the_legacy_signature(db, standard_receiver):
    endpoint, secret = webhook_endpoint_create(url=standard_receiver.url, events=["*"], secret=PLAIN_SECRET)
    assert secret == PLAIN_SECRET
    assert webhook_secret_key(PLAIN_SECRET) == PLAIN_SECRET.encode()
    standard_form = webhook_secret_standard_form(PLAIN_SECRET)
    assert standard_form == "whsec_" + base64.b64encode(PLAIN_SECRET.encode()).decode()
    standard_receiver.secret = standard_form
    deliver(endpoint)
    (got,) = standard_receiver.got
    assert got.verified
    Webhook(PLAIN_SECRET.encode()).verify(got.body, got.headers)  # the key bytes work as well
    assert webhooks.webhook_signature_verify(
        secret=PLAIN_SECRET,
        body=got.body,
        timestamp=got.header("X-OMS-Timestamp"),
        signature=got.header("X-OMS-Signature"),
    )
    assert got.header("X-OMS-Timestamp") == got.header("webhook-timestamp")


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        ("whsec_" + base64.b64encode(b"k" * 32).decode(), b"k" * 32),
        ("whsec_" + base64.b64encode(b"k" * 32).decode().rstrip("="), b"k" * 32),  # unpadded
        ("whsec_test_0123456789abcdef", b"whsec_test_0123456789abcdef"),  # "_" is not base64: plain
        ("whsec_Zm9v-YmFy_YmF6cXV4cXV1eA", b"whsec_Zm9v-YmFy_YmF6cXV4cXV1eA"),  # urlsafe (old ones)
        ("0123456789abcdef", b"0123456789abcdef"),
        ("mật-khẩu-rất-dài-1234", "mật-khẩu-rất-dài-1234".encode()),
    ],
)
def test_which_secrets_are_in_the_standard_form(secret, key):
    assert webhook_secret_key(secret) == key
    assert Webhook(webhook_secret_standard_form(secret))._whsecret == key


def test_a_rotation_signs_with_both_secrets_through_the_grace_period(
    db, manager, standard_receiver, settings
):
    settings.OMS_WEBHOOK_SECRET_GRACE_HOURS = 24
    endpoint, old = webhook_endpoint_create(url=standard_receiver.url, events=["*"], secret=PLAIN_SECRET)
    answer = manager.api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret")
    assert answer.status_code == 200, answer.json()
    rotated = answer.json()
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    expires = timezone.datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - timezone.now() <= timedelta(hours=24)
    assert rotated["secret_rotated_at"]

    # a receiver still on the old secret and one already on the new one both accept the delivery
    standard_receiver.secret = old.encode()
    deliver(endpoint, event_id=1)
    standard_receiver.secret = new
    deliver(endpoint, event_id=2)
    on_old, on_new = standard_receiver.got
    assert on_old.verified
    assert on_new.verified
    old_signature, new_signature = on_new.header("webhook-signature").split(" ")
    assert old_signature.startswith("v1,")
    assert new_signature.startswith("v1,")
    Webhook(old.encode()).verify(on_new.body, on_new.headers)
    Webhook(new).verify(on_old.body, on_old.headers)
    # the legacy header is signed with the new secret at once
    assert webhooks.webhook_signature_verify(
        secret=new,
        body=on_new.body,
        timestamp=on_new.header("X-OMS-Timestamp"),
        signature=on_new.header("X-OMS-Signature"),
    )

    # once the grace period is over only the new secret signs: the old one is refused
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    standard_receiver.secret = new
    deliver(endpoint, event_id=3)
    after = standard_receiver.got[-1]
    assert after.verified
    assert len(after.header("webhook-signature").split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old.encode()).verify(after.body, after.headers)
    shown = manager.api.get(f"/api/v1/webhooks/{endpoint.pk}").json()
    assert "secret" not in shown
    assert new not in json.dumps(shown)


def test_a_second_rotation_keeps_only_the_secret_it_replaces(db, settings):
    endpoint, first = webhook_endpoint_create(url="https://h.example/x", events=["*"])
    _, second = webhook_secret_rotate(endpoint_id=endpoint.pk)
    endpoint, third = webhook_secret_rotate(endpoint_id=endpoint.pk, secret="a-chosen-secret-0123456789")
    assert third == "a-chosen-secret-0123456789"
    assert endpoint.signing_secrets(timezone.now()) == [second, third]
    settings.OMS_WEBHOOK_SECRET_GRACE_HOURS = 0
    endpoint, fourth = webhook_secret_rotate(endpoint_id=endpoint.pk)
    assert endpoint.signing_secrets(timezone.now()) == [fourth]
    assert endpoint.previous_secret_expires_at is None
    assert first not in (second, third, fourth)


def test_rotation_is_for_managers_and_refuses_bad_secrets(db, manager, make_associate, web_client, anon):
    from tests.factories import LocationFactory

    endpoint, secret = webhook_endpoint_create(url="https://h.example/x", events=["*"])
    path = f"/api/v1/webhooks/{endpoint.pk}/rotate-secret"
    associate = make_associate("alice", LocationFactory(code="st-1"))
    for who, status in ((associate.api, 403), (web_client.api, 403), (anon, 401)):
        assert who.post(path).status_code == status
        assert (
            who.patch(f"/api/v1/webhooks/{endpoint.pk}", {"payload_format": "legacy"}).status_code == status
        )
    for body, code in (
        ({"secret": "short"}, "invalid_input"),
        ({"secret": secret}, "webhook_secret_unchanged"),
    ):
        response = manager.api.post(path, body, format="json")
        assert response.status_code == 422, response.json()
        assert response.json()["code"] == code
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret  # nothing changed
    missing = manager.api.post("/api/v1/webhooks/999999/rotate-secret")
    assert (missing.status_code, missing.json()["code"]) == (404, "webhook_not_found")


# --- CloudEvents --------------------------------------------------------------------------------------------


def test_the_cloudevents_sdk_parses_our_payloads(
    shop, standard_receiver, settings, django_capture_on_commit_callbacks
):
    settings.OMS_EVENT_SOURCE = "/oms/acme-vn"
    _, secret = webhook_endpoint_create(url=standard_receiver.url, events=["order.created"])
    standard_receiver.secret = secret
    with django_capture_on_commit_callbacks(execute=True):
        order = place(shop)
    (got,) = standard_receiver.got
    outbox = OutboxEvent.objects.get(topic="order.created")

    event = from_http_event(HTTPMessage(headers=got.headers, body=got.body))
    assert event.get_specversion() == "1.0"
    assert event.get_id() == got.header("webhook-id") == f"evt_{outbox.pk}"
    assert event.get_source() == "/oms/acme-vn/orders"
    assert event.get_type() == "order.created"
    assert event.get_subject() == str(order.pk)
    assert event.get_time() == outbox.created_at
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == {"order_id": order.pk, "number": order.number, "channel": "web"}

    legacy_sdk = from_http(got.headers, got.body)  # the SDK's v1 API reads it the same
    assert (legacy_sdk["id"], legacy_sdk["type"], legacy_sdk.data) == (
        event.get_id(),
        "order.created",
        event.get_data(),
    )
    # the delivery log keeps the envelope that was sent
    assert WebhookDelivery.objects.get().payload == json.loads(got.body)


@pytest.mark.parametrize(
    ("topic", "payload", "source", "subject"),
    [
        (
            "fulfillment.shipped",
            {"fulfillment_order_id": 5, "order_id": 4, "location": "wh"},
            "/oms/fulfillment-orders",
            "5",
        ),
        ("refund.created", {"refund_id": 9, "return_id": 3, "order_id": 4}, "/oms/returns", "3"),
        ("stock.changed", {"location_id": 2, "product_ids": [1, 2]}, "/oms/locations", "2"),
    ],
)
def test_source_and_subject_come_from_the_registry(topic, payload, source, subject):
    from oms.webhook_messages import cloudevent

    document = cloudevent(event_id=1, topic=topic, created_at="2026-12-04T00:00:00+00:00", data=payload)
    assert (document["source"], document["subject"], document["type"]) == (source, subject, topic)


# --- Retries and re-dispatch keep the webhook-id ------------------------------------------------------------


def test_retries_keep_the_webhook_id_and_sign_each_attempt_anew(
    shop, manager, standard_receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = webhook_endpoint_create(url=standard_receiver.url, events=["order.created"])
    standard_receiver.secret = secret
    standard_receiver.statuses = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        place(shop)
    outbox = OutboxEvent.objects.get(topic="order.created")
    assert [d.attempt for d in WebhookDelivery.objects.order_by("pk")] == [1, 2, 3]
    assert {g.header("webhook-id") for g in standard_receiver.got} == {f"evt_{outbox.pk}"}
    assert all(g.verified for g in standard_receiver.got)
    assert len({g.body for g in standard_receiver.got}) == 1  # the same message every time
    assert WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-pk").first().succeeded
    log = manager.api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["results"]
    assert {row["webhook_id"] for row in log} == {f"evt_{outbox.pk}"}


def test_a_re_dispatched_event_has_the_same_webhook_id(db, standard_receiver):
    endpoint, secret = webhook_endpoint_create(url=standard_receiver.url, events=["*"])
    standard_receiver.secret = secret
    deliver(endpoint, event_id=31, delivery_id="0b7c53a6-5b59-4a44-9b8f-0e1b1f8ad7c1")
    deliver(endpoint, event_id=31, delivery_id="5d0c8b1e-95f3-4b0f-8f0e-3f4b7f4c2a10")  # the relay's
    first, again = standard_receiver.got
    assert first.header("webhook-id") == again.header("webhook-id") == "evt_31"
    assert first.header("X-OMS-Delivery") != again.header("X-OMS-Delivery")


# --- Payload formats ----------------------------------------------------------------------------------------


def test_an_endpoint_may_stay_on_or_move_off_the_legacy_body(db, manager, standard_receiver):
    created = manager.api.post(
        "/api/v1/webhooks",
        {"url": standard_receiver.url, "events": ["*"], "payload_format": "legacy"},
        format="json",
    ).json()
    assert created["payload_format"] == "legacy"
    standard_receiver.secret = created["secret"]
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    deliver(endpoint, event_id=5)
    legacy = standard_receiver.got[-1]
    assert legacy.header("Content-Type") == "application/json"
    assert json.loads(legacy.body) == {
        "id": 5,
        "topic": "order.created",
        "created_at": "2026-12-04T10:41:07.512338+00:00",
        "data": {"order_id": 412, "number": "WEB-0000412", "channel": "web"},
    }
    assert legacy.verified  # the Standard Webhooks headers come with the legacy body too

    moved = manager.api.patch(
        f"/api/v1/webhooks/{endpoint.pk}", {"payload_format": "cloudevents"}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    assert moved.json()["payload_format"] == "cloudevents"
    deliver(endpoint, event_id=6)
    assert json.loads(standard_receiver.got[-1].body)["specversion"] == "1.0"
    bad = manager.api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"payload_format": "xml"}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")


def test_the_migration_keeps_existing_endpoints_on_the_legacy_body():
    """Tests run without migrations (--no-migrations): the migration is read instead. Its AddField
    fills the rows that exist with "legacy"; the AlterField then makes "cloudevents" the default
    of endpoints registered afterwards (the model's, checked by makemigrations --check)."""
    migration = importlib.import_module("oms.migrations.0005_webhook_standard_webhooks").Migration
    add, alter = migration.operations[:2]
    assert isinstance(add, AddField)
    assert (add.model_name, add.name, add.field.default) == ("webhookendpoint", "payload_format", "legacy")
    assert isinstance(alter, AlterField)
    assert (alter.name, alter.field.default) == ("payload_format", "cloudevents")
    assert WebhookEndpoint._meta.get_field("payload_format").default == "cloudevents"


# --- The registry and the OpenAPI document ------------------------------------------------------------------


@pytest.fixture
def cart_event(monkeypatch):
    """A feature's event, added in one line (and removed after the test)."""
    monkeypatch.setattr(event_types, "_REGISTRY", dict(event_types._REGISTRY))
    return event_type_register("cart.updated", "A cart changed", "carts", "cart_id", {"cart_id": ID})


def test_one_registered_line_makes_an_event_subscribable_delivered_and_documented(
    cart_event, manager, standard_receiver, django_capture_on_commit_callbacks
):
    created = manager.api.post(
        "/api/v1/webhooks", {"url": standard_receiver.url, "events": ["cart.updated"]}, format="json"
    )
    assert created.status_code == 201, created.json()
    standard_receiver.secret = created.json()["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        publish(topic="cart.updated", payload={"cart_id": 77})
    (got,) = standard_receiver.got
    assert got.verified
    document = json.loads(got.body)
    assert (document["type"], document["source"], document["subject"]) == ("cart.updated", "/oms/carts", "77")
    assert "cart.updated" in webhooks.WEBHOOK_EVENTS

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "cart.updated" in schema["webhooks"]
    assert schema["components"]["schemas"]["CartUpdatedEventData"]["required"] == ["cart_id"]


def test_the_openapi_document_lists_every_event_type_with_its_data_schema(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["openapi"] == "3.1.0"
    names = [entry.name for entry in event_types.event_types()]
    assert list(schema["webhooks"]) == names
    assert {"order.created", "fulfillment.shipped", "return.received", "refund.created"} <= set(names)
    components = schema["components"]["schemas"]
    for name in names:
        operation = schema["webhooks"][name]["post"]
        content = operation["requestBody"]["content"]
        envelope = content["application/cloudevents+json"]["schema"]["allOf"]
        assert envelope[0] == {"$ref": "#/components/schemas/CloudEvent"}
        assert envelope[1]["properties"]["type"] == {"type": "string", "enum": [name]}
        data_ref = envelope[1]["properties"]["data"]["$ref"].rsplit("/", 1)[1]
        assert components[data_ref]["type"] == "object"
        assert "application/json" in content  # the legacy body, deprecated
        headers = {p["name"]: p for p in operation["parameters"]}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers)
        assert headers["X-OMS-Signature"]["deprecated"] is True
    order_created = components["OrderCreatedEventData"]
    assert order_created["required"] == ["order_id", "number", "channel"]
    assert "nullable" not in json.dumps(schema, default=str)  # 3.1: null is a type
    page = components["PaginatedWebhookEndpointOutputList"]["properties"]["next"]
    assert page["type"] == ["string", "null"]


# --- Admin --------------------------------------------------------------------------------------------------


def test_a_manager_rotates_the_secret_from_the_admin(db, manager, make_associate):
    from tests.factories import LocationFactory

    endpoint, secret = webhook_endpoint_create(url="https://h.example/x", events=["*"])
    admin = Client()
    admin.force_login(get_user_model().objects.get(username="manager"))
    page = admin.get(f"/admin/oms/webhookendpoint/{endpoint.pk}/change/")
    assert b"Rotate the signing secret" in page.content
    assert secret.encode() not in page.content
    done = admin.post(f"/admin/oms/webhookendpoint/{endpoint.pk}/do/rotate-secret/", follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret != secret
    assert endpoint.previous_secret == secret
    assert endpoint.secret.encode() in done.content  # shown once, in the message
    again = admin.get(f"/admin/oms/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret.encode() not in again.content

    make_associate("alice", LocationFactory(code="st-1"))
    store = Client()
    store.force_login(get_user_model().objects.get(username="alice"))
    refused = store.post(f"/admin/oms/webhookendpoint/{endpoint.pk}/do/rotate-secret/")
    assert refused.status_code in (302, 403, 404)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_the_registry_refuses_an_event_whose_subject_is_not_in_its_data():
    with pytest.raises(ValueError, match="subject"):
        event_type_register("cart.broken", "x", "carts", "cart_id", {"id": ID})
    with pytest.raises(ValueError, match="not an event name"):
        event_type_register("*", "x", "carts", "cart_id", {"cart_id": ID})
    assert event_types.event_type_get("cart.broken") is None


def test_secrets_generated_are_random_whsec_of_32_bytes():
    generated = {webhook_secret_generate() for _ in range(5)}
    assert len(generated) == 5
    for secret in generated:
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        assert webhook_secret_standard_form(secret) == secret
    assert webhooks.WEBHOOK_EVENT_CHOICES[-1] == "*"
