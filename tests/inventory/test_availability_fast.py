"""GET /api/v1/availability on its fast path: one statement per request, plain-dict output and query
parsing that answer exactly what the DRF serializers answer (the contract's shape and errors)."""

import json
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from inventory.api.serializers import (
    AvailabilityOutput,
    AvailabilityQuery,
    availability_output,
    availability_query_fast,
)
from inventory.selectors import availability_for_skus
from oms.api.validation import parse_input
from oms.authentication import api_key_cache_clear
from oms.errors import MalformedInput
from tests.factories import LocationFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db

AVAILABILITY = "/api/v1/availability"
CUSTOMER = (10.776900, 106.700900)
POINT = f"latitude={CUSTOMER[0]}&longitude={CUSTOMER[1]}"


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    api_key_cache_clear()
    yield
    api_key_cache_clear()


@pytest.fixture
def stocked(make_stock):
    near = StoreFactory(code="st-near", name="Near", latitude="10.785900", longitude="106.700900")
    far = LocationFactory(code="wh-far", name="Far", latitude="21.047500", longitude="105.888300")
    closed = StoreFactory(code="st-closed", latitude="10.776900", longitude="106.700900", active=False)
    make_stock("A", near, 5, reserved=1)
    make_stock("A", far, 12, safety=2)
    make_stock("A", closed, 9)
    make_stock("ONLY-CLOSED", closed, 4)  # a product whose only stock is at an inactive location
    ProductFactory(sku="NO-STOCK")  # a product without any stock row
    return {"near": near, "far": far}


# --- The output: the same JSON as the nested serializers ---------------------------------------------


@pytest.mark.parametrize("origin", [None, CUSTOMER])
def test_plain_output_is_the_serializers_json(stocked, origin):
    answer = availability_for_skus(skus=["A", "NOPE", "NO-STOCK", "ONLY-CLOSED"], origin=origin)
    plain = availability_output(answer)
    assert json.dumps(plain) == json.dumps(AvailabilityOutput(answer).data)  # keys, order and types
    locations = plain["results"][0]["locations"]
    assert {type(loc["pickup"]) for loc in locations} == {bool}
    assert {type(loc["available"]) for loc in locations} == {int}


def test_known_products_without_stock_are_not_unknown(stocked):
    answer = availability_for_skus(skus=["NO-STOCK", "ONLY-CLOSED", "NOPE", "A"])
    assert [(e.sku, e.available, e.locations) for e in answer.results[:3]] == [
        ("NO-STOCK", 0, []),
        ("ONLY-CLOSED", 0, []),
        ("NOPE", 0, []),
    ]
    assert answer.unknown_skus == ["NOPE"]
    assert [loc.location for loc in answer.results[3].locations] == ["st-near", "wh-far"]


def test_no_sku_asks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = availability_for_skus(skus=[])
    assert (answer.results, answer.unknown_skus) == ([], [])


# --- Statements per request -----------------------------------------------------------------------------


def test_one_statement_per_request_for_a_channel(stocked, web_client, django_assert_num_queries):
    url = f"{AVAILABILITY}?sku=A&sku=NOPE&{POINT}&radius_km=50"
    # The first request of a key: its lookup, the availability query and last_used_at.
    with django_assert_num_queries(3):
        first = web_client.api.get(url)
    # Then, within OMS_API_KEY_CACHE_SECONDS: the availability query alone.
    with django_assert_num_queries(1):
        again = web_client.api.get(url)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.json()["results"][0]["available"] == 14
    assert again.json()["unknown_skus"] == ["NOPE"]


def test_staff_tokens_are_looked_up_every_time(stocked, manager, django_assert_num_queries):
    for _ in range(2):
        with django_assert_num_queries(2):  # the token, the availability query
            assert manager.api.get(f"{AVAILABILITY}?sku=A").status_code == 200


# --- Query parsing: the fast path answers what the serializer answers, or leaves it to it --------------


def _serializer_parse(params: QueryDict):
    try:
        return parse_input(AvailabilityQuery, params)
    except (ValidationError, MalformedInput):
        return "refused"


@pytest.mark.parametrize(
    "query",
    [
        "sku=A",
        "sku=A&sku=B&sku=A",
        f"sku=A&{POINT}",
        f"sku=A&{POINT}&radius_km=50",
        f"sku=A&{POINT}&radius_km=0",
        f"sku=A&{POINT}&radius_km=20100",
        "sku=A&latitude=-90&longitude=180",
        "sku=A&latitude=-0&longitude=007.50",
        "sku=A&latitude=1&latitude=2&longitude=3",
        "sku=A&other=1",
        "&".join(["sku=A"] * 100),
        "sku=" + "x" * 64,
    ],
)
def test_fast_parse_of_ordinary_queries(query):
    params = QueryDict(query)
    fast = availability_query_fast(params)
    assert fast is not None
    assert fast == _serializer_parse(params)
    assert [type(v) for v in fast.values()] == [type(v) for v in _serializer_parse(params).values()]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "sku=",
        "sku=%20A",
        "sku=A%00",
        "sku=caf%C3%A9",
        "sku=" + "x" * 65,
        "sku[0]=A",
        "&".join(["sku=A"] * 101),
        f"sku=A&latitude={CUSTOMER[0]}",
        f"sku=A&longitude={CUSTOMER[1]}",
        "sku=A&radius_km=5",
        "sku=A&latitude=&longitude=",
        "sku=A&latitude=91&longitude=0",
        "sku=A&latitude=0&longitude=-180.000001",
        f"sku=A&{POINT}&radius_km=-1",
        f"sku=A&{POINT}&radius_km=20100.5",
        f"sku=A&{POINT}&radius_km=1e3",
        "sku=A&latitude=north&longitude=0",
        "sku=A&latitude=NaN&longitude=0",
        "sku=A&latitude=%2010&longitude=0",
        "sku=A&latitude=.5&longitude=0",
    ],
)
def test_anything_else_is_left_to_the_serializer(query):
    assert availability_query_fast(QueryDict(query)) is None


_text = st.text(alphabet=st.sampled_from("aZ09-_.é /\x00+eE"), max_size=8)
_number = st.one_of(
    _text,
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-30_000, max_value=30_000).map(
        str
    ),
    st.integers(-200, 21_000).map(str),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    skus=st.lists(_text, max_size=4),
    extra=st.dictionaries(st.sampled_from(["latitude", "longitude", "radius_km", "x"]), _number),
)
def test_fast_parse_never_disagrees_with_the_serializer(skus, extra):
    params = QueryDict(urlencode([("sku", sku) for sku in skus] + list(extra.items())))
    fast = availability_query_fast(params)
    if fast is not None:
        assert fast == _serializer_parse(params)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("sku=A", 200),
        ("sku=%20A", 200),  # trimmed by the serializer, as before
        ("sku=A&latitude=&longitude=", 200),  # blank means absent, as before
        ("sku=A&latitude=%2010.7&longitude=106", 200),
        ("sku=A%00", 422),
        ("sku=A&latitude=1e999999&longitude=0", 422),
        ("sku=A&latitude=north&longitude=0", 400),
    ],
)
def test_endpoint_answers_as_before_on_both_paths(stocked, web_client, query, status):
    response = web_client.api.get(f"{AVAILABILITY}?{query}")
    assert response.status_code == status, response.json()
    if status == 200:
        assert response.json()["results"][0]["sku"] == "A"
        assert response.json()["results"][0]["available"] == 14
