"""The pure engine: ``plan_sourcing`` (eligibility, the choice of the fewest locations, the
allocation of each need) and ``stores_that_can_supply``. No database access: the rows come from
``candidates``; the exact search over several locations from ``search``; the words of the plan
from ``explain``."""

from __future__ import annotations

import operator
from collections.abc import Collection, Hashable, Mapping, Sequence
from functools import partial
from operator import attrgetter, itemgetter

from .explain import origin_sentence, plan_considered, plan_reason
from .geo import distance_from, rank_of, ranks_from, round_km
from .search import search_fewest
from .types import (
    EXCLUDED,
    INACTIVE,
    NO_CAPABILITY,
    NO_STOCK,
    OVER_CAPACITY,
    PICKUP,
    SHIP,
    Allocation,
    CandidateLocation,
    CandidateStock,
    Choice,
    Need,
    Site,
    SourcingPlan,
    SourcingRequest,
)

# --- Tuning -------------------------------------------------------------------------------------

# The exact search stops after this many nodes (a few tens of milliseconds at most, so the worst
# case inside the order's transaction stays bounded); the best set found then stands, with its
# proven gap in the plan's reason. Real orders are proven well within it.
SEARCH_STEP_BUDGET = 4_000

_BY_PK = itemgetter(0)  # CandidateStock.stock_level_id
_BY_RANK = attrgetter("rank")


# --- Helpers shared by plan_sourcing and stores_that_can_supply ---------------------------------


def _under_capacity(location: CandidateLocation) -> bool:
    return location.daily_capacity is None or location.load_today < location.daily_capacity


def _demand(needs: Sequence[Need]) -> dict[int, int]:
    """Units wanted per product (needs may share a product), in the order products first appear."""
    demand: dict[int, int] = {}
    for need in needs:
        if need.quantity > 0:
            demand[need.product_id] = demand.get(need.product_id, 0) + need.quantity
    return demand


def _held(
    stock: Sequence[CandidateStock], demand: Mapping[int, int], locations: Mapping[int, CandidateLocation]
) -> dict[int, list[int]]:
    """The units each location holds of each product wanted (in the order of ``demand``), for
    the locations holding at least one (rows with ``available >= 1``)."""
    position = {product_id: j for j, product_id in enumerate(demand)}
    width = len(position)
    held: dict[int, list[int]] = {}
    for _, product_id, _, location_id, available in stock:
        j = position.get(product_id)
        if j is None or available < 1:
            continue
        units = held.get(location_id)
        if units is None:
            if location_id not in locations:
                continue
            units = held[location_id] = [0] * width
        units[j] += available
    return held


def _rows_at(
    stock: Sequence[CandidateStock], demand: Mapping[int, int], location_ids: Collection[int]
) -> dict[int, dict[int, list[CandidateStock]]]:
    """The stock rows that can give a unit at these locations: location -> product -> rows in pk
    order (only for the chosen locations: building them for every candidate cost more than the
    choice at 1,000 candidates)."""
    rows: dict[int, dict[int, list[CandidateStock]]] = {}
    for row in sorted((r for r in stock if r.location_id in location_ids), key=_BY_PK):
        if row.available >= 1 and row.product_id in demand:
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


# --- Choosing the locations -----------------------------------------------------------------------


def _covers(supply: Sequence[int], targets: Sequence[int]) -> bool:
    return all(map(operator.ge, supply, targets))


def _choose(sites: Sequence[Site], targets: Sequence[int], *, whole: bool) -> Choice:
    """The fewest locations that together give ``targets`` (the most the network can give), then
    the shortest total distance, then the highest total priority, then the lowest ids. ``whole``:
    the targets are the demand, which no supply exceeds, so a site covers them when it equals them
    (one tuple comparison a site instead of a comparison per product)."""
    if not any(targets):
        return Choice(sites=[], strategy="none")
    if whole:
        full = tuple(targets)
        singles = [site for site in sites if site.supply == full]
    else:
        singles = [site for site in sites if _covers(site.supply, targets)]
    if singles:
        return Choice(sites=[singles[0]], strategy="single", singles=len(singles))
    outcome = search_fewest(sites, targets, SEARCH_STEP_BUDGET)
    if not outcome.exhausted:
        return Choice(sites=outcome.sites, strategy="exact")
    return Choice(
        sites=outcome.sites,
        strategy="greedy" if outcome.from_greedy else "bounded",
        count_gap=outcome.count_gap,
        metres_gap=outcome.metres_gap,
    )


