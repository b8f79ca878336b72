"""The sourcing engine: which locations supply an order's units.

``plan_sourcing`` is a pure function of candidate rows (no database access), so order capture
(``orders``) and routing (``fulfillment``) run the very same rules, and it is tested on its own.
``load_candidates`` is the one query that feeds it.

Modules: ``types`` (the records), ``engine`` (the pure plan, and the search's budget:
SEARCH_STEP_BUDGET), ``search`` (the exact choice of several locations, in stages), ``tree`` (its
depth-first search), ``bounds`` (the incidence bound), ``relax`` (the linear relaxation of the
distance stage) and ``sets`` (what it starts from: the reduction, the greedy cover, the costs),
``explain`` (the plan's reason and considered locations), ``geo`` (distance and rank),
``candidates`` (the query).

Rules (design.md, "Sourcing rules"):
1. Eligible: active; the capability the method needs (``ships`` for a warehouse, ``ship_from_store``
   for a store shipping, ``pickup`` for BOPIS); not excluded for this order (it rejected); under
   ``daily_capacity`` for today; ``available >= 1`` (available already net of safety stock).
2. Pickup orders are sourced only from the chosen store.
3. Ship orders: fewest locations first (one location for the whole order if any can), then shortest
   distance (haversine from the delivery address), then higher priority, then lower pk.
4. What cannot be sourced is reported as a shortage (the caller refuses with 409 or backorders);
   the rest still comes from the fewest locations.

How: one location is looked for first (a scan). Otherwise ``search`` proves the fewest locations
and then the best set of that many, exactly: candidates reduced by quantity-aware dominance, lower
bounds on the locations still needed (per product, disjoint products, units, products held),
iterative deepening on the count, then a branch and bound on one integer cost per location (metres,
priority, ids), cut down when it runs long by the bound of its linear relaxation. It is bounded by
SEARCH_STEP_BUDGET nodes; past it the best set found (at worst the greedy cover)
stands and the reason gives its proven gap. Within the chosen locations a need goes to one
location when one can take it whole, and is split only when none can.
"""

from __future__ import annotations

from . import types
from .candidates import (
    CandidateProduct,
    Candidates,
    candidates_from_rows,
    load_candidate_rows,
    load_candidates,
    load_candidates_for_skus,
)
from .engine import plan_sourcing, stores_that_can_supply
from .explain import MAX_CONSIDERED, MAX_CONSIDERED_INELIGIBLE
from .geo import EARTH_RADIUS_KM, haversine_km
from .types import *  # noqa: F403 (the records: types.__all__)

__all__ = [
    "EARTH_RADIUS_KM",
    "MAX_CONSIDERED",
    "MAX_CONSIDERED_INELIGIBLE",
    "CandidateProduct",
    "Candidates",
    "candidates_from_rows",
    "haversine_km",
    "load_candidate_rows",
    "load_candidates",
    "load_candidates_for_skus",
    "plan_sourcing",
    "stores_that_can_supply",
]
__all__ += types.__all__
