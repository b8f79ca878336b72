"""The sourcing engine against an independent optimum on seeded random orders.

The documented objective is lexicographic: fewest locations, then shortest total distance (whole
metres from the delivery point, summed over the chosen locations), then higher total priority,
then lower ids. The reference solves it with an integer program (pulp + CBC, one stage per
criterion: the count, then the metres with the count fixed, then the priority with both fixed),
and on small networks by brute force over every set, which also cross-checks the integer program.

The instances (``bench.sourcing.random_instance``): 1-8 lines of 1-5 units, 5 / 20 / 100 / 1,000
candidate locations in a few clusters (some sharing a building), scarce, plentiful or fragmented
stock. CI runs ``OMS_SOURCING_INSTANCES`` of them (default 240); set it to 600 for the full run.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.sourcing import INSTANCE_REGIMES, INSTANCE_SIZES, random_instance, random_instances
from inventory import sourcing
from inventory.sourcing import SHIP, CandidateLocation, CandidateStock, Need, SourcingRequest, plan_sourcing

pulp = pytest.importorskip("pulp")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulp 3.x announces 4.0

INSTANCES = int(os.environ.get("OMS_SOURCING_INSTANCES", "240"))
BRUTE_FORCE_LOCATIONS = 10  # networks up to this many useful locations are also brute-forced
RADIUS_KM = 6371.0088


def metres(origin: tuple[float, float], location: CandidateLocation) -> int:
    """Haversine, restated here (not the engine's), in whole metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*origin, location.latitude, location.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * RADIUS_KM * math.asin(min(1.0, math.sqrt(h))) * 1000)


@dataclass
class Problem:
    """An order restated for the reference: per location what it can give of each product."""

    ids: list[int]
    gives: dict[int, dict[int, int]]  # location -> product -> units, capped at the demand
    targets: dict[int, int]  # product -> units the network can give (at most the demand)
    metres: dict[int, int]
    priority: dict[int, int]

    @classmethod
    def of(cls, needs, stock, locations, origin) -> Problem:
        demand: dict[int, int] = {}
        for need in needs:
            demand[need.product_id] = demand.get(need.product_id, 0) + need.quantity
        held: dict[int, dict[int, int]] = {}
        for row in stock:
            if row.available >= 1 and row.product_id in demand:
                here = held.setdefault(row.location_id, {})
                here[row.product_id] = here.get(row.product_id, 0) + row.available
        gives = {
            loc: {p: min(units, demand[p]) for p, units in products.items()} for loc, products in held.items()
        }
        targets = {p: min(q, sum(g.get(p, 0) for g in gives.values())) for p, q in demand.items()}
        ids = sorted(gives)
        return cls(
            ids=ids,
            gives=gives,
            targets=targets,
            metres={i: metres(origin, locations[i]) for i in ids},
            priority={i: locations[i].priority for i in ids},
        )

    def covers(self, chosen) -> bool:
        return all(sum(self.gives[i].get(p, 0) for i in chosen) >= t for p, t in self.targets.items())

    def key(self, chosen) -> tuple[int, int, int, tuple[int, ...]]:
        """The documented objective, smaller is better."""
        return (
            len(chosen),
            sum(self.metres[i] for i in chosen),
            -sum(self.priority[i] for i in chosen),
            tuple(sorted(chosen)),
        )


def brute_force(problem: Problem) -> tuple[int, ...]:
    """The best set, by trying every set of each size, smallest first."""
    if not any(problem.targets.values()):
        return ()
    for size in range(1, len(problem.ids) + 1):
        covers = [c for c in itertools.combinations(problem.ids, size) if problem.covers(c)]
        if covers:
            return min(covers, key=problem.key)
    raise AssertionError("the targets are what the network can give: some set covers them")


def milp(problem: Problem) -> tuple[int, int, int]:
    """(locations, metres, priority) of the optimum: min count; then min metres with the count
    fixed; then max priority with both fixed (CBC, exact on integers)."""
    if not any(problem.targets.values()):
        return (0, 0, 0)
    x = {i: pulp.LpVariable(f"x{i}", cat="Binary") for i in problem.ids}

    def solve(objective, sense, extra) -> float:
        model = pulp.LpProblem("sourcing", sense)
        model += objective
        for p, t in problem.targets.items():
            if t:
                model += pulp.lpSum(problem.gives[i].get(p, 0) * x[i] for i in problem.ids) >= t
        for constraint in extra:
            model += constraint
        status = model.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.LpStatus[status] == "Optimal"
        return pulp.value(model.objective)

    count = round(solve(pulp.lpSum(x.values()), pulp.LpMinimize, []))
    fixed = [pulp.lpSum(x.values()) == count]
    distance = pulp.lpSum(problem.metres[i] * x[i] for i in problem.ids)
    shortest = round(solve(distance, pulp.LpMinimize, fixed))
    if len(set(problem.priority.values())) <= 1:
        return (count, shortest, count * next(iter(problem.priority.values())))
    priority = pulp.lpSum(problem.priority[i] * x[i] for i in problem.ids)
    most = round(solve(priority, pulp.LpMaximize, [*fixed, distance <= shortest]))
    return (count, shortest, most)


def check(needs, stock, locations, request):
    """The plan is sound: returns it, the problem and the plan's objective."""
    plan = plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
    problem = Problem.of(needs, stock, locations, request.origin)
    chosen = plan.location_ids
    assert problem.covers(chosen), plan.reason
    assert sum(plan.shortages.values()) == sum(n.quantity for n in needs) - sum(problem.targets.values())
    return plan, problem, problem.key(chosen)


# --- the issue's two counterexamples ---------------------------------------------------------------


def _compact(data: dict):
    locations = {
        loc["id"]: CandidateLocation(
            id=loc["id"],
            code=f"L{loc['id']}",
            kind="warehouse",
            latitude=loc["lat"],
            longitude=loc["lon"],
            priority=loc["priority"],
            ships=True,
        )
        for loc in data["locations"]
    }
    stock = [
        CandidateStock(
            stock_level_id=pk,
            product_id=row["product_id"],
            sku=f"P{row['product_id']}",
            location_id=row["location_id"],
            available=row["available"],
        )
        for pk, row in enumerate(data["stock"], 1)
    ]
    needs = [
        Need(key=k, product_id=n["product_id"], sku=f"P{n['product_id']}", quantity=n["quantity"])
        for k, n in enumerate(data["needs"])
    ]
    return needs, stock, locations, SourcingRequest(method=SHIP, origin=tuple(data["origin"]))


# The issue's compact form: needs by product, the delivery point, the locations, the stock.
CX_LOCATIONS = json.loads(
    '{"needs": [{"product_id": 3, "quantity": 2}, {"product_id": 1, "quantity": 2}, {"product_id": 2, '
    '"quantity": 3}, {"product_id": 4, "quantity": 1}], "origin": [42.44513, 7.333618], '
    '"locations": [{"id": 5, "lat": 46.7, "lon": 1.1, "priority": 0}, {"id": 2, "lat": 44.9, '
    '"lon": 10.6, "priority": 0}, {"id": 3, "lat": 53.0, "lon": 22.5, "priority": 0}, {"id": 6, '
    '"lat": 51.5, "lon": 18.2, "priority": 0}, {"id": 4, "lat": 41.9, "lon": 7.6, "priority": 0}, '
    '{"id": 1, "lat": 53.1, "lon": 22.5, "priority": 0}], "stock": [{"location_id": 5, "product_id": 1, '
    '"available": 1}, {"location_id": 5, "product_id": 3, "available": 1}, {"location_id": 2, '
    '"product_id": 2, "available": 1}, {"location_id": 3, "product_id": 3, "available": 2}, '
    '{"location_id": 3, "product_id": 4, "available": 1}, {"location_id": 6, "product_id": 1, '
    '"available": 1}, {"location_id": 6, "product_id": 3, "available": 1}, {"location_id": 4, '
    '"product_id": 2, "available": 1}, {"location_id": 4, "product_id": 4, "available": 1}, '
    '{"location_id": 1, "product_id": 2, "available": 1}]}'
)
CX_DISTANCE = json.loads(
    '{"needs": [{"product_id": 2, "quantity": 2}, {"product_id": 1, "quantity": 1}, {"product_id": 3, '
    '"quantity": 4}, {"product_id": 4, "quantity": 1}], "origin": [48.243944, -0.106228], '
    '"locations": [{"id": 5, "lat": 41.5, "lon": 17.3, "priority": 0}, {"id": 3, "lat": 48.4, '
    '"lon": -0.4, "priority": 0}, {"id": 6, "lat": 41.5, "lon": 17.3, "priority": 0}, {"id": 1, '
    '"lat": 50.5, "lon": 2.5, "priority": 0}, {"id": 4, "lat": 54.5, "lon": 15.9, "priority": 0}, '
    '{"id": 2, "lat": 41.505714, "lon": 17.33611, "priority": 0}], "stock": [{"location_id": 5, '
    '"product_id": 3, "available": 2}, {"location_id": 3, "product_id": 2, "available": 1}, '
    '{"location_id": 3, "product_id": 3, "available": 1}, {"location_id": 6, "product_id": 1, '
    '"available": 1}, {"location_id": 6, "product_id": 3, "available": 1}, {"location_id": 1, '
    '"product_id": 1, "available": 1}, {"location_id": 4, "product_id": 2, "available": 1}, '
    '{"location_id": 2, "product_id": 3, "available": 1}, {"location_id": 2, "product_id": 4, '
    '"available": 1}]}'
)


@pytest.mark.parametrize(
    ("data", "chosen", "total"),
    [
        # The greedy cover took 6 locations; 5 do (the issue's MILP: 1, 2, 4, 5, 6).
        pytest.param(CX_LOCATIONS, [1, 2, 4, 5, 6], "4058.3 km in total", id="fewest-locations"),
        # 5 either way, but 4,766.5 km rather than the greedy 6,010.8; locations 5 and 6 share a
        # building, so the lower id (5) is taken.
        pytest.param(CX_DISTANCE, [1, 2, 3, 4, 5], "4766.5 km in total", id="shortest-distance"),
    ],
)
def test_the_issues_counterexamples(data, chosen, total):
    needs, stock, locations, request = _compact(data)
    plan = plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
    assert plan.fully_sourced
    assert plan.location_ids == chosen
    assert "5 locations" in plan.reason
    assert "the fewest that can" in plan.reason
    assert total in plan.reason


def test_a_plan_cut_short_by_the_step_limit_says_what_is_proven(monkeypatch):
    needs, stock, locations, request = _compact(CX_DISTANCE)

    def plan_with(budget: int):
        monkeypatch.setattr(sourcing.engine, "SEARCH_STEP_BUDGET", budget)
        return plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)

    # The bounds prove 5 locations enough without a node of search, and that 4 are not needs one.
    count_open = plan_with(0)  # the count is not proven yet: the greedy cover stands
    assert count_open.location_ids == [2, 3, 4, 5, 6]
    assert count_open.reason.endswith(
        "(search stopped at its step limit: at most 1 location more than the fewest)."
    )
    distance_open = plan_with(1)  # the count is proven, the distance not
    assert distance_open.reason.endswith(
        "6010.8 km in total (search stopped at its step limit: the fewest locations, "
        "at most 1244.3 km longer than the shortest)."
    )


