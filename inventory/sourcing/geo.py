"""Distances and the rank of a location for an order: nearest first, then priority, then id."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .types import CandidateLocation

EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (latitude, longitude) points in degrees."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_from(location: CandidateLocation, origin: tuple[float, float] | None) -> float | None:
    """Km from ``origin`` to the location (None without an origin: nothing to measure)."""
    if origin is None:
        return None
    return haversine_km(origin, (location.latitude, location.longitude))


def ranks_from(
    origin: tuple[float, float] | None, locations: Sequence[CandidateLocation]
) -> list[tuple[float | None, tuple[int, int, int]]]:
    """(``distance_from``, ``rank_of``) of many locations, in one loop with the origin's terms
    worked out once (the same arithmetic as ``haversine_km``, so the same floats): the engine
    measures every candidate of an order, a thousand at a large network."""
    if origin is None:
        return [(None, (0, -location.priority, location.id)) for location in locations]
    lat1, lon1 = math.radians(origin[0]), math.radians(origin[1])
    cos1 = math.cos(lat1)
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    out: list[tuple[float | None, tuple[int, int, int]]] = []
    for location in locations:
        lat2, lon2 = radians(location.latitude), radians(location.longitude)
        h = sin((lat2 - lat1) / 2) ** 2 + cos1 * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
        distance = 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))
        out.append((distance, (round(distance * 1000), -location.priority, location.id)))
    return out


def rank_of(location: CandidateLocation, distance_km: float | None) -> tuple[int, int, int]:
    """Nearest first (whole metres, so equal places compare equal), then higher priority, then lower
    id (``ranks_from`` says the same for many locations)."""
    metres = 0 if distance_km is None else round(distance_km * 1000)
    return (metres, -location.priority, location.id)


def round_km(distance_km: float | None) -> float | None:
    """To 0.1 km, as the timeline shows it."""
    return None if distance_km is None else round(distance_km, 1)