# --- Allocating the needs to the chosen locations ----------------------------------------------


def _allocate(
    needs: Sequence[Need], chosen: Sequence[Site], rows: Mapping[int, dict[int, list[CandidateStock]]]
) -> tuple[list[Allocation], dict[Hashable, int]]:
    """Give each need to one chosen location when one can take it whole (largest needs first, into
    the tightest fit, so smaller needs still find room); split the others over the locations with
    the most left. What the chosen locations lack is a shortage (they hold all the network can give)."""
    order = {site.location.id: position for position, site in enumerate(chosen)}
    slots: dict[tuple[int, int], list[list]] = {}  # (location, product) -> [[row, units still free]]
    free: dict[tuple[int, int], int] = {}  # ... and their sum
    for site in chosen:
        location_id = site.location.id
        for product_id, same in rows[location_id].items():
            slots[(location_id, product_id)] = [[row, row.available] for row in same]
            free[(location_id, product_id)] = sum(row.available for row in same)
    taken: list[tuple[int, int, Allocation]] = []  # (need position, location position, allocation)

    def take(position: int, need: Need, location_id: int, quantity: int) -> None:
        """``quantity`` (at most what is free there) from the location's rows, in pk order."""
        free[(location_id, need.product_id)] -= quantity
        for slot in slots[(location_id, need.product_id)]:
            units = min(quantity, slot[1])
            if units <= 0:
                continue
            slot[1] -= units
            quantity -= units
            pk = slot[0].stock_level_id
            allocation = Allocation(need.key, need.product_id, need.sku, location_id, pk, units)
            taken.append((position, order[location_id], allocation))
            if quantity == 0:
                return

    wanted = [(position, need) for position, need in enumerate(needs) if need.quantity > 0]
    pending: list[tuple[int, Need]] = []
    for position, need in sorted(wanted, key=lambda item: (-item[1].quantity, item[0])):
        tightest: tuple[int, int] | None = None  # (units free, location): the first of the least
        for site in chosen:
            units = free.get((site.location.id, need.product_id), 0)
            if units >= need.quantity and (tightest is None or units < tightest[0]):
                tightest = (units, site.location.id)
        if tightest is not None:
            take(position, need, tightest[1], need.quantity)
        else:
            pending.append((position, need))
    shortages: dict[Hashable, int] = {}
    for position, need in sorted(pending, key=lambda item: item[0]):
        missing = need.quantity
        most = sorted(
            ((free.get((site.location.id, need.product_id), 0), site.location.id) for site in chosen),
            key=lambda item: (-item[0], order[item[1]]),
        )
        for units, location_id in most:
            units = min(missing, units)
            if units <= 0:
                break
            take(position, need, location_id, units)
            missing -= units
        if missing:
            shortages[need.key] = shortages.get(need.key, 0) + missing
    taken.sort(key=lambda item: (item[0], item[1], item[2].stock_level_id))
    return [allocation for _, _, allocation in taken], shortages


# --- The plan -----------------------------------------------------------------------------------


def _pool(request: SourcingRequest, locations: Mapping[int, CandidateLocation]) -> list[CandidateLocation]:
    """The locations a plan may look at: only the chosen store for pickup, all of them to ship."""
    if request.method == PICKUP:
        pickup_id = request.pickup_location_id
        return [locations[pickup_id]] if pickup_id is not None and pickup_id in locations else []
    return list(locations.values())


