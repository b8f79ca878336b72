"""The offline geocoder: an address without coordinates placed by its city, postal code or region
from the bundled table (inventory/geocoding/places/VN.csv)."""

from __future__ import annotations

import csv

import pytest

from inventory.geocoding import (
    PLACES_DIR,
    countries,
    country_table,
    delivery_point,
    fold,
    place_address,
)
from inventory.sourcing import haversine_km

HANOI = (21.0285, 105.8542)
HCMC = (10.7769, 106.7009)


def vn(**fields: str) -> dict[str, str]:
    return {"line1": "1 Le Loi", "country": "VN", **fields}


@pytest.mark.parametrize("city", ["Hanoi", "Hà Nội", "Ha Noi", "HÀ NỘI", "hanoi city", "Thành phố Hà Nội"])
def test_hanoi_under_every_spelling(city):
    placed = place_address(vn(city=city))
    assert placed is not None
    assert placed.place.name == "Hà Nội"
    assert placed.matched_by == "city"
    assert placed.point == HANOI


@pytest.mark.parametrize(
    "city", ["HCMC", "Ho Chi Minh City", "Hồ Chí Minh", "TP. Hồ Chí Minh", "TP.HCM", "Saigon", "Sài Gòn"]
)
def test_ho_chi_minh_city_under_every_spelling(city):
    placed = place_address(vn(city=city))
    assert placed is not None
    assert placed.place.name == "Hồ Chí Minh"
    assert placed.point == HCMC


def test_a_city_of_a_province_is_placed_at_the_city():
    placed = place_address(vn(city="Nha Trang"))
    assert placed is not None
    assert (placed.place.name, placed.place.kind, placed.place.province) == ("Nha Trang", "city", "Khánh Hòa")
    assert place_address(vn(city="Da Lat")).place.name == "Đà Lạt"


@pytest.mark.parametrize(
    ("postal_code", "province"), [("100000", "Hà Nội"), ("70000", "Hồ Chí Minh"), ("50206", "Đà Nẵng")]
)
def test_an_unknown_city_is_placed_by_its_postal_code(postal_code, province):
    placed = place_address(vn(city="Quận 1", postal_code=postal_code))
    assert placed is not None
    assert (placed.place.name, placed.matched_by, placed.given) == (province, "postal code", postal_code)
    assert placed.note == f"placed by postal code '{postal_code}' ({province})"


def test_then_by_its_region():
    placed = place_address(vn(city="Cau Giay", postal_code="99", region="Hà Nội"))
    assert placed is not None
    assert (placed.place.name, placed.matched_by) == ("Hà Nội", "region")


def test_the_city_wins_over_the_postal_code():
    assert place_address(vn(city="Hanoi", postal_code="70000")).place.name == "Hà Nội"


@pytest.mark.parametrize(
    "address",
    [
        None,
        {},
        vn(city="Atlantis"),
        {"city": "Hanoi"},  # no country: no table
        {"city": "Hanoi", "country": "FR"},  # a country without a table
        {"city": "Hanoi", "country": "../VN"},
    ],
)
def test_what_cannot_be_placed_is_none(address):
    assert place_address(address) is None


def test_delivery_point_prefers_the_coordinates_given():
    assert delivery_point(latitude="10.5", longitude="106.5", address=vn(city="Hanoi")) == ((10.5, 106.5), "")
    assert delivery_point(latitude=None, longitude=None, address=vn(city="Hanoi")) == (
        HANOI,
        "placed by city 'Hanoi' (Hà Nội)",
    )
    assert delivery_point(latitude=None, longitude=None, address=vn(city="Atlantis")) == (None, "")


def test_fold_ignores_diacritics_case_spaces_and_the_words_for_city():
    assert fold("TP. Hồ Chí Minh") == fold("Ho Chi Minh City") == "hochiminh"
    assert fold("Đà Nẵng") == fold("da nang") == "danang"
    assert fold("Tỉnh Đồng Nai") == "dongnai"
    assert fold("City") == "city"  # a name that is only the word stays


def test_the_vietnam_table_is_complete_and_consistent():
    assert "VN" in countries()
    with (PLACES_DIR / "VN.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    provinces = {row["name"] for row in rows if row["kind"] == "province"}
    assert len(provinces) == 63
    prefixes = [p for row in rows for p in row["postal_prefixes"].split()]
    assert len(prefixes) == len(set(prefixes))  # one province per prefix
    for row in rows:
        assert 8 <= float(row["latitude"]) <= 24, row["name"]
        assert 102 <= float(row["longitude"]) <= 110, row["name"]
        if row["kind"] == "city":
            assert row["province"] in provinces, row["name"]
    table = country_table("VN")
    assert table is not None
    assert len(table.postal) == len(prefixes)
    # the two cities of the demo network are 1,100+ km apart: a misplaced order is a real cost
    assert haversine_km(HANOI, HCMC) > 1100
