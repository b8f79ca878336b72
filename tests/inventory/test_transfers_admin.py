"""The transfer admin: associates see the transfers of their locations, with the button of their
end only (ship at the source, receive at the destination), which calls the service."""

from __future__ import annotations

import pytest

from inventory.models import StockLevel, TransferOrder
from inventory.transfers.services import TransferItem, transfer_create
from tests.conftest import SYSTEM, stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

from .test_admin import login

pytestmark = pytest.mark.django_db
PAGE = "/admin/inventory/transferorder/"


def _buttons(response) -> list[str]:
    return [shown.button.name for shown in response.context["detail_buttons"]]


def test_associates_ship_at_the_source_and_receive_at_the_destination(make_associate, manager):
    wh, st, elsewhere = LocationFactory(code="wh-adm"), StoreFactory(code="st-adm"), StoreFactory(code="st-x")
    product = ProductFactory(sku="ADM")
    stock_put(product, wh, 3)
    transfer = transfer_create(
        source=wh, destination=st, items=[TransferItem(product=product, quantity=2)], actor=SYSTEM
    )
    make_associate("at-wh", wh)
    make_associate("at-st", st)
    make_associate("at-x", elsewhere)
    at_wh, at_st, at_x = login("at-wh"), login("at-st"), login("at-x")

    assert at_x.get(PAGE).context["cl"].result_count == 0
    assert at_x.get(f"{PAGE}{transfer.pk}/change/").status_code in (302, 403, 404)
    assert at_st.get(PAGE).context["cl"].result_count == 1
    assert _buttons(at_st.get(f"{PAGE}{transfer.pk}/change/")) == []  # a draft: the source ships it
    assert _buttons(at_wh.get(f"{PAGE}{transfer.pk}/change/")) == ["ship", "cancel"]
    assert _buttons(login("manager").get(f"{PAGE}{transfer.pk}/change/")) == ["ship", "cancel"]

    at_wh.post(f"{PAGE}{transfer.pk}/do/ship/", follow=True)
    assert TransferOrder.objects.get(pk=transfer.pk).status == "shipped"
    assert _buttons(at_wh.get(f"{PAGE}{transfer.pk}/change/")) == []
    assert _buttons(at_st.get(f"{PAGE}{transfer.pk}/change/")) == ["receive"]
    at_st.post(f"{PAGE}{transfer.pk}/do/receive/", follow=True)
    assert TransferOrder.objects.get(pk=transfer.pk).status == "received"
    assert StockLevel.objects.get(product=product, location=st).on_hand == 2
