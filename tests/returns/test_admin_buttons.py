"""The buttons of a return's admin page: receive and refund, through the services, shown only
while the return allows them and only to its location's staff and managers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client

from returns.models import Refund, Return

from .test_services import open_return

pytestmark = pytest.mark.django_db


def login(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def buttons(client: Client, rma: Return) -> list[str]:
    response = client.get(f"/admin/returns/return/{rma.pk}/change/")
    assert response.status_code == 200
    return re.findall(r'data-button="([a-z-]+)"', response.content.decode())


def press(client: Client, rma: Return, button: str, **data):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/returns/return/{rma.pk}/do/{button}/", data, follow=True)


def test_receive_then_refund_from_the_page(manager, net, shipped):
    rma = open_return(shipped, net.store, ("SHIRT", 2))
    boss = login("manager")
    assert buttons(boss, rma) == ["receive", "refund"]
    press(boss, rma, "receive", disposition="restock")
    rma.refresh_from_db()
    assert rma.status == "received"
    assert buttons(boss, rma) == ["refund"]
    done = press(boss, rma, "refund", method="original_payment", note="")
    assert any("refund recorded" in m.message for m in get_messages(done.wsgi_request))
    assert Refund.objects.get(rma=rma).amount == rma.value
    assert buttons(boss, rma) == []  # nothing more is owed


def test_a_refund_above_what_is_due_is_an_error_message(manager, net, shipped):
    rma = open_return(shipped, net.store, ("SHIRT", 1))
    boss = login("manager")
    refused = press(boss, rma, "refund", amount=str(rma.value + Decimal("1000")), method="original_payment")
    assert refused.status_code == 200
    assert any(m.level_tag == "error" for m in get_messages(refused.wsgi_request))
    assert not Refund.objects.filter(rma=rma).exists()


def test_an_associate_has_the_buttons_only_at_their_store(make_associate, net, shipped):
    mine = open_return(shipped, net.store, ("SHIRT", 1))
    theirs = open_return(shipped, net.other_store, ("JEANS", 1))
    make_associate("ann", net.store)
    ann = login("ann")
    assert buttons(ann, mine) == ["receive", "refund"]
    assert press(ann, theirs, "receive", disposition="restock").status_code == 404
    assert Return.objects.get(pk=theirs.pk).status == "requested"
