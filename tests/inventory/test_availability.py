"""GET /api/v1/availability and availability_for_skus: ATP per SKU, to ship and near a point."""

import pytest

from inventory.selectors import availability_for_skus
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db

AVAILABILITY = "/api/v1/availability"
# The customer in Ho Chi Minh City; locations about 1 km, 5 km and 1,140 km (Hanoi) away.
CUSTOMER = (10.776900, 106.700900)
POINT = f"latitude={CUSTOMER[0]}&longitude={CUSTOMER[1]}"


@pytest.fixture
def network(db):
    return {
        "near_store": StoreFactory(code="st-near", name="Near", latitude="10.785900", longitude="106.700900"),
        # A store without ship-from-store, and a warehouse that does not ship, 5 km away.
        "mid_store": StoreFactory(
            code="st-mid", name="Mid", latitude="10.776900", longitude="106.746600", ship_from_store=False
        ),
        "mid_wh": LocationFactory(
            code="wh-mid", name="Mid WH", latitude="10.776900", longitude="106.746600", ships=False
        ),
        "far_wh": LocationFactory(code="wh-far", name="Far", latitude="21.047500", longitude="105.888300"),
        "closed": StoreFactory(code="st-closed", latitude="10.776900", longitude="106.700900", active=False),
    }


@pytest.fixture
def stocked(network, make_stock):
    make_stock("A", network["near_store"], 5, reserved=1)  # 4 to sell
    make_stock("A", network["mid_store"], 3)
    make_stock("A", network["mid_wh"], 2)
    make_stock("A", network["far_wh"], 12, safety=2)  # 10 to sell online
    make_stock("A", network["closed"], 9)  # inactive location: never counted
    make_stock("B", network["far_wh"], 3, reserved=3)  # nothing left
    make_stock("C", network["near_store"], 2, safety=2)  # all held back as safety stock
    return network


def by_location(entry) -> list[tuple[str, int]]:
    return [(loc.location, loc.available) for loc in entry.locations]


def test_to_ship_and_per_location_sorted_by_distance(stocked):
    answer = availability_for_skus(skus=["A"], origin=CUSTOMER)
    [a] = answer.results
    assert a.sku == "A"
    # ship: the near store (ship-from-store) 4 + the far warehouse 10; not st-mid, wh-mid, st-closed
    assert a.available == 14
    assert by_location(a) == [("st-near", 4), ("st-mid", 3), ("wh-mid", 2), ("wh-far", 10)]
    near, mid_store, mid_wh, far = a.locations
    assert near.distance_km == pytest.approx(1.0, abs=0.05)
    assert mid_store.distance_km == mid_wh.distance_km == pytest.approx(5.0, abs=0.1)  # then by code
    assert far.distance_km == pytest.approx(1_140, rel=0.02)
    assert [loc.pickup for loc in a.locations] == [True, True, False, False]
    assert (near.name, near.kind) == ("Near", "store")
    assert answer.unknown_skus == []


def test_radius_keeps_near_locations_but_not_the_ship_total(stocked):
    [a] = availability_for_skus(skus=["A"], origin=CUSTOMER, radius_km=3).results
    assert by_location(a) == [("st-near", 4)]
    assert a.available == 14  # shipping is not limited by the radius


def test_without_a_point_no_distance_and_sorted_by_code(stocked):
    [a] = availability_for_skus(skus=["A"]).results
    assert by_location(a) == [("st-mid", 3), ("st-near", 4), ("wh-far", 10), ("wh-mid", 2)]
    assert {loc.distance_km for loc in a.locations} == {None}


def test_reserved_and_safety_stock_are_not_available(stocked):
    answer = availability_for_skus(skus=["B", "C"], origin=CUSTOMER)
    assert [(e.sku, e.available, e.locations) for e in answer.results] == [("B", 0, []), ("C", 0, [])]


def test_a_channel_whose_orders_stores_may_not_ship(stocked):
    channel = ChannelFactory(code="marketplace", ship_from_stores=False)
    [a] = availability_for_skus(skus=["A"], channel=channel).results
    assert a.available == 10  # only the warehouse
    assert len(a.locations) == 4  # pickup / in-store stock still shows


