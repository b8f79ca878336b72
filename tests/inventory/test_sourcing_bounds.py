"""The sourcing search's bounds against brute force on small networks: the incidence bound
(``inventory.sourcing.bounds``), the count's lower bound, and the linear relaxation of the distance
stage (``inventory.sourcing.relax``): whatever they prove must hold for every cover."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.sourcing.bounds import breadth_levels, incidence_floor, most_held
from inventory.sourcing.relax import Prices, duals, fewest_suppliers
from inventory.sourcing.tree import Search

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def networks(draw, max_locations: int = 7):
    """(vectors, targets): what each location gives of each product, capped at the targets, and
    the targets, which the locations together can give."""
    products = draw(st.integers(1, 4))
    count = draw(st.integers(1, max_locations))
    vectors = [tuple(draw(st.integers(0, 3)) for _ in range(products)) for _ in range(count)]
    wanted = [draw(st.integers(0, 5)) for _ in range(products)]
    targets = [min(w, sum(v[j] for v in vectors)) for j, w in enumerate(wanted)]
    vectors = [tuple(min(q, t) for q, t in zip(v, targets, strict=True)) for v in vectors]
    return vectors, targets


def covers(vectors, targets, chosen) -> bool:
    return all(sum(vectors[i][j] for i in chosen) >= t for j, t in enumerate(targets))


def all_covers(vectors, targets, size):
    return [c for c in itertools.combinations(range(len(vectors)), size) if covers(vectors, targets, c)]


def fewest(vectors, targets) -> int:
    for size in range(len(vectors) + 1):
        if all_covers(vectors, targets, size):
            return size
    raise AssertionError("the targets are what the locations can give")


def held(vector, targets) -> int:
    return sum(1 for q, t in zip(vector, targets, strict=True) if q and t)


@FAST
@given(st.lists(st.integers(0, 2**8 - 1), max_size=6))
def test_breadth_levels_count_the_sets_each_location_is_in(sets):
    levels = breadth_levels(sets)
    for i in range(8):
        inside = sum(1 for s in sets if s >> i & 1)
        assert [bool(level >> i & 1) for level in levels] == [b < inside for b in range(len(levels))]
    assert not levels or levels[-1]


def test_breadth_levels_and_most_held_on_an_example():
    # location 0 in all three sets, 1 in two, 2 in one
    levels = breadth_levels([0b111, 0b011, 0b001])
    assert levels == [0b111, 0b011, 0b001]
    assert [most_held(levels, k) for k in range(4)] == [0, 3, 5, 6]


@FAST
@given(networks(), st.integers(1, 5))
def test_the_incidence_floor_holds_for_every_cover(network, room):
    vectors, targets = network
    picks = sum(fewest_suppliers(vectors, targets))
    suppliers = [sum(1 << i for i, v in enumerate(vectors) if v[j]) for j, t in enumerate(targets) if t]
    floor = incidence_floor(breadth_levels(suppliers), picks, room)
    found = all_covers(vectors, targets, room)
    if floor is None:
        assert not found
    else:
        for cover in found:
            assert all(held(vectors[i], targets) >= floor for i in cover)


def test_the_incidence_bound_proves_what_the_units_cannot():
    # Four products of 3 units; every location holds two products, 2 units each. The units
    # short (12) over the most a location gives (4) say 3 locations; each product needs 2
    # suppliers, each location counts for 2 products: 4 locations.
    pairs = [(0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (1, 2)]
    vectors = [tuple(2 if j in pair else 0 for j in range(4)) for pair in pairs]
    targets = [3, 3, 3, 3]
    search = Search(
        vectors, [0] * len(vectors), targets, range(len(vectors)), size=0, budget=0, count_only=True
    )
    assert search.lower_bound() == 4 == fewest(vectors, targets)


@FAST
@given(networks())
def test_the_count_lower_bound_never_exceeds_the_fewest(network):
    vectors, targets = network
    search = Search(
        vectors, [0] * len(vectors), targets, range(len(vectors)), size=0, budget=0, count_only=True
    )
    assert search.lower_bound() <= fewest(vectors, targets)


@st.composite
def priced_networks(draw):
    vectors, targets = draw(networks())
    metres = [draw(st.integers(0, 5_000)) for _ in vectors]
    return vectors, targets, metres


def _relaxed(vectors, targets, metres):
    """The fewest count, its covers, and the relaxation's prices started from the first cover."""
    size = fewest(vectors, targets)
    found = all_covers(vectors, targets, size)
    start = list(found[0])
    solved = duals(vectors, metres, targets, size, start, max_iterations=200)
    assert solved is not None
    units, suppliers, _ = solved
    shift = 24  # as the engine's costs: bits below the metre (prices keep 20 of them)
    costs = [m << shift for m in metres]
    return size, found, start, Prices.of(vectors, costs, units, suppliers, shift), costs


@FAST
@given(priced_networks())
def test_the_relaxation_bounds_every_cover_and_fixes_out_none_cheaper(network):
    vectors, targets, metres = network
    if not any(targets):
        return
    size, found, start, prices, costs = _relaxed(vectors, targets, metres)
    picks = fewest_suppliers(vectors, targets)
    everything = range(len(vectors))
    cheapest = min(sum(costs[i] for i in cover) for cover in found)
    assert prices.bound(everything, targets, picks, size) <= cheapest
    best = sum(costs[i] for i in start)
    out = prices.fixed_out(everything, targets, picks, size, best)
    for cover in found:
        if sum(costs[i] for i in cover) < best:
            assert not out & set(cover)


def test_the_relaxation_matches_an_lp_solver():
    pulp = pytest.importorskip("pulp")
    # Fragmented stock: products 0-3, pairs and singles of 1-2 units; 3 locations are the fewest.
    vectors = [
        (2, 2, 0, 0),
        (0, 0, 2, 1),
        (1, 0, 0, 2),
        (0, 2, 2, 0),
        (2, 0, 1, 0),
        (0, 1, 0, 2),
        (1, 1, 0, 0),
    ]
    metres = [900, 400, 700, 1200, 300, 650, 100]
    targets = [3, 2, 2, 2]
    size, _, _, prices, _ = _relaxed(vectors, targets, metres)
    picks = fewest_suppliers(vectors, targets)
    model = pulp.LpProblem("relaxation", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{i}", 0, 1) for i in range(len(vectors))]
    model += pulp.lpSum(m * xi for m, xi in zip(metres, x, strict=True))
    model += pulp.lpSum(x) == size
    for j, t in enumerate(targets):
        model += pulp.lpSum(v[j] * xi for v, xi in zip(vectors, x, strict=True)) >= t
        model += pulp.lpSum(xi for v, xi in zip(vectors, x, strict=True) if v[j]) >= picks[j]
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    bound = prices.bound(range(len(vectors)), targets, picks, size) / 2**24
    assert bound == pytest.approx(pulp.value(model.objective), abs=0.01)
