import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client

from inventory.models import StockLevel, StockMovement
from inventory.services import StockLine, stock_reserve
from tests.conftest import SYSTEM, stock_put
from tests.factories import LocationFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/inventory/stocklevel/"


def login(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def messages_of(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def reserve(level: StockLevel, quantity: int) -> None:
    with transaction.atomic():
        stock_reserve(
            lines=[StockLine(level.pk, level.product_id, level.location_id, quantity)],
            actor=SYSTEM,
            reference="order-1",
        )


def adjust(client: Client, levels: list[StockLevel], **data) -> object:
    return client.post(
        CHANGELIST,
        {"action": "adjust_stock", ACTION_CHECKBOX_NAME: [lv.pk for lv in levels], "apply": "1", **data},
    )


@pytest.fixture
def admin_manager(manager) -> Client:
    return login("manager")


@pytest.fixture
def level(warehouse, product) -> StockLevel:
    return stock_put(product, warehouse, 10)


@pytest.mark.parametrize("model", ["location", "product", "stocklevel", "stockmovement"])
def test_manager_changelists_render(admin_manager, level, model):
    response = admin_manager.get(f"/admin/inventory/{model}/")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


def test_manager_detail_pages_render(admin_manager, level):
    location_page = admin_manager.get(f"/admin/inventory/location/{level.location_id}/change/")
    assert location_page.status_code == 200
    assert level.product.sku.encode() in location_page.content  # the read-only stock inline
    assert admin_manager.get(f"/admin/inventory/product/{level.product_id}/change/").status_code == 200
    assert admin_manager.get(f"{CHANGELIST}{level.pk}/change/").status_code == 200
    movement = StockMovement.objects.get()
    assert admin_manager.get(f"/admin/inventory/stockmovement/{movement.pk}/change/").status_code == 200
    assert admin_manager.get(CHANGELIST, {"q": level.product.sku}).status_code == 200
    filtered = admin_manager.get(CHANGELIST, {"location__id__exact": level.location_id})
    assert list(filtered.context["cl"].result_list) == [level]


def test_location_changelist_shows_capabilities_and_filters(admin_manager, warehouse, store):
    response = admin_manager.get("/admin/inventory/location/", {"kind__exact": "store"})
    assert list(response.context["cl"].result_list) == [store]
    assert b"pickup" in response.content


def test_adjust_action_shows_a_form_first(admin_manager, level):
    response = admin_manager.post(
        CHANGELIST, {"action": "adjust_stock", ACTION_CHECKBOX_NAME: [level.pk], "index": "0"}
    )
    assert response.status_code == 200
    assert b'name="delta"' in response.content
    assert b'name="reason"' in response.content
    level.refresh_from_db()
    assert level.on_hand == 10


def test_adjust_action_changes_on_hand_through_the_service(admin_manager, level):
    response = adjust(admin_manager, [level], delta="-4", on_hand="", reason="damaged in store")
    assert response.status_code == 302
    assert messages_of(response) == ["Adjusted 1 stock row."]
    level.refresh_from_db()
    assert level.on_hand == 6
    movement = StockMovement.objects.latest("pk")
    assert (movement.kind, movement.on_hand_delta, movement.on_hand_after) == ("adjustment", -4, 6)
    assert (movement.reason, movement.actor_type, movement.actor_name) == (
        "damaged in store",
        "staff",
        "manager",
    )


def test_adjust_action_records_a_count(admin_manager, level):
    adjust(admin_manager, [level], delta="", on_hand="7", reason="cycle count")
    level.refresh_from_db()
    assert level.on_hand == 7
    movement = StockMovement.objects.latest("pk")
    assert (movement.kind, movement.on_hand_delta, movement.expected_on_hand) == ("count", -3, 10)


def test_bad_adjustment_is_an_error_message_and_changes_nothing(admin_manager, level, store, product):
    reserve(level, 8)
    other = stock_put(product, store, 5)
    movements = StockMovement.objects.count()
    response = adjust(admin_manager, [level, other], delta="-3", reason="lost")
    assert response.status_code == 302
    errors = [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert len(errors) == 1
    assert "Cannot remove 3 units" in errors[0].message
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (10, 8)
    other.refresh_from_db()
    assert other.on_hand == 2  # the other row is adjusted on its own
    assert StockMovement.objects.count() == movements + 1

    count = adjust(admin_manager, [level], on_hand="3", reason="count")
    assert any("8 are reserved" in m for m in messages_of(count))
    level.refresh_from_db()
    assert level.on_hand == 10
    assert StockMovement.objects.count() == movements + 1


@pytest.mark.parametrize(
    "data",
    [
        {"delta": "2", "on_hand": "4", "reason": "both"},
        {"delta": "", "on_hand": "", "reason": "neither"},
        {"delta": "2", "reason": ""},
        {"on_hand": "-1", "reason": "negative count"},
    ],
)
def test_invalid_adjust_form_is_shown_again(admin_manager, level, data):
    response = adjust(admin_manager, [level], **data)
    assert response.status_code == 200
    assert response.context["form"].errors
    level.refresh_from_db()
    assert level.on_hand == 10
    assert StockMovement.objects.count() == 1


def test_out_of_range_delta_is_reported_not_a_500(admin_manager, level):
    response = adjust(admin_manager, [level], delta="1000000000", reason="typo")
    assert response.status_code == 302
    assert any("at most" in m for m in messages_of(response))
    level.refresh_from_db()
    assert level.on_hand == 10


def test_counters_are_not_editable(admin_manager, level):
    response = admin_manager.post(
        f"{CHANGELIST}{level.pk}/change/", {"on_hand": "999", "reserved": "5", "safety_stock": "2"}
    )
    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.safety_stock) == (10, 0, 2)
    assert StockMovement.objects.count() == 1


def test_no_adding_or_deleting_stock_rows(admin_manager, level):
    assert admin_manager.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_manager.post(f"{CHANGELIST}{level.pk}/delete/", {"post": "yes"}).status_code == 403
    assert StockLevel.objects.filter(pk=level.pk).exists()


def test_ledger_is_read_only(admin_manager, level):
    movement = StockMovement.objects.get()
    base = "/admin/inventory/stockmovement/"
    assert admin_manager.get(f"{base}add/").status_code == 403
    assert admin_manager.post(f"{base}{movement.pk}/delete/", {"post": "yes"}).status_code == 403
    change = admin_manager.post(f"{base}{movement.pk}/change/", {"reason": "rewritten", "on_hand_delta": 99})
    assert change.status_code == 403
    listing = admin_manager.get(base)
    assert listing.context["action_form"] is None  # no actions at all, so no delete_selected
    response = admin_manager.post(
        base, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [movement.pk], "index": "0", "post": "yes"}
    )
    assert StockMovement.objects.filter(pk=movement.pk, reason="test receipt", on_hand_delta=10).exists()
    assert response.status_code in (200, 302)
    assert admin_manager.get(f"{base}{movement.pk}/change/").status_code == 200  # view only


@pytest.fixture
def two_stores(make_associate):
    product = ProductFactory(sku="MUG")
    mine, theirs = StoreFactory(code="store-mine"), StoreFactory(code="store-theirs")
    own, other = stock_put(product, mine, 5), stock_put(product, theirs, 7)
    make_associate("ann", mine)
    return login("ann"), own, other


def test_associate_sees_only_own_locations(two_stores):
    associate, own, other = two_stores
    assert associate.get("/admin/").status_code == 200
    rows = associate.get(CHANGELIST)
    assert rows.status_code == 200
    assert list(rows.context["cl"].result_list) == [own]
    movements = associate.get("/admin/inventory/stockmovement/")
    assert {m.location_id for m in movements.context["cl"].result_list} == {own.location_id}
    locations = associate.get("/admin/inventory/location/")
    assert [loc.pk for loc in locations.context["cl"].result_list] == [own.location_id]
    assert b"store-theirs" not in rows.content  # not even in the location filter
    assert associate.get(f"{CHANGELIST}{own.pk}/change/").status_code == 200
    assert associate.get(f"{CHANGELIST}{other.pk}/change/").status_code == 302  # "does not exist"
    assert associate.get(f"/admin/inventory/location/{other.location_id}/change/").status_code == 302


def test_associate_adjusts_own_stock_only(two_stores):
    associate, own, other = two_stores
    adjust(associate, [own, other], delta="2", reason="found in back room")
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.on_hand, other.on_hand) == (7, 7)
    assert StockMovement.objects.latest("pk").actor_name == "ann"


def test_associate_cannot_change_counters_or_safety_stock(two_stores):
    associate, own, _ = two_stores
    response = associate.post(f"{CHANGELIST}{own.pk}/change/", {"safety_stock": "3"})
    assert response.status_code == 403
    own.refresh_from_db()
    assert own.safety_stock == 0
    assert associate.post("/admin/inventory/product/add/", {"sku": "X"}).status_code == 403


def test_staff_without_profile_sees_nothing(db, level):
    get_user_model().objects.create_user(username="temp", is_staff=True)
    client = login("temp")
    assert client.get(CHANGELIST).status_code == 403


def test_location_inline_is_read_only(admin_manager, level):
    location = level.location
    page = admin_manager.get(f"/admin/inventory/location/{location.pk}/change/")
    assert b'name="stock_levels-0-on_hand"' not in page.content
    LocationFactory(code="other")
    assert admin_manager.get("/admin/inventory/location/", {"q": "other"}).status_code == 200
