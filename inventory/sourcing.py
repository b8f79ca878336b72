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
4. What cannot be sourced is reported as a shortage (the caller refuses with 409 or backorders).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

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


@dataclass(frozen=True)
class CandidateStock:
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


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    raise NotImplementedError  # implemented by the sourcing-engine work


def plan_sourcing(
    *,
    needs: Sequence[Need],
    stock: Sequence[CandidateStock],
    locations: Mapping[int, CandidateLocation],
    request: SourcingRequest,
) -> SourcingPlan:
    raise NotImplementedError  # implemented by the sourcing-engine work


def stores_that_can_supply(
    *,
    needs: Sequence[Need],
    stock: Sequence[CandidateStock],
    locations: Mapping[int, CandidateLocation],
    origin: tuple[float, float] | None,
    limit: int = 5,
) -> list[dict]:
    """Active pickup stores that hold every unit of ``needs``, nearest first:
    ``[{"location": code, "distance_km": float | None}]`` (for the pickup 409)."""
    raise NotImplementedError  # implemented by the sourcing-engine work


def load_candidates(
    *, product_ids: Collection[int], today: date | None = None
) -> tuple[list[CandidateStock], dict[int, CandidateLocation]]:
    """One query: the stock rows of these products with their locations and today's load."""
    raise NotImplementedError  # implemented by the sourcing-engine work
