"""Today at my store: the start page's counts and lists (``store_day``), in the store's time zone,
scoped to the associate's stores, with a manager's store selector; the links to the filtered lists."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from fulfillment import services
from fulfillment.models import FulfillmentOrder
from fulfillment.selectors import day_end_at, store_day
from inventory.models import Location
from oms.actors import Actor
from oms.errors import NotFound
from returns.services import ReturnLineInput, return_create
from tests.conftest import stock_put
from tests.factories import ProductFactory

from .conftest import place, store

SYSTEM = Actor.system("tests")
HCM = "Asia/Ho_Chi_Minh"


@pytest.fixture
def shops(db):
    a = store("st-a", "10.7770", "106.7010", timezone=HCM)
    b = store("st-b", "21.0285", "105.8540", timezone=HCM)
    shirt = ProductFactory(sku="SHIRT")
    for shop in (a, b):
        stock_put(shirt, shop, 20)
    return a, b


def pickup(code: str) -> FulfillmentOrder:
    order = place(("SHIRT", 1), method="pickup", pickup=code)
    services.route_order(order_id=order.pk)
    return FulfillmentOrder.objects.get(order=order)


def step(fo: FulfillmentOrder, *names: str) -> FulfillmentOrder:
    for name in names:
        getattr(services, f"fulfillment_order_{name}")(fulfillment_order_id=fo.pk, actor=SYSTEM)
    return FulfillmentOrder.objects.get(pk=fo.pk)


def counts(day) -> dict[str, int]:
    return {section.key: section.count for section in day.sections}


def actor_of(username: str) -> Actor:
    return Actor.for_user(get_user_model().objects.get(username=username))


def test_the_counts_of_a_store_day(shops, make_associate):
    a, _ = shops
    new = pickup("st-a")
    to_pick = step(pickup("st-a"), "accept")
    picked = step(pickup("st-a"), "accept", "pick")
    waiting = step(pickup("st-a"), "accept", "ready_for_pickup")
    pickup("st-b")  # another store's work is not counted
    done = step(pickup("st-a"), "accept", "ready_for_pickup")
    services.fulfillment_order_picked_up(fulfillment_order_id=done.pk, actor=SYSTEM)
    make_associate("ann", a)

    day = store_day(actor=actor_of("ann"), now=timezone.now())
    assert [loc.code for loc in day.locations] == ["st-a"]
    assert day.tz == ZoneInfo(HCM)
    got = counts(day)
    assert (got["new"], got["to_pick"], got["to_pack"], got["waiting"]) == (1, 1, 1, 1)
    assert (got["to_ship"], got["expiring"], got["late"], got["returns"]) == (0, 0, 0, 0)
    by_key = {section.key: section for section in day.sections}
    assert [item.number for item in by_key["new"].items] == [new.number]
    assert by_key["to_pick"].items[0].number == to_pick.number
    assert by_key["to_pack"].items[0].number == picked.number
    item = by_key["waiting"].items[0]
    assert (item.number, item.customer, item.units) == (waiting.number, "Ann", 1)
    assert item.due == waiting.pickup_expires_at
    assert by_key["new"].list_url == "/admin/fulfillment/fulfillmentorder/?queue=new"


def test_late_and_expiring_follow_the_clock_and_the_store_time_zone(shops, make_associate, settings):
    settings.OMS_SLA_PICKUP_READY_HOURS = 2
    a, _ = shops
    fo = step(pickup("st-a"), "accept")
    waiting = step(pickup("st-a"), "accept", "ready_for_pickup")
    make_associate("ann", a)
    ann = actor_of("ann")
    assert counts(store_day(actor=ann, now=timezone.now()))["late"] == 0
    later = timezone.now() + timedelta(hours=3)
    late = store_day(actor=ann, now=later)
    assert counts(late)["late"] == 1
    section = next(s for s in late.sections if s.key == "late")
    assert section.items[0].number == fo.number
    assert section.items[0].late
    assert section.items[0].age >= timedelta(hours=3)
    # expiring today: before midnight in Ho Chi Minh City, not UTC's
    expiry_day = store_day(actor=ann, now=waiting.pickup_expires_at - timedelta(minutes=1))
    assert counts(expiry_day)["expiring"] == 1
    end = day_end_at(waiting.pickup_expires_at, ZoneInfo(HCM))
    assert end.utcoffset() == timedelta(hours=7)
    day_before = store_day(actor=ann, now=end - timedelta(days=2))
    assert counts(day_before)["expiring"] == 0


def test_returns_to_receive_are_counted(shops, make_associate):
    a, _ = shops
    fo = step(pickup("st-a"), "accept", "ready_for_pickup", "picked_up")
    line = fo.order.lines.get()
    rma = return_create(
        order_id=fo.order_id,
        method="in_store",
        location_code="st-a",
        lines=[ReturnLineInput(order_line_id=line.pk, quantity=1, reason="wrong_size")],
        actor=SYSTEM,
    ).rma
    make_associate("ann", a)
    day = store_day(actor=actor_of("ann"), now=timezone.now())
    section = next(s for s in day.sections if s.key == "returns")
    assert (section.count, section.items[0].number, section.items[0].units) == (1, rma.number, 1)
    assert section.list_url == "/admin/returns/return/?to_receive=yes"


def test_a_manager_sees_every_store_or_picks_one(shops, manager):
    _a, b = shops
    pickup("st-a")
    pickup("st-b")
    boss = actor_of("manager")
    assert counts(store_day(actor=boss, now=timezone.now()))["new"] == 2
    only_b = store_day(actor=boss, location_id=b.pk, now=timezone.now())
    assert counts(only_b)["new"] == 1
    assert only_b.sections[0].list_url.endswith(f"queue=new&location={b.pk}")


def test_an_associate_cannot_pick_another_store(shops, make_associate):
    a, b = shops
    make_associate("ann", a)
    with pytest.raises(NotFound):
        store_day(actor=actor_of("ann"), location_id=b.pk, now=timezone.now())


def test_a_location_time_zone_is_an_iana_name(db):
    location = Location(code="x", name="X", kind="store", latitude=1, longitude=1, timezone="Mars/Olympus")
    with pytest.raises(ValidationError) as bad:
        location.full_clean()
    assert "timezone" in bad.value.error_dict
    assert Location(code="y").timezone == "UTC"  # the TIME_ZONE setting by default


def test_the_api_sets_and_checks_a_location_time_zone(manager):
    body = {"code": "st-z", "name": "Z", "kind": "store", "latitude": 10, "longitude": 106}
    created = manager.api.post("/api/v1/locations", {**body, "timezone": HCM}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["timezone"] == HCM
    bad = manager.api.post(
        "/api/v1/locations", {**body, "code": "st-y", "timezone": "Nowhere"}, format="json"
    )
    assert bad.status_code in (400, 422)
    default = manager.api.post("/api/v1/locations", {**body, "code": "st-x"}, format="json")
    assert default.json()["timezone"] == "UTC"


# --- The page: the admin index ----------------------------------------------------------------------


def test_the_admin_index_is_the_store_day_of_an_associate(shops, make_associate, client):
    a, _ = shops
    pickup("st-a")
    step(pickup("st-a"), "accept", "ready_for_pickup")
    pickup("st-b")
    make_associate("ann", a)
    client.force_login(get_user_model().objects.get(username="ann"))
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Today at" in html
    assert 'id="count-new" data-count="1"' in html
    assert 'id="count-waiting" data-count="1"' in html
    assert "(Asia/Ho_Chi_Minh)" in html
    assert 'name="location"' not in html  # one store: no selector


def test_a_manager_picks_the_store_on_the_index(shops, manager, client):
    _a, b = shops
    pickup("st-a")
    pickup("st-b")
    client.force_login(get_user_model().objects.get(username="manager"))
    everywhere = client.get("/admin/").content.decode()
    assert 'id="count-new" data-count="2"' in everywhere
    assert 'name="location"' in everywhere
    html = client.get("/admin/", {"location": b.pk}).content.decode()
    assert 'id="count-new" data-count="1"' in html
    assert f"queue=new&amp;location={b.pk}" in html
    # a location that does not exist falls back to the whole network, no error page
    assert client.get("/admin/", {"location": "999999"}).status_code == 200


def test_the_count_links_open_the_filtered_lists(shops, make_associate, client, settings):
    settings.OMS_SLA_PICKUP_READY_HOURS = 0
    a, _ = shops
    late = step(pickup("st-a"), "accept")
    waiting = step(pickup("st-a"), "accept", "ready_for_pickup")
    make_associate("ann", a)
    client.force_login(get_user_model().objects.get(username="ann"))
    url = "/admin/fulfillment/fulfillmentorder/"
    cases = (("to_pick", late, waiting), ("late", late, waiting), ("waiting", waiting, late))
    for queue, shown, hidden in cases:
        html = client.get(url, {"queue": queue}).content.decode()
        assert shown.number in html, queue
        assert hidden.number not in html, queue
