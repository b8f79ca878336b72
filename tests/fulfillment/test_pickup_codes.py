"""The pickup code: issued when a pickup is ready, in the ready e-mail (both languages), checked at
hand-over by the service and the API (optional but verified there), locked after too many wrong
codes (with timeline rows), re-issued by a manager."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings

from fulfillment import services
from fulfillment.errors import PickupCodeLocked, PickupCodeMismatch, PickupCodeRequired
from fulfillment.models import FulfillmentOrder
from inventory.models import StockLevel
from oms.actors import Actor
from oms.errors import PermissionDenied
from orders.models import OrderEvent
from tests.conftest import stock_put
from tests.factories import ProductFactory

from .conftest import place, store

SYSTEM = Actor.system("tests")


@pytest.fixture
def ready(db, django_capture_on_commit_callbacks) -> FulfillmentOrder:
    """A pickup at st-a, ready at the counter (its e-mail sent)."""
    shop = store("st-a", "10.7770", "106.7010")
    stock_put(ProductFactory(sku="SHIRT"), shop, 5)
    order = place(("SHIRT", 1), method="pickup", pickup="st-a")
    services.route_order(order_id=order.pk)
    fo = FulfillmentOrder.objects.get(order=order)
    services.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=SYSTEM)
    with django_capture_on_commit_callbacks(execute=True):
        services.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=SYSTEM)
    fo.refresh_from_db()
    return fo


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_ready_pickup_gets_a_six_digit_code_sent_in_its_email(ready):
    assert len(ready.pickup_code) == 6
    assert ready.pickup_code.isdigit()
    sent = [m for m in mail.outbox if "ready" in m.subject.lower()]
    assert len(sent) == 1
    assert ready.pickup_code in sent[0].body
    assert ready.pickup_code in sent[0].alternatives[0][0]
    # never on the timeline
    assert not OrderEvent.objects.filter(order=ready.order, message__contains=ready.pickup_code).exists()


def test_the_ready_email_says_the_code_in_vietnamese(ready, django_capture_on_commit_callbacks):
    ready.order.customer.language = "vi"
    ready.order.customer.save()
    with django_capture_on_commit_callbacks(execute=True):  # the same e-mail, with a new code
        fo = services.fulfillment_order_pickup_code_reissue(fulfillment_order_id=ready.pk, actor=SYSTEM)
    assert f"Mã nhận hàng của bạn: {fo.pickup_code}" in mail.outbox[-1].body


def test_the_right_code_hands_over(ready):
    code = f" {ready.pickup_code[:3]} {ready.pickup_code[3:]} "  # spaces as a customer reads it out
    fo = services.fulfillment_order_picked_up(
        fulfillment_order_id=ready.pk, actor=SYSTEM, pickup_code=code, code_required=True
    )
    assert fo.status == "picked_up"
    assert StockLevel.objects.get(location__code="st-a").on_hand == 4


def test_a_required_code_must_be_given(ready):
    with pytest.raises(PickupCodeRequired):
        services.fulfillment_order_picked_up(fulfillment_order_id=ready.pk, actor=SYSTEM, code_required=True)
    assert FulfillmentOrder.objects.get(pk=ready.pk).status == "ready_for_pickup"


def test_no_code_is_still_a_hand_over_where_it_is_optional(ready):
    fo = services.fulfillment_order_picked_up(fulfillment_order_id=ready.pk, actor=SYSTEM)
    assert fo.status == "picked_up"


@override_settings(OMS_PICKUP_CODE_MAX_ATTEMPTS=3)
def test_wrong_codes_are_counted_then_the_code_locks(ready):
    bad = wrong(ready.pickup_code)
    for left in (2, 1):
        with pytest.raises(PickupCodeMismatch) as refused:
            services.fulfillment_order_picked_up(fulfillment_order_id=ready.pk, actor=SYSTEM, pickup_code=bad)
        assert refused.value.extra["attempts_left"] == left
    with pytest.raises(PickupCodeLocked):
        services.fulfillment_order_picked_up(fulfillment_order_id=ready.pk, actor=SYSTEM, pickup_code=bad)
    fo = FulfillmentOrder.objects.get(pk=ready.pk)
    assert (fo.status, fo.pickup_code_attempts) == ("ready_for_pickup", 3)
    assert fo.pickup_code_locked_at is not None
    kinds = list(OrderEvent.objects.filter(order=ready.order).values_list("kind", flat=True))
    assert kinds.count("pickup_code_refused") == 3
    assert kinds.count("pickup_code_locked") == 1
    # locked: even the right code, or none, is refused
    for code in (ready.pickup_code, None):
        with pytest.raises(PickupCodeLocked):
            services.fulfillment_order_picked_up(
                fulfillment_order_id=ready.pk, actor=SYSTEM, pickup_code=code
            )
    assert StockLevel.objects.get(location__code="st-a").reserved == 1


@override_settings(OMS_PICKUP_CODE_MAX_ATTEMPTS=1)
def test_a_manager_sends_a_new_code(ready, make_associate, django_capture_on_commit_callbacks):
    with pytest.raises(PickupCodeLocked):
        services.fulfillment_order_picked_up(
            fulfillment_order_id=ready.pk, actor=SYSTEM, pickup_code=wrong(ready.pickup_code)
        )
    make_associate("ann", ready.location)
    ann = Actor.for_user(get_user_model().objects.get(username="ann"))
    with pytest.raises(PermissionDenied):
        services.fulfillment_order_pickup_code_reissue(fulfillment_order_id=ready.pk, actor=ann)
    sent_before = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        fo = services.fulfillment_order_pickup_code_reissue(fulfillment_order_id=ready.pk, actor=SYSTEM)
    assert (fo.pickup_code_attempts, fo.pickup_code_locked_at) == (0, None)
    assert len(mail.outbox) == sent_before + 1
    assert fo.pickup_code in mail.outbox[-1].body
    done = services.fulfillment_order_picked_up(
        fulfillment_order_id=ready.pk, actor=ann, pickup_code=fo.pickup_code, code_required=True
    )
    assert done.status == "picked_up"


# --- The API ----------------------------------------------------------------------------------------


def picked_up(authed, fo, body=None):
    return authed.api.post(f"/api/v1/fulfillment-orders/{fo.pk}/picked-up", body or {}, format="json")


def test_the_api_checks_a_code_it_is_given(ready, manager):
    refused = picked_up(manager, ready, {"pickup_code": wrong(ready.pickup_code)})
    assert refused.status_code == 422
    assert refused.json()["code"] == "pickup_code_mismatch"
    assert refused.json()["extra"]["attempts_left"] == 4
    assert "pickup_code" not in refused.json()["extra"]
    done = picked_up(manager, ready, {"pickup_code": ready.pickup_code})
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "picked_up"
    assert "pickup_code" not in done.json()  # the code is never answered


def test_the_api_without_a_code_keeps_v1_working(ready, manager):
    assert picked_up(manager, ready).status_code == 200


@override_settings(OMS_API_PICKUP_CODE_REQUIRED=True)
def test_the_api_may_be_set_to_require_the_code(ready, manager):
    refused = picked_up(manager, ready)
    assert refused.status_code == 422
    assert refused.json()["code"] == "pickup_code_required"


@override_settings(OMS_PICKUP_CODE_MAX_ATTEMPTS=2)
def test_the_api_answers_409_once_locked_and_a_manager_resends(ready, manager, make_associate):
    ann = make_associate("ann", ready.location)
    assert picked_up(ann, ready, {"pickup_code": wrong(ready.pickup_code)}).status_code == 422
    locked = picked_up(ann, ready, {"pickup_code": wrong(ready.pickup_code)})
    assert locked.status_code == 409
    assert locked.json()["code"] == "pickup_code_locked"
    detail = ann.api.get(f"/api/v1/fulfillment-orders/{ready.pk}").json()
    assert detail["pickup_code_locked"] is True
    url = f"/api/v1/fulfillment-orders/{ready.pk}/resend-pickup-code"
    assert ann.api.post(url, {}, format="json").status_code == 403
    resent = manager.api.post(url, {}, format="json")
    assert resent.status_code == 200
    assert resent.json()["pickup_code_locked"] is False
    new_code = FulfillmentOrder.objects.get(pk=ready.pk).pickup_code
    assert picked_up(ann, ready, {"pickup_code": new_code}).status_code == 200