# --- seeded random instances -------------------------------------------------------------------------


def test_the_generator_covers_every_size_and_regime():
    seen = {(i.size, i.regime) for i in random_instances(len(INSTANCE_SIZES) * len(INSTANCE_REGIMES))}
    assert seen == {(size, regime) for size in INSTANCE_SIZES for regime in INSTANCE_REGIMES}
    again = random_instance(7, size=20, regime="scarce")
    assert again.stock == random_instance(7, size=20, regime="scarce").stock


def stated_gap_metres(reason: str) -> int | None:
    """The gap a plan states when its search stopped at the step limit (None: it does not)."""
    if "step limit" not in reason:
        return None
    found = re.search(r"at most ([0-9.]+) km longer", reason)
    return 0 if found is None else round(float(found.group(1)) * 1000) + 50  # stated to 0.1 km


@pytest.mark.parametrize("first_seed", range(0, INSTANCES, 60), ids=lambda s: f"seeds-{s}")
def test_plans_are_optimal_against_the_integer_program(first_seed):
    # The fewest locations always; the full objective unless the search says it stopped at its
    # step limit, and then within the gap it states (the acceptance: >= 99.5 % of instances).
    misses = []
    for instance in random_instances(min(60, INSTANCES - first_seed), first_seed=first_seed):
        plan, problem, got = check(instance.needs, instance.stock, instance.locations, instance.request)
        count, shortest, most = milp(problem)
        best: tuple = (count, shortest, -most)
        if len(problem.ids) <= BRUTE_FORCE_LOCATIONS:
            exact = problem.key(brute_force(problem))
            assert exact[:3] == best, f"seed {instance.seed}: CBC disagrees with brute force"
            best = exact
        else:
            got = got[:3]
        assert got[0] == count, f"seed {instance.seed}: {got[0]} locations, {count} do ({plan.reason})"
        if got != best:
            gap = stated_gap_metres(plan.reason)
            assert gap is not None, f"seed {instance.seed}: {got} is not the optimum {best}"
            assert got[1] - best[1] <= gap, f"seed {instance.seed}: the stated gap is wrong ({plan.reason})"
            misses.append(instance.seed)
    assert len(misses) <= max(1, len(range(first_seed, min(first_seed + 60, INSTANCES))) // 200), misses


@st.composite
def small_networks(draw):
    """Tiny networks where ties are the rule: a few places, shared by several locations, and
    priorities from a small range, so that priority and then the lowest ids decide."""
    places = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=3))
    size = draw(st.integers(2, 8))
    locations = {}
    for location_id in draw(st.permutations(range(1, size + 1))):
        lat, lon = draw(st.sampled_from(places))
        locations[location_id] = CandidateLocation(
            id=location_id,
            code=f"L{location_id}",
            kind="warehouse",
            latitude=45.0 + lat,
            longitude=5.0 + lon,
            priority=draw(st.integers(0, 2)),
            ships=True,
        )
    products = list(range(1, draw(st.integers(1, 4)) + 1))
    stock = []
    for location_id in locations:
        for product in products:
            units = draw(st.integers(0, 3))
            if units:
                stock.append(CandidateStock(len(stock) + 1, product, f"P{product}", location_id, units))
    needs = [Need(key=p, product_id=p, sku=f"P{p}", quantity=draw(st.integers(1, 5))) for p in products]
    origin = draw(st.sampled_from([(45.0, 5.0), (46.5, 6.5), (44.0, 9.0)]))
    return needs, stock, locations, SourcingRequest(method=SHIP, origin=origin)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_small_networks_with_ties_against_brute_force(network):
    needs, stock, locations, request = network
    _, problem, got = check(needs, stock, locations, request)
    assert got == problem.key(brute_force(problem))
