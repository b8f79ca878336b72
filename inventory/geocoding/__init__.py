"""An offline geocoder: an address without coordinates placed at its city, postal code or region.

Sourcing measures distances from the delivery point (``inventory.sourcing``); a storefront that
sends no ``latitude``/``longitude`` would leave the choice to priority and id alone, so a Hanoi
order could be held in Ho Chi Minh City. ``place_address`` looks the address up in a small table
bundled with the package, one CSV per country in ``places/`` (``VN.csv``: the 63 provinces and
centrally-run cities, and the larger towns, with names in Vietnamese, without diacritics and
their common English spellings, and the two-digit postal code prefixes of each province). It
reads no database and calls no service: the tables are read from disk once per process.

Tried in this order, the first hit wins: the ``city`` (a city or a province of the table), the
``postal_code`` (its longest prefix in the table), the ``region`` (a province). Names are compared
folded: without diacritics (``đ`` as ``d``), case, punctuation, spaces, and the words ``thành
phố``/``TP``/``tỉnh`` before or ``city``/``province`` after the name (so "TP. Hồ Chí Minh", "Ho Chi
Minh City" and "hochiminh" are one name). docs/geocoding.md says how to add a country.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PLACES_DIR = Path(__file__).resolve().parent / "places"

_LEADING = (("thanh", "pho"), ("tp",), ("tinh",), ("city", "of"), ("province", "of"))
_TRAILING = (("city",), ("province",), ("thanh", "pho"), ("tinh",))


@dataclass(frozen=True)
class Place:
    """A row of a country's table: a province or a city, with its centre."""

    name: str
    kind: str  # "province" | "city"
    latitude: float
    longitude: float
    province: str = ""  # a city's province


@dataclass(frozen=True)
class PlacedAddress:
    """Where the geocoder put an address, and by which of its fields."""

    place: Place
    matched_by: str  # "city" | "postal code" | "region"
    given: str  # what the address said in that field

    @property
    def point(self) -> tuple[float, float]:
        return (self.place.latitude, self.place.longitude)

    @property
    def note(self) -> str:
        """For the sourcing reason: "placed by city 'Hanoi' (Hà Nội)"."""
        return f"placed by {self.matched_by} '{self.given}' ({self.place.name})"


@dataclass
class _Country:
    names: dict[str, Place]  # folded name or alias -> place (cities first, then provinces)
    provinces: dict[str, Place]  # folded name or alias -> province
    postal: dict[str, Place]  # postal code prefix -> province


def fold(text: str) -> str:
    """A name as the table compares it: no diacritics, case, punctuation, spaces or the words
    that say "city" / "province" around it ("TP. Hồ Chí Minh" -> "hochiminh")."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    words = re.sub(r"[^a-z0-9]+", " ", plain).split()
    for prefix in _LEADING:
        if tuple(words[: len(prefix)]) == prefix and len(words) > len(prefix):
            words = words[len(prefix) :]
            break
    for suffix in _TRAILING:
        if tuple(words[-len(suffix) :]) == suffix and len(words) > len(suffix):
            words = words[: -len(suffix)]
            break
    return "".join(words)


def _read(path: Path) -> _Country:
    country = _Country(names={}, provinces={}, postal={})
    cities: dict[str, Place] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            place = Place(
                name=row["name"],
                kind=row["kind"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                province=row.get("province") or "",
            )
            keys = {fold(name) for name in [row["name"], *(row["aliases"] or "").split("|")] if name}
            target = country.provinces if place.kind == "province" else cities
            for key in keys:
                target.setdefault(key, place)
            for prefix in (row["postal_prefixes"] or "").split():
                country.postal.setdefault(prefix, place)
    country.names = {**country.provinces, **cities}  # a city of a province's name is the city
    return country


@cache
def country_table(code: str) -> _Country | None:
    """The table of a country (ISO 3166-1 alpha-2, ``places/<CODE>.csv``), None without one."""
    if not re.fullmatch(r"[A-Z]{2}", code):
        return None
    path = PLACES_DIR / f"{code}.csv"
    return _read(path) if path.is_file() else None


def countries() -> list[str]:
    """The countries with a table."""
    return sorted(path.stem for path in PLACES_DIR.glob("*.csv"))


def _by_postal_code(table: _Country, postal_code: str) -> Place | None:
    digits = re.sub(r"\D", "", postal_code)
    for length in range(len(digits), 0, -1):
        place = table.postal.get(digits[:length])
        if place is not None:
            return place
    return None


def place_address(address: Mapping[str, Any] | None) -> PlacedAddress | None:
    """Place an address by its city, else its postal code, else its region (see the module's
    docstring); None when its country has no table or no field is found in it."""
    if not address:
        return None
    table = country_table(str(address.get("country") or "").strip().upper())
    if table is None:
        return None
    city = str(address.get("city") or "").strip()
    postal_code = str(address.get("postal_code") or "").strip()
    region = str(address.get("region") or "").strip()
    if city and (place := table.names.get(fold(city))) is not None:
        return PlacedAddress(place=place, matched_by="city", given=city)
    if postal_code and (place := _by_postal_code(table, postal_code)) is not None:
        return PlacedAddress(place=place, matched_by="postal code", given=postal_code)
    if region and (place := table.provinces.get(fold(region))) is not None:
        return PlacedAddress(place=place, matched_by="region", given=region)
    return None


def delivery_point(
    *, latitude: Any, longitude: Any, address: Mapping[str, Any] | None
) -> tuple[tuple[float, float] | None, str]:
    """Where a delivery is measured from, and how it was found: the address's own coordinates
    (no note), else the geocoder's point with its note ("placed by city 'Hanoi' (Hà Nội)"), else
    (None, "")."""
    if latitude is not None and longitude is not None:
        return (float(latitude), float(longitude)), ""
    placed = place_address(address)
    if placed is None:
        return None, ""
    return placed.point, placed.note