def test_unknown_and_repeated_skus(stocked):
    answer = availability_for_skus(skus=["NOPE", "A", "A", "B"])
    assert [e.sku for e in answer.results] == ["NOPE", "A", "B"]
    assert (answer.results[0].available, answer.results[0].locations) == (0, [])
    assert answer.unknown_skus == ["NOPE"]


@pytest.mark.parametrize("count", [1, 10])
def test_constant_number_of_queries(network, make_stock, django_assert_num_queries, count):
    for n in range(10):
        for location in ("near_store", "mid_store", "far_wh"):
            make_stock(f"Q-{n}", network[location], n + 1)
    skus = [f"Q-{n}" for n in range(count)] + ["UNKNOWN"]
    with django_assert_num_queries(1):  # products and their stock rows in one
        answer = availability_for_skus(skus=skus, origin=CUSTOMER, radius_km=2_000)
    assert len(answer.results) == count + 1
    assert all(len(e.locations) == 3 for e in answer.results[:count])


# --- The endpoint -----------------------------------------------------------------------------------


def test_endpoint_for_channels_and_staff(stocked, web_client, manager, make_associate):
    associate = make_associate("lan", stocked["near_store"])
    for client in (web_client.api, manager.api, associate.api):
        response = client.get(f"{AVAILABILITY}?sku=A&sku=NOPE&{POINT}&radius_km=10")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["unknown_skus"] == ["NOPE"]
        a, nope = body["results"]
        assert (a["sku"], a["available"]) == ("A", 14)
        assert a["locations"][0] == {
            "location": "st-near",
            "name": "Near",
            "kind": "store",
            "available": 4,
            "distance_km": 1.0,
            "pickup": True,
            "in_transit": 0,
        }
        assert [loc["location"] for loc in a["locations"]] == ["st-near", "st-mid", "wh-mid"]
        assert a["incoming"] == []
        assert nope == {"sku": "NOPE", "available": 0, "locations": [], "incoming": []}


def test_endpoint_honours_the_channels_ship_from_store_policy(stocked, make_channel_client):
    client = make_channel_client("marketplace")
    client.channel.ship_from_stores = False
    client.channel.save()
    body = client.api.get(f"{AVAILABILITY}?sku=A").json()
    assert body["results"][0]["available"] == 10
    assert {loc["distance_km"] for loc in body["results"][0]["locations"]} == {None}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 422),
        ("sku=", 422),
        (f"sku=A&latitude={CUSTOMER[0]}", 422),
        (f"sku=A&longitude={CUSTOMER[1]}", 422),
        ("sku=A&radius_km=5", 422),
        ("sku=A&latitude=91&longitude=0", 422),
        ("sku=A&latitude=0&longitude=181", 422),
        (f"sku=A&{POINT}&radius_km=-1", 422),
        (f"sku=A&{POINT}&radius_km=1e999999", 422),
        ("sku=A&latitude=north&longitude=0", 400),
        ("sku=A&latitude=NaN&longitude=0", 400),
        ("sku=A&latitude=Infinity&longitude=0", 400),
        (f"sku=A&{POINT}&radius_km=far", 400),
        ("&".join(["sku=A"] * 101), 422),
    ],
)
def test_bad_queries_are_4xx_in_house_format(stocked, web_client, query, status):
    response = web_client.api.get(f"{AVAILABILITY}?{query}")
    assert response.status_code == status, response.json()
    assert set(response.json()) == {"code", "message", "extra"}


def test_endpoint_needs_a_key(anon, stocked):
    assert anon.get(f"{AVAILABILITY}?sku=A").status_code == 401
    anon.credentials(HTTP_AUTHORIZATION="Bearer oms_wrong")
    assert anon.get(f"{AVAILABILITY}?sku=A").json()["code"] == "authentication_failed"


def test_endpoint_queries_do_not_grow_with_skus(stocked, web_client, django_assert_max_num_queries):
    for n in range(30):
        ProductFactory(sku=f"Z-{n}")
    skus = "&".join(f"sku=Z-{n}" for n in range(30))
    with django_assert_max_num_queries(3):  # auth (cached), availability (+ last_used_at)
        response = web_client.api.get(f"{AVAILABILITY}?{skus}&sku=A&{POINT}")
    assert response.status_code == 200