def _sites(
    pool: Sequence[CandidateLocation],
    *,
    request: SourcingRequest,
    held: Mapping[int, list[int]],
    demand: Mapping[int, int],
) -> tuple[list[Site], dict[int, str]]:
    """The eligible locations of ``pool`` in rank order, and why each of the others was ruled out.

    The test of ``_capability_exclusion`` is spelled out here for the eligible (it runs for every
    candidate; the function, for the others, says why not)."""
    pickup = request.method == PICKUP
    stores_ship = request.ship_from_stores
    excluded = request.excluded_location_ids
    exclusions: dict[int, str] = {}
    eligible: list[CandidateLocation] = []
    for location in pool:
        if (
            location.id in held
            and location.active
            and (
                location.pickup
                if pickup
                else (location.ship_from_store and stores_ship)
                if location.kind == "store"
                else location.ships
            )
            and location.id not in excluded
            and (location.daily_capacity is None or location.load_today < location.daily_capacity)
        ):
            eligible.append(location)
        else:
            exclusions[location.id] = _capability_exclusion(location, request) or NO_STOCK
    wanted = list(demand.values())
    sites = [
        Site(location, distance, rank, tuple(map(min, wanted, held[location.id])))
        for location, (distance, rank) in zip(eligible, ranks_from(request.origin, eligible), strict=True)
    ]
    sites.sort(key=_BY_RANK)
    return sites, exclusions


def plan_sourcing(
    *,
    needs: Sequence[Need],
    stock: Sequence[CandidateStock],
    locations: Mapping[int, CandidateLocation],
    request: SourcingRequest,
) -> SourcingPlan:
    """Which locations give the order's units (pure: no database access).

    Exact on the documented objective (fewest locations, then total distance, priority, ids) when
    the search ends within SEARCH_STEP_BUDGET nodes; past it the best set found stands and the
    plan's reason says so, with its proven gap."""
    if request.method not in (SHIP, PICKUP):
        raise ValueError(f"Unknown fulfilment method {request.method!r}; use {SHIP!r} or {PICKUP!r}.")
    demand = _demand(needs)
    products = list(demand)
    held = _held(stock, demand, locations)
    sites, exclusions = _sites(_pool(request, locations), request=request, held=held, demand=demand)
    given = [sum(column) for column in zip(*[site.supply for site in sites], strict=True)]
    targets = [min(demand[p], units) for p, units in zip(products, given or [0] * len(products), strict=True)]
    choice = _choose(sites, targets, whole=targets == list(demand.values()))
    rows = _rows_at(stock, demand, {site.location.id for site in choice.sites})
    allocations, shortages = _allocate(needs, choice.sites, rows)
    wanted = sum(demand.values())
    allocated = sum(a.quantity for a in allocations)
    used_ids = {a.location_id for a in allocations}
    choice.sites = [site for site in choice.sites if site.location.id in used_ids]
    return SourcingPlan(
        allocations=allocations,
        shortages=shortages,
        reason=plan_reason(
            request=request,
            choice=choice,
            locations=locations,
            exclusions=exclusions,
            eligible_count=len(sites),
            wanted=wanted,
            allocated=allocated,
        )
        + origin_sentence(request),
        explain=partial(  # when read: what it needs is the engine's own, or copied (ruled out)
            plan_considered,
            sites=sites,
            chosen=choice.sites,
            exclusions=exclusions,
            locations={location_id: locations[location_id] for location_id in exclusions},
            origin=request.origin,
            with_stock=held.keys(),
        ),
    )


def stores_that_can_supply(
    *,
    needs: Sequence[Need],
    stock: Sequence[CandidateStock],
    locations: Mapping[int, CandidateLocation],
    origin: tuple[float, float] | None,
    limit: int = 5,
    radius_km: float | None = None,
) -> list[dict]:
    """Active pickup stores that hold every unit of ``needs``, nearest first, within ``radius_km``
    of ``origin`` when both are given: ``[{"location": code, "distance_km": float | None}]`` (for
    the pickup 409: a store a day's drive away is no alternative).

    A store over today's capacity is left out too: it would refuse the order as well."""
    demand = _demand(needs)
    held = _held(stock, demand, locations)
    wanted = list(demand.values())
    nothing = [0] * len(wanted)
    found = []
    for location in locations.values():
        if not (location.kind == "store" and location.active and location.pickup):
            continue
        if not _under_capacity(location):
            continue
        if all(map(operator.ge, held.get(location.id, nothing), wanted)):
            distance = distance_from(location, origin)
            if radius_km is not None and distance is not None and distance > radius_km:
                continue
            found.append((rank_of(location, distance), location.code, distance))
    found.sort()
    return [{"location": code, "distance_km": round_km(distance)} for _, code, distance in found[:limit]]
