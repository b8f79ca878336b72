"""The returns admin: a store's returns to receive, receive / refund / close / cancel actions through
the services, read-only reporting pages, and associates limited to their own locations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client

from returns.models import Receipt, Refund, Return
from returns.services import ReceiveLineInput, return_receive

from .conftest import MANAGER
from .test_services import open_return

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/returns/return/"


def login(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.message for m in get_messages(response.wsgi_request)]


def act(client: Client, action: str, rmas: list[Return], **data) -> object:  # type: ignore[no-untyped-def]
    return client.post(
        CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in rmas], "apply": "1", **data}
    )


@pytest.fixture
def two_returns(net, shipped) -> tuple[Return, Return]:
    at_store = open_return(shipped, net.store, ("SHIRT", 2))
    at_other = open_return(shipped, net.other_store, ("JEANS", 1))
    return at_store, at_other


@pytest.fixture
def admin_manager(manager) -> Client:
    return login("manager")


@pytest.mark.parametrize("model", ["return", "returnline", "receipt", "refund"])
def test_manager_pages_render(admin_manager, two_returns, model):
    rma = two_returns[0]
    return_receive(
        return_id=rma.pk,
        lines=[ReceiveLineInput(return_line_id=rma.lines.get().pk, quantity=1, disposition="damaged")],
        actor=MANAGER,
    )
    assert admin_manager.get(f"/admin/returns/{model}/").status_code == 200
    assert admin_manager.get(f"{CHANGELIST}{rma.pk}/change/").status_code == 200


def test_filters_by_reason_status_location_and_to_receive(admin_manager, net, two_returns):
    at_store, _ = two_returns
    response = admin_manager.get(CHANGELIST, {"location__id__exact": net.store.pk})
    assert list(response.context["cl"].result_list) == [at_store]
    assert len(admin_manager.get(CHANGELIST, {"to_receive": "yes"}).context["cl"].result_list) == 2
    assert (
        admin_manager.get(CHANGELIST, {"lines__reason__exact": "damaged"}).context["cl"].result_list.count()
        == 0
    )
    assert admin_manager.get(CHANGELIST, {"status__exact": "requested"}).status_code == 200
    lines = admin_manager.get("/admin/returns/returnline/", {"reason__exact": "other"})
    assert len(lines.context["cl"].result_list) == 2


def test_receive_action_shows_a_form_then_receives_through_the_service(admin_manager, net, two_returns):
    at_store, _ = two_returns
    form = admin_manager.post(
        CHANGELIST, {"action": "receive_outstanding", ACTION_CHECKBOX_NAME: [at_store.pk]}
    )
    assert form.status_code == 200
    assert b'name="disposition"' in form.content
    response = act(admin_manager, "receive_outstanding", [at_store], disposition="restock")
    assert response.status_code == 302
    assert messages_of(response) == ["Received 1 return."]
    at_store.refresh_from_db()
    assert at_store.status == "received"
    assert net.on_hand(net.shirt, net.store) == 2
    again = act(admin_manager, "receive_outstanding", [at_store], disposition="restock")
    assert any("Nothing is left to receive" in m for m in messages_of(again))


def test_refund_action_refunds_what_is_due_or_a_given_amount(admin_manager, two_returns):
    at_store, at_other = two_returns
    act(admin_manager, "record_refund", [at_store], amount="", method="store_credit", note="")
    refund = Refund.objects.get()
    assert (refund.amount, refund.method, refund.created_by) == (Decimal("20.00"), "store_credit", "manager")
    response = act(admin_manager, "record_refund", [at_other], amount="31.00", method="cash")
    assert any("can refund at most 30.00" in m for m in messages_of(response))
    act(admin_manager, "record_refund", [at_other], amount="30.00", method="cash")
    assert Refund.objects.count() == 2
    response = act(admin_manager, "record_refund", [at_store], amount="", method="cash")
    assert any("owes nothing more" in m for m in messages_of(response))


def test_close_and_cancel_actions(admin_manager, two_returns):
    at_store, at_other = two_returns
    act(admin_manager, "cancel_returns", [at_other])
    at_other.refresh_from_db()
    assert at_other.status == "cancelled"
    response = act(admin_manager, "close_returns", [at_store])
    assert any("cannot move to 'closed'" in m for m in messages_of(response))


def test_associate_sees_and_acts_only_at_own_store(make_associate, net, two_returns):
    at_store, at_other = two_returns
    make_associate("ann", net.store)
    ann = login("ann")
    listing = ann.get(CHANGELIST)
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [at_store]
    assert ann.get(f"{CHANGELIST}{at_store.pk}/change/").status_code == 200
    assert ann.get(f"{CHANGELIST}{at_other.pk}/change/").status_code == 302  # "does not exist"
    assert ann.get("/admin/returns/returnline/").context["cl"].result_list.count() == 1
    response = act(ann, "receive_outstanding", [at_store, at_other], disposition="damaged")
    assert messages_of(response) == ["Received 1 return."]
    at_other.refresh_from_db()
    assert at_other.status == "requested"  # not in her queryset: never touched
    assert Receipt.objects.get().rma == at_store
    assert net.on_hand(net.shirt, net.store) == 0  # damaged: not restocked
