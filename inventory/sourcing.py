"""The sourcing engine: which locations supply an order's units.

``plan_sourcing`` is a pure function of candidate rows (no database access), so order capture
(``orders``) and routing (``fulfillment``) run the very same rules, and it is tested on its own.
``load_candidates`` is the one query that feeds it.

Rules (design.md, "Sourcing rules"):
1. Eligible: active; the capability the method needs (``ships`` for a warehouse, ``ship_from_store``
   for a store shipping, ``pickup`` for BOPIS); not excluded for this order (it rejected); under
   ``daily_capacity`` for today; ``available >= 1`` (available already net of safety stock).
2. Pickup orders are sourced only from the chosen store.
3. Ship orders: fewest locations first (one location for the whole order if any can), then shortest
   distance (haversine from the delivery address), then higher priority, then lower pk.
4. What cannot be sourced is reported as a shortage (the caller refuses with 409 or backorders);
   the rest still comes from the fewest locations.

How: one location is looked for first (a scan). Otherwise a greedy cover (most missing units first)
gives an upper bound, and a branch-and-bound search proves the fewest locations and the shortest
total distance for sets of up to MAX_EXACT_LOCATIONS, within SEARCH_STEP_BUDGET steps (a few
milliseconds, even on 1,000 locations); when the budget is spent the best set found, or the greedy
one, stands and the reason says so. Within the chosen locations a need goes to one location when one
can take it whole, and is split only when none can.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from .models import Location, LocationDailyLoad, Product, StockLevel

SHIP = "ship"
PICKUP = "pickup"


@dataclass(frozen=True)
class CandidateLocation:
    id: int
    code: str
    kind: str  # "warehouse" | "store"
    latitude: float
    longitude: float
    priority: int = 0
    active: bool = True
    ships: bool = False
    pickup: bool = False
    ship_from_store: bool = False
    daily_capacity: int | None = None
    load_today: int = 0  # open fulfilment orders created today at this location


class CandidateStock(NamedTuple):
    """One stock row of a candidate location. A named tuple rather than a frozen dataclass: a call
    over 1,000 locations builds thousands of them, and a tuple is built several times faster
    (a frozen dataclass sets each field through ``object.__setattr__``)."""

    stock_level_id: int
    product_id: int
    sku: str
    location_id: int
    available: int  # on_hand - reserved - safety_stock (may be <= 0: then not a candidate)


@dataclass(frozen=True)
class Need:
    key: Hashable  # the caller's handle for the line (an index, an order line id ...)
    product_id: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class SourcingRequest:
    method: str  # SHIP | PICKUP
    origin: tuple[float, float] | None = None  # delivery coordinates (ship) or the store's (pickup)
    pickup_location_id: int | None = None
    ship_from_stores: bool = True  # the channel's policy: may stores ship its orders?
    excluded_location_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Allocation:
    key: Hashable
    product_id: int
    sku: str
    location_id: int
    stock_level_id: int
    quantity: int


@dataclass
class SourcingPlan:
    allocations: list[Allocation]
    shortages: dict[Hashable, int]  # need key -> units no eligible location can supply
    reason: str  # one human sentence: why these locations
    considered: list[dict] = field(default_factory=list)  # eligible candidates, for the timeline

    @property
    def fully_sourced(self) -> bool:
        return not self.shortages

    @property
    def location_ids(self) -> list[int]:
        return sorted({a.location_id for a in self.allocations})


# --- Tuning -------------------------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0088
# Exact search proves the fewest locations for sets of up to this many locations ...
MAX_EXACT_LOCATIONS = 4
# ... within this many search steps (shared by every set size); past it the greedy plan stands.
SEARCH_STEP_BUDGET = 10_000
# ``considered`` is stored on the order timeline: keep it short.
MAX_CONSIDERED = 20
MAX_CONSIDERED_INELIGIBLE = 5

INACTIVE = "inactive"
NO_CAPABILITY = "no_capability"
EXCLUDED = "excluded"
OVER_CAPACITY = "over_capacity"
NO_STOCK = "no_stock"

_EXCLUSION_PHRASES = {  # for "N locations were ruled out (2 inactive; 1 over today's capacity)"
    INACTIVE: "inactive",
    NO_CAPABILITY: "without the capability",
    EXCLUDED: "excluded for this order",
    OVER_CAPACITY: "over today's capacity",
    NO_STOCK: "without available stock",
}
_PICKUP_EXCLUSION_CLAUSES = {  # for "Pickup store X cannot supply the order: it is inactive"
    INACTIVE: "it is inactive",
    NO_CAPABILITY: "it does not offer pickup",
    EXCLUDED: "it is excluded for this order",
    OVER_CAPACITY: "it is over today's capacity",
    NO_STOCK: "it has none of these units available",
}


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (latitude, longitude) points in degrees."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# --- Helpers shared by plan_sourcing and stores_that_can_supply ---------------------------------


def _distance_km(location: CandidateLocation, origin: tuple[float, float] | None) -> float | None:
    if origin is None:
        return None
    return haversine_km(origin, (location.latitude, location.longitude))


def _rank(location: CandidateLocation, distance_km: float | None) -> tuple[int, int, int]:
    """Nearest first (whole metres, so equal places compare equal), then higher priority, then lower id."""
    metres = 0 if distance_km is None else round(distance_km * 1000)
    return (metres, -location.priority, location.id)


def _round_km(distance_km: float | None) -> float | None:
    return None if distance_km is None else round(distance_km, 1)


def _under_capacity(location: CandidateLocation) -> bool:
    return location.daily_capacity is None or location.load_today < location.daily_capacity


def _demand(needs: Sequence[Need]) -> dict[int, int]:
    """Units wanted per product (needs may share a product), in the order products first appear."""
    demand: dict[int, int] = {}
    for need in needs:
        if need.quantity > 0:
            demand[need.product_id] = demand.get(need.product_id, 0) + need.quantity
    return demand


def _rows_by_location(
    stock: Sequence[CandidateStock], demand: Mapping[int, int], locations: Mapping[int, CandidateLocation]
) -> dict[int, dict[int, list[CandidateStock]]]:
    """Stock rows that can give a unit: location id -> product id -> rows in pk order."""
    rows: dict[int, dict[int, list[CandidateStock]]] = {}
    for row in sorted(stock, key=lambda r: r.stock_level_id):
        if row.available >= 1 and row.product_id in demand and row.location_id in locations:
            rows.setdefault(row.location_id, {}).setdefault(row.product_id, []).append(row)
    return rows


def _capability_exclusion(location: CandidateLocation, request: SourcingRequest) -> str | None:
    if not location.active:
        return INACTIVE
    if request.method == PICKUP:
        capable = location.pickup
    elif location.kind == "store":
        capable = location.ship_from_store and request.ship_from_stores
    else:
        capable = location.ships
    if not capable:
        return NO_CAPABILITY
    if location.id in request.excluded_location_ids:
        return EXCLUDED
    if not _under_capacity(location):
        return OVER_CAPACITY
    return None


@dataclass
class _Site:
    """An eligible location seen through one order: what it can give of each product (capped at
    the order's demand) and how it ranks."""

    location: CandidateLocation
    distance_km: float | None
    rank: tuple[int, int, int]
    supply: tuple[int, ...]  # per product of the order, min(demand, available here)
    rows: dict[int, list[CandidateStock]]

    @property
    def units(self) -> int:
        return sum(self.supply)


@dataclass
class _Choice:
    sites: list[_Site]
    strategy: str  # "none" | "single" | "exact" | "bounded" (search budget spent) | "greedy"
    singles: int = 0  # how many locations could have taken every unit alone


# --- Choosing the locations -----------------------------------------------------------------------


def _covers(supply: Sequence[int], targets: Sequence[int]) -> bool:
    return all(s >= t for s, t in zip(supply, targets, strict=True))


def _greedy(sites: Sequence[_Site], targets: Sequence[int]) -> list[_Site]:
    """Repeatedly take the location that covers most of what is still missing (then the best rank)."""
    deficit = list(targets)
    chosen: list[_Site] = []
    left = list(sites)  # already in rank order, so the first of equal gains is the best ranked
    while any(deficit) and left:
        best_index, best_gain = -1, 0
        for index, site in enumerate(left):
            gain = sum(min(d, s) for d, s in zip(deficit, site.supply, strict=True) if d)
            if gain > best_gain:
                best_index, best_gain = index, gain
        if best_index < 0:
            break
        site = left.pop(best_index)
        chosen.append(site)
        deficit = [max(0, d - s) for d, s in zip(deficit, site.supply, strict=True)]
    return chosen


def _set_key(sites: Sequence[_Site]) -> tuple[int, int, tuple[int, ...]]:
    """Among sets of equal size: shortest total distance, then higher total priority, then lower ids."""
    return (
        sum(s.rank[0] for s in sites),
        sum(s.rank[1] for s in sites),
        tuple(sorted(s.location.id for s in sites)),
    )


class _Search:
    """Branch and bound over sets of exactly ``size`` locations that cover ``targets``.

    Locations with the same supply vector are interchangeable for covering, so only the best
    ``size`` of each are searched, and the n-th of them only together with the (n-1)-th (no set is
    visited twice). Sites are in rank order, which gives two bounds that end a loop early: the
    distance still to add is at least ``picks left x distance of this site``, and a deficit bigger
    than ``picks left x the most any later site holds`` cannot be closed."""

    def __init__(self, sites: Sequence[_Site], targets: Sequence[int], size: int, budget: int) -> None:
        per_vector: dict[tuple[int, ...], int] = {}
        pool: list[_Site] = []
        previous: list[int] = []  # index in pool of the next-better site with the same supply
        last_of_vector: dict[tuple[int, ...], int] = {}
        for site in sites:
            vector = tuple(min(s, t) for s, t in zip(site.supply, targets, strict=True))
            seen = per_vector.get(vector, 0)
            if seen >= size:
                continue
            per_vector[vector] = seen + 1
            previous.append(last_of_vector.get(vector, -1))
            last_of_vector[vector] = len(pool)
            pool.append(site)
        self.pool = pool
        self.previous = previous
        self.targets = list(targets)
        self.size = size
        self.budget = budget
        self.steps = 0
        self.exhausted = False
        width = len(targets)
        self.suffix_max: list[list[int]] = [[0] * width for _ in range(len(pool) + 1)]
        for index in range(len(pool) - 1, -1, -1):
            below, here = self.suffix_max[index + 1], pool[index].supply
            self.suffix_max[index] = [max(a, b) for a, b in zip(below, here, strict=True)]
        self.best: list[_Site] | None = None
        self.best_key: tuple[int, int, tuple[int, ...]] | None = None

    def offer(self, sites: list[_Site]) -> None:
        key = _set_key(sites)
        if self.best_key is None or key < self.best_key:
            self.best, self.best_key = sites, key

    def run(self) -> None:
        self._extend(0, self.size, self.targets, [], set(), 0)

    def _extend(
        self,
        start: int,
        picks_left: int,
        deficit: list[int],
        chosen: list[_Site],
        taken: set[int],
        metres: int,
    ) -> None:
        pool, suffix_max, previous = self.pool, self.suffix_max, self.previous
        missing = [(j, d) for j, d in enumerate(deficit) if d]
        for index in range(start, len(pool)):
            if self.steps >= self.budget:
                self.exhausted = True
                return
            self.steps += 1
            site = pool[index]
            if self.best_key is not None and metres + picks_left * site.rank[0] > self.best_key[0]:
                return  # every later site is at least as far
            bound = suffix_max[index]
            if any(d > picks_left * bound[j] for j, d in missing):
                return  # later sites hold less still
            if previous[index] >= 0 and previous[index] not in taken:
                continue  # an equal but better-ranked site must come first
            supply = site.supply
            if picks_left == 1:
                if all(supply[j] >= d for j, d in missing):
                    self.offer([*chosen, site])
                continue
            if not any(supply[j] for j, _ in missing):
                continue  # adds nothing that is missing: a smaller set would do
            if all(supply[j] >= d for j, d in missing):
                continue  # covers the rest alone: a smaller set was searched already
            rest = [max(0, d - s) for d, s in zip(deficit, supply, strict=True)]
            taken.add(index)
            self._extend(index + 1, picks_left - 1, rest, [*chosen, site], taken, metres + site.rank[0])
            taken.discard(index)
            if self.exhausted:
                return


def _choose(sites: Sequence[_Site], targets: Sequence[int]) -> _Choice:
    """The fewest locations that together give ``targets`` (the most the network can give), then
    the shortest total distance, then the highest total priority, then the lowest ids."""
    if not any(targets):
        return _Choice(sites=[], strategy="none")
    singles = [site for site in sites if _covers(site.supply, targets)]
    if singles:
        return _Choice(sites=[singles[0]], strategy="single", singles=len(singles))
    greedy = _greedy(sites, targets)
    budget = SEARCH_STEP_BUDGET
    for size in range(2, min(len(greedy), MAX_EXACT_LOCATIONS) + 1):
        search = _Search(sites, targets, size, budget)
        if size == len(greedy):
            search.offer(greedy)  # the bound to beat
        search.run()
        budget -= search.steps
        if search.best is not None:
            strategy = "bounded" if search.exhausted else "exact"
            return _Choice(sites=sorted(search.best, key=lambda s: s.rank), strategy=strategy)
        if search.exhausted:
            break
    return _Choice(sites=greedy, strategy="greedy")


# --- Allocating the needs to the chosen locations ----------------------------------------------


def _allocate(needs: Sequence[Need], chosen: Sequence[_Site]) -> tuple[list[Allocation], dict[Hashable, int]]:
    """Give each need to one chosen location when one can take it whole (largest needs first, into
    the tightest fit, so smaller needs still find room); split the others over the locations with
    the most left. What the chosen locations lack is a shortage (they hold all the network can give)."""
    left: dict[tuple[int, int], int] = {}  # (location, stock row) -> units still free
    for site in chosen:
        for rows in site.rows.values():
            for row in rows:
                left[(site.location.id, row.stock_level_id)] = row.available
    order = {site.location.id: position for position, site in enumerate(chosen)}

    def free(site: _Site, product_id: int) -> int:
        return sum(left[(site.location.id, r.stock_level_id)] for r in site.rows.get(product_id, ()))

    taken: list[tuple[int, int, Allocation]] = []  # (need position, location position, allocation)

    def take(position: int, need: Need, site: _Site, quantity: int) -> None:
        for row in site.rows.get(need.product_id, ()):
            slot = (site.location.id, row.stock_level_id)
            units = min(quantity, left[slot])
            if units <= 0:
                continue
            left[slot] -= units
            quantity -= units
            allocation = Allocation(
                key=need.key,
                product_id=need.product_id,
                sku=need.sku,
                location_id=site.location.id,
                stock_level_id=row.stock_level_id,
                quantity=units,
            )
            taken.append((position, order[site.location.id], allocation))
            if quantity == 0:
                return

    wanted = [(position, need) for position, need in enumerate(needs) if need.quantity > 0]
    pending: list[tuple[int, Need]] = []
    for position, need in sorted(wanted, key=lambda item: (-item[1].quantity, item[0])):
        fits = [site for site in chosen if free(site, need.product_id) >= need.quantity]
        if fits:
            site = min(fits, key=lambda s: (free(s, need.product_id), order[s.location.id]))
            take(position, need, site, need.quantity)
        else:
            pending.append((position, need))
    shortages: dict[Hashable, int] = {}
    for position, need in sorted(pending, key=lambda item: item[0]):
        missing = need.quantity
        for site in sorted(chosen, key=lambda s: (-free(s, need.product_id), order[s.location.id])):
            units = min(missing, free(site, need.product_id))
            if units <= 0:
                break
            take(position, need, site, units)
            missing -= units
        if missing:
            shortages[need.key] = shortages.get(need.key, 0) + missing
    taken.sort(key=lambda item: (item[0], item[1], item[2].stock_level_id))
    return [allocation for _, _, allocation in taken], shortages


# --- The plan -----------------------------------------------------------------------------------


def _codes(sites: Sequence[_Site]) -> str:
    return ", ".join(site.location.code for site in sites)


def _km_phrase(distance_km: float) -> str:
    return f"{distance_km:.1f} km"


def _exclusion_summary(exclusions: Mapping[int, str]) -> str:
    counts: dict[str, int] = {}
    for reason in exclusions.values():
        counts[reason] = counts.get(reason, 0) + 1
    parts = [f"{counts[r]} {_EXCLUSION_PHRASES[r]}" for r in _EXCLUSION_PHRASES if r in counts]
    return f" ({'; '.join(parts)})" if parts else ""


def _reason(
    *,
    request: SourcingRequest,
    choice: _Choice,
    locations: Mapping[int, CandidateLocation],
    exclusions: Mapping[int, str],
    eligible_count: int,
    wanted: int,
    allocated: int,
) -> str:
    used = list(choice.sites)
    short = wanted - allocated
    if wanted == 0:
        return "Nothing to source: no need asks for a unit."
    if request.method == PICKUP:
        store_id = request.pickup_location_id
        if store_id is None:
            return "A pickup order needs a pickup store, and none was given."
        store = locations.get(store_id)
        name = store.code if store is not None else f"location {store_id}"
        if store_id in exclusions or store is None:
            why = _PICKUP_EXCLUSION_CLAUSES[exclusions.get(store_id, NO_STOCK)]
            return f"Pickup store {name} cannot supply the order: {why}; {short} units short."
        if short == 0:
            return f"Pickup at {name}: it holds every unit."
        return f"Pickup at {name}: it holds {allocated} of {wanted} units; {short} short."
    if not used:
        return (
            f"No eligible location holds any of the {wanted} units; {len(exclusions)} locations "
            f"were ruled out{_exclusion_summary(exclusions)}."
        )
    distances = [site.distance_km for site in used if site.distance_km is not None]
    if short:
        place = "1 location" if len(used) == 1 else f"{len(used)} locations"
        return (
            f"Only {allocated} of {wanted} units can be sourced, from {place} ({_codes(used)}); "
            f"{short} short across {eligible_count} eligible locations."
        )
    if choice.strategy == "single":
        site = used[0]
        if site.distance_km is None:
            tail = "no delivery coordinates, so priority then id decided" if choice.singles > 1 else ""
            return f"1 location ({site.location.code}) holds every unit" + (f"; {tail}." if tail else ".")
        if choice.singles > 1:
            return (
                f"1 location ({site.location.code}) holds every unit; nearest of {choice.singles} "
                f"that could, {_km_phrase(site.distance_km)} away."
            )
        return f"1 location ({site.location.code}) holds every unit, {_km_phrase(site.distance_km)} away."
    how = {
        "exact": "the fewest that can",
        "bounded": f"found by a bounded search among {eligible_count} eligible locations",
    }.get(choice.strategy, f"chosen greedily among {eligible_count} eligible locations")
    total = f", {_km_phrase(sum(distances))} in total" if distances else ""
    return (
        f"No single location holds every unit; {len(used)} locations ({_codes(used)}), {how}, "
        f"cover the order{total}."
    )


def _considered(
    *,
    sites: Sequence[_Site],
    chosen: Sequence[_Site],
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
        distance = _distance_km(location, origin)
        ruled_out.append((location_id not in with_stock, _rank(location, distance), location, distance, why))
    ruled_out.sort(key=lambda item: (item[0], item[1]))
    room = MAX_CONSIDERED - min(len(ruled_out), MAX_CONSIDERED_INELIGIBLE)
    chosen_ids = {site.location.id for site in chosen}
    shown = [site for site in sites if site.location.id in chosen_ids][:room]
    for site in sites:
        if len(shown) >= room:
            break
        if site.location.id not in chosen_ids:
            shown.append(site)
    shown.sort(key=lambda s: s.rank)
    entries: list[dict] = [
        {
            "location": site.location.code,
            "distance_km": _round_km(site.distance_km),
            "units": site.units,
            "priority": site.location.priority,
        }
        for site in shown
    ]
    for _, _, location, distance, why in ruled_out[: MAX_CONSIDERED - len(entries)]:
        entries.append(
            {"location": location.code, "distance_km": _round_km(distance), "excluded_because": why}
        )
    return entries


def plan_sourcing(
    *,
    needs: Sequence[Need],
    stock: Sequence[CandidateStock],
    locations: Mapping[int, CandidateLocation],
    request: SourcingRequest,
) -> SourcingPlan:
    """Which locations give the order's units (pure: no database access).

    Exact for the fewest locations up to MAX_EXACT_LOCATIONS locations within SEARCH_STEP_BUDGET
    search steps (a few milliseconds); beyond that the greedy plan (most missing units first) stands.
    """
    if request.method not in (SHIP, PICKUP):
        raise ValueError(f"Unknown fulfilment method {request.method!r}; use {SHIP!r} or {PICKUP!r}.")
    demand = _demand(needs)
    products = list(demand)
    rows = _rows_by_location(stock, demand, locations)
    if request.method == PICKUP:
        pickup_id = request.pickup_location_id
        pool = [locations[pickup_id]] if pickup_id is not None and pickup_id in locations else []
    else:
        pool = list(locations.values())

    exclusions: dict[int, str] = {}
    sites: list[_Site] = []
    for location in pool:
        why = _capability_exclusion(location, request)
        here = rows.get(location.id, {})
        supply = tuple(min(demand[p], sum(r.available for r in here.get(p, ()))) for p in products)
        if why is None and not any(supply):
            why = NO_STOCK
        if why is not None:
            exclusions[location.id] = why
            continue
        distance = _distance_km(location, request.origin)
        sites.append(
            _Site(
                location=location,
                distance_km=distance,
                rank=_rank(location, distance),
                supply=supply,
                rows=here,
            )
        )
    sites.sort(key=lambda s: s.rank)

    targets = [min(demand[p], sum(site.supply[i] for site in sites)) for i, p in enumerate(products)]
    choice = _choose(sites, targets)
    allocations, shortages = _allocate(needs, choice.sites)
    wanted = sum(demand.values())
    allocated = sum(a.quantity for a in allocations)
    used_ids = {a.location_id for a in allocations}
    choice.sites = [site for site in choice.sites if site.location.id in used_ids]
    return SourcingPlan(
        allocations=allocations,
        shortages=shortages,
        reason=_reason(
            request=request,
            choice=choice,
            locations=locations,
            exclusions=exclusions,
            eligible_count=len(sites),
            wanted=wanted,
            allocated=allocated,
        ),
        considered=_considered(
            sites=sites,
            chosen=choice.sites,
            exclusions=exclusions,
            locations=locations,
            origin=request.origin,
            with_stock=rows.keys(),
        ),
    )


def stores_that_can_supply(
    *,
    needs: Sequence[Need],
    stock: Sequence[CandidateStock],
    locations: Mapping[int, CandidateLocation],
    origin: tuple[float, float] | None,
    limit: int = 5,
) -> list[dict]:
    """Active pickup stores that hold every unit of ``needs``, nearest first:
    ``[{"location": code, "distance_km": float | None}]`` (for the pickup 409).

    A store over today's capacity is left out too: it would refuse the order as well."""
    demand = _demand(needs)
    rows = _rows_by_location(stock, demand, locations)
    found = []
    for location in locations.values():
        if not (location.kind == "store" and location.active and location.pickup):
            continue
        if not _under_capacity(location):
            continue
        here = rows.get(location.id, {})
        if all(sum(r.available for r in here.get(p, ())) >= q for p, q in demand.items()):
            distance = _distance_km(location, origin)
            found.append((_rank(location, distance), location.code, distance))
    found.sort()
    return [{"location": code, "distance_km": _round_km(distance)} for _, code, distance in found[:limit]]


# --- The one query that feeds the engine ----------------------------------------------------------


@dataclass(frozen=True)
class CandidateProduct:
    id: int
    sku: str
    name: str
    active: bool


@dataclass
class Candidates:
    """What ``load_candidates_for_skus`` read in its one round trip."""

    stock: list[CandidateStock]
    locations: dict[int, CandidateLocation]
    products: dict[str, CandidateProduct]  # by SKU; a SKU missing here is unknown
    next_value: int | None = None  # the sequence value drawn in the same statement, if asked


_COLUMNS = (
    "s.id, s.product_id, p.sku, s.location_id, s.on_hand, s.reserved, s.safety_stock, "
    "l.code, l.kind, l.latitude, l.longitude, l.priority, l.active, l.ships, l.pickup, "
    "l.ship_from_store, l.daily_capacity, COALESCE(d.open_fulfillment_orders, 0)"
)


def _tables() -> dict[str, str]:
    return {
        "product": Product._meta.db_table,
        "stock": StockLevel._meta.db_table,
        "location": Location._meta.db_table,
        "load": LocationDailyLoad._meta.db_table,
    }


def _day_param(day: date) -> object:
    return day if connection.vendor == "postgresql" else day.isoformat()


def _collect(rows, stock: list[CandidateStock], locations: dict[int, CandidateLocation]) -> None:  # type: ignore[no-untyped-def]
    """Turn (stock row, location, today's load) tuples into the engine's rows; rows with a NULL
    stock id (a product stocked nowhere) are skipped. Only ``available >= 1`` is stock."""
    for (
        pk,
        product_id,
        sku,
        location_id,
        on_hand,
        reserved,
        safety_stock,
        code,
        kind,
        latitude,
        longitude,
        priority,
        active,
        ships,
        pickup,
        ship_from_store,
        daily_capacity,
        load_today,
    ) in rows:
        if pk is None:
            continue
        if location_id not in locations:
            locations[location_id] = CandidateLocation(
                id=location_id,
                code=code,
                kind=kind,
                latitude=float(latitude),
                longitude=float(longitude),
                priority=priority,
                active=bool(active),
                ships=bool(ships),
                pickup=bool(pickup),
                ship_from_store=bool(ship_from_store),
                daily_capacity=daily_capacity,
                load_today=load_today,
            )
        available = on_hand - reserved - safety_stock
        if available >= 1:
            stock.append(
                CandidateStock(
                    stock_level_id=pk,
                    product_id=product_id,
                    sku=sku,
                    location_id=location_id,
                    available=available,
                )
            )


def load_candidate_rows(*, product_ids: Collection[int], today: date | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``load_candidates``, not yet turned into the engine's (``candidates_from_rows``):
    for a caller that plans several orders from one read (a batch of routings)."""
    ids = sorted(set(product_ids))
    if not ids:
        return []
    day = today or timezone.localdate()
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"SELECT {_COLUMNS} FROM {{stock}} s "  # noqa: S608
        "JOIN {product} p ON p.id = s.product_id "
        "JOIN {location} l ON l.id = s.location_id "
        "LEFT JOIN {load} d ON d.location_id = s.location_id AND d.day = %s "
        f"WHERE s.product_id IN ({marks}) ORDER BY s.id"
    ).format(**_tables())
    with connection.cursor() as cursor:
        cursor.execute(sql, [_day_param(day), *ids])
        return cursor.fetchall()


def candidates_from_rows(
    rows: Sequence[tuple[Any, ...]], *, product_ids: Collection[int] | None = None
) -> tuple[list[CandidateStock], dict[int, CandidateLocation]]:
    """The engine's stock rows and locations from ``load_candidate_rows``, for ``product_ids``
    only when given: exactly what ``load_candidates`` of those products returns."""
    if product_ids is not None:
        rows = [row for row in rows if row[1] in product_ids]
    stock: list[CandidateStock] = []
    locations: dict[int, CandidateLocation] = {}
    _collect(rows, stock, locations)
    return stock, locations


def load_candidates(
    *, product_ids: Collection[int], today: date | None = None
) -> tuple[list[CandidateStock], dict[int, CandidateLocation]]:
    """One query: the stock rows of these products with their locations and today's load.

    Every location holding a row of these products is returned (so the plan can say why one was
    ruled out); only rows with ``available >= 1`` are stock (available = on hand - reserved - safety
    stock: safety stock is never sold). Plain SQL on purpose: it runs on every placement and every
    routing, and building the equivalent queryset cost as much as running it (docs/performance.md);
    today's load is one LEFT JOIN on the unique (location, day), not a subquery per row."""
    return candidates_from_rows(load_candidate_rows(product_ids=product_ids, today=today))


def load_candidates_for_skus(
    *, skus: Collection[str], today: date | None = None, next_id_of: str | None = None
) -> Candidates:
    """``load_candidates`` by SKU, with the products themselves (id, name, active; a SKU stocked
    nowhere is still returned, an unknown one is not), in one round trip. With ``next_id_of`` (a
    table name) the statement also draws the next value of that table's id sequence, once, on
    PostgreSQL: a caller that needs an id before its INSERT (an order's number) saves a statement."""
    wanted = sorted(set(skus))
    if not wanted:
        return Candidates(stock=[], locations={}, products={})
    day = today or timezone.localdate()
    marks = ", ".join(["%s"] * len(wanted))
    draw = next_id_of is not None and connection.vendor == "postgresql"
    head = "WITH seq AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence(%s, 'id')) AS value) "
    sql = (
        f"{head if draw else ''}SELECT p.id, p.sku, p.name, p.active, "  # noqa: S608
        f"{'seq.value' if draw else 'NULL'}, {_COLUMNS} "
        "FROM {product} p "
        f"{'CROSS JOIN seq ' if draw else ''}"
        "LEFT JOIN {stock} s ON s.product_id = p.id "
        "LEFT JOIN {location} l ON l.id = s.location_id "
        "LEFT JOIN {load} d ON d.location_id = s.location_id AND d.day = %s "
        f"WHERE p.sku IN ({marks}) ORDER BY s.id"
    ).format(**_tables())
    params: list[object] = [next_id_of] if draw else []
    params += [_day_param(day), *wanted]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    products: dict[str, CandidateProduct] = {}
    next_value: int | None = None
    for product_id, sku, name, active, value, *_rest in rows:
        if sku not in products:
            products[sku] = CandidateProduct(id=product_id, sku=sku, name=name, active=bool(active))
        next_value = value if value is not None else next_value
    stock: list[CandidateStock] = []
    locations: dict[int, CandidateLocation] = {}
    _collect((row[5:] for row in rows), stock, locations)
    return Candidates(stock=stock, locations=locations, products=products, next_value=next_value)
