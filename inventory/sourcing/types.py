"""The sourcing engine's records: what it reads (candidate locations and stock, the needs, the
request), what it answers (allocations, the plan), the codes for why a location was ruled out, and
the per-order view of a location that its steps share (``Site``, ``Choice``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import NamedTuple

# What the package re-exports (inventory.sourcing); Site and Choice are the engine's own.
__all__ = [
    "EXCLUDED",
    "INACTIVE",
    "NO_CAPABILITY",
    "NO_STOCK",
    "OVER_CAPACITY",
    "PICKUP",
    "SHIP",
    "Allocation",
    "CandidateLocation",
    "CandidateStock",
    "Need",
    "SourcingPlan",
    "SourcingRequest",
]

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
    origin_note: str = ""  # how ``origin`` was found when the address had none (inventory.geocoding)
    nearby_radius_km: float | None = None  # a pickup's 409 lists other stores within it (None: any)
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


class SourcingPlan:
    """What the engine answers: the allocations, the shortages (need key -> units no eligible
    location can supply), ``reason`` (one human sentence: why these locations) and ``considered``
    (the eligible candidates and a few ruled out, for the timeline).

    ``considered`` may be given as ``explain``, a function that makes it, called when it is first
    read: placement stores it on the timeline, routing never reads it, and at 1,000 candidates it
    was a tenth of the engine's time for a plan that keeps its units where they are."""

    __slots__ = ("_considered", "_explain", "allocations", "reason", "shortages")

    def __init__(
        self,
        allocations: list[Allocation],
        shortages: dict[Hashable, int],
        reason: str,
        considered: list[dict] | None = None,
        *,
        explain: Callable[[], list[dict]] | None = None,
    ) -> None:
        self.allocations = allocations
        self.shortages = shortages
        self.reason = reason
        self._considered = considered
        self._explain = explain

    @property
    def considered(self) -> list[dict]:
        if self._considered is None:
            self._considered = self._explain() if self._explain is not None else []
            self._explain = None
        return self._considered

    @considered.setter
    def considered(self, value: list[dict]) -> None:
        self._considered, self._explain = value, None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourcingPlan):
            return NotImplemented
        mine = (self.allocations, self.shortages, self.reason, self.considered)
        return mine == (other.allocations, other.shortages, other.reason, other.considered)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was

    def __repr__(self) -> str:
        return (
            f"SourcingPlan(allocations={self.allocations!r}, shortages={self.shortages!r}, "
            f"reason={self.reason!r}, considered={self.considered!r})"
        )

    @property
    def fully_sourced(self) -> bool:
        return not self.shortages

    @property
    def location_ids(self) -> list[int]:
        return sorted({a.location_id for a in self.allocations})


# Why a location was ruled out (``SourcingPlan.considered``), and how the plan's reason says it
INACTIVE = "inactive"
NO_CAPABILITY = "no_capability"
EXCLUDED = "excluded"
OVER_CAPACITY = "over_capacity"
NO_STOCK = "no_stock"

EXCLUSION_PHRASES = {  # for "N locations were ruled out (2 inactive; 1 over today's capacity)"
    INACTIVE: "inactive",
    NO_CAPABILITY: "without the capability",
    EXCLUDED: "excluded for this order",
    OVER_CAPACITY: "over today's capacity",
    NO_STOCK: "without available stock",
}
PICKUP_EXCLUSION_CLAUSES = {  # for "Pickup store X cannot supply the order: it is inactive"
    INACTIVE: "it is inactive",
    NO_CAPABILITY: "it does not offer pickup",
    EXCLUDED: "it is excluded for this order",
    OVER_CAPACITY: "it is over today's capacity",
    NO_STOCK: "it has none of these units available",
}


@dataclass(slots=True)
class Site:
    """An eligible location seen through one order: what it can give of each product (capped at
    the order's demand) and how it ranks."""

    location: CandidateLocation
    distance_km: float | None
    rank: tuple[int, int, int]
    supply: tuple[int, ...]  # per product of the order, min(demand, available here)

    @property
    def units(self) -> int:
        return sum(self.supply)


@dataclass
class Choice:
    """The locations chosen for an order, and how they were found."""

    sites: list[Site]
    strategy: str  # "none" | "single" | "exact" | "bounded" (search budget spent) | "greedy" (ditto)
    singles: int = 0  # how many locations could have taken every unit alone
    count_gap: int = 0  # budget spent: at most this many locations more than the fewest
    metres_gap: int | None = 0  # ... and, the count proven, at most this many metres over the shortest
