"""What a plan says about itself: the one-sentence ``reason`` and the ``considered`` locations that
the order timeline shows (text and display only; the choice is made in ``engine``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from operator import attrgetter

from .geo import distance_from, rank_of, round_km
from .types import (
    EXCLUSION_PHRASES,
    NO_STOCK,
    PICKUP,
    PICKUP_EXCLUSION_CLAUSES,
    CandidateLocation,
    Choice,
    Site,
    SourcingRequest,
)

_BY_RANK = attrgetter("rank")

# ``considered`` is stored on the order timeline: keep it short.
MAX_CONSIDERED = 20
MAX_CONSIDERED_INELIGIBLE = 5


def _codes(sites: Sequence[Site]) -> str:
    return ", ".join(site.location.code for site in sites)


def _km_phrase(distance_km: float) -> str:
    return f"{distance_km:.1f} km"


def _exclusion_summary(exclusions: Mapping[int, str]) -> str:
    counts: dict[str, int] = {}
    for reason in exclusions.values():
        counts[reason] = counts.get(reason, 0) + 1
    parts = [f"{counts[r]} {EXCLUSION_PHRASES[r]}" for r in EXCLUSION_PHRASES if r in counts]
    return f" ({'; '.join(parts)})" if parts else ""


def plan_reason(
    *,
    request: SourcingRequest,
    choice: Choice,
    locations: Mapping[int, CandidateLocation],
    exclusions: Mapping[int, str],
    eligible_count: int,
    wanted: int,
    allocated: int,
) -> str:
    """One human sentence: why these locations (or why none)."""
    if wanted == 0:
        return "Nothing to source: no need asks for a unit."
    if request.method == PICKUP:
        return _pickup_reason(
            store_id=request.pickup_location_id,
            locations=locations,
            exclusions=exclusions,
            wanted=wanted,
            allocated=allocated,
        )
    used = list(choice.sites)
    short = wanted - allocated
    if not used:
        return (
            f"No eligible location holds any of the {wanted} units; {len(exclusions)} locations "
            f"were ruled out{_exclusion_summary(exclusions)}."
        )
    if short:
        place = "1 location" if len(used) == 1 else f"{len(used)} locations"
        return (
            f"Only {allocated} of {wanted} units can be sourced, from {place} ({_codes(used)}); "
            f"{short} short across {eligible_count} eligible locations"
            f"{_gap_phrase(choice, measured=False)}."
        )
    if choice.strategy == "single":
        return _single_reason(used[0], singles=choice.singles)
    return _several_reason(used, choice=choice, eligible_count=eligible_count)


def origin_sentence(request: SourcingRequest) -> str:
    """What the reason adds when a ship order's address had no coordinates and the offline
    geocoder placed it (``SourcingRequest.origin_note``), e.g. "The address has no coordinates: placed
    by city 'Hanoi' (Hà Nội)." after the reason."""
    if not request.origin_note or request.method == PICKUP:
        return ""
    return f" The address has no coordinates: {request.origin_note}."


def _pickup_reason(
    *,
    store_id: int | None,
    locations: Mapping[int, CandidateLocation],
    exclusions: Mapping[int, str],
    wanted: int,
    allocated: int,
) -> str:
    """A pickup order: what the chosen store can give, or why it cannot."""
    short = wanted - allocated
    if store_id is None:
        return "A pickup order needs a pickup store, and none was given."
    store = locations.get(store_id)
    name = store.code if store is not None else f"location {store_id}"
    if store_id in exclusions or store is None:
        why = PICKUP_EXCLUSION_CLAUSES[exclusions.get(store_id, NO_STOCK)]
        return f"Pickup store {name} cannot supply the order: {why}; {short} units short."
    if short == 0:
        return f"Pickup at {name}: it holds every unit."
    return f"Pickup at {name}: it holds {allocated} of {wanted} units; {short} short."


def _single_reason(site: Site, *, singles: int) -> str:
    """One location holds every unit: how far, and whether it was the nearest of several."""
    if site.distance_km is None:
        tail = "no delivery coordinates, so priority then id decided" if singles > 1 else ""
        return f"1 location ({site.location.code}) holds every unit" + (f"; {tail}." if tail else ".")
    if singles > 1:
        return (
            f"1 location ({site.location.code}) holds every unit; nearest of {singles} "
            f"that could, {_km_phrase(site.distance_km)} away."
        )
    return f"1 location ({site.location.code}) holds every unit, {_km_phrase(site.distance_km)} away."


def _several_reason(used: Sequence[Site], *, choice: Choice, eligible_count: int) -> str:
    """Several locations cover the order: which, how they were found, and the total distance."""
    distances = [site.distance_km for site in used if site.distance_km is not None]
    how = {
        "exact": "the fewest that can",
        "bounded": f"found by a bounded search among {eligible_count} eligible locations",
    }.get(choice.strategy, f"chosen greedily among {eligible_count} eligible locations")
    total = f", {_km_phrase(sum(distances))} in total" if distances else ""
    return (
        f"No single location holds every unit; {len(used)} locations ({_codes(used)}), {how}, "
        f"cover the order{total}{_gap_phrase(choice, measured=bool(distances))}."
    )


def _gap_phrase(choice: Choice, *, measured: bool) -> str:
    """When the search stopped at its step limit: what it proved about the set it returns."""
    if choice.strategy not in ("bounded", "greedy"):
        return ""
    if choice.count_gap:
        more = "1 location" if choice.count_gap == 1 else f"{choice.count_gap} locations"
        return f" (search stopped at its step limit: at most {more} more than the fewest)"
    if choice.metres_gap is None or not measured:
        return " (search stopped at its step limit: the fewest locations)"
    if choice.metres_gap == 0:
        return " (search stopped at its step limit: the fewest locations and the shortest distance)"
    return (
        " (search stopped at its step limit: the fewest locations, at most "
        f"{_km_phrase(choice.metres_gap / 1000)} longer than the shortest)"
    )


def plan_considered(
    *,
    sites: Sequence[Site],
    chosen: Sequence[Site],
    exclusions: Mapping[int, str],
    locations: Mapping[int, CandidateLocation],
    origin: tuple[float, float] | None,
    with_stock: Collection[int],
) -> list[dict]:
    """Eligible locations first (nearest first, the chosen ones always included), then up to
    MAX_CONSIDERED_INELIGIBLE ruled-out ones (those holding stock first, nearest first)."""
    ruled_out = []
    for location_id, why in exclusions.items():
        location = locations.get(location_id)
        if location is None:
            continue
        distance = distance_from(location, origin)
        ruled_out.append(
            (location_id not in with_stock, rank_of(location, distance), location, distance, why)
        )
    ruled_out.sort(key=lambda item: (item[0], item[1]))
    room = MAX_CONSIDERED - min(len(ruled_out), MAX_CONSIDERED_INELIGIBLE)
    chosen_ids = {site.location.id for site in chosen}
    shown = sorted(chosen, key=_BY_RANK)[:room]  # chosen among ``sites``: not a scan of all of them
    for site in sites:
        if len(shown) >= room:
            break
        if site.location.id not in chosen_ids:
            shown.append(site)
    shown.sort(key=_BY_RANK)
    entries: list[dict] = [
        {
            "location": site.location.code,
            "distance_km": round_km(site.distance_km),
            "units": site.units,
            "priority": site.location.priority,
        }
        for site in shown
    ]
    for _, _, location, distance, why in ruled_out[: MAX_CONSIDERED - len(entries)]:
        entries.append(
            {"location": location.code, "distance_km": round_km(distance), "excluded_because": why}
        )
    return entries
