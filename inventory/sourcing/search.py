"""The exact choice of several locations (no single one holds the order): the fewest locations,
then the shortest total distance, then the higher total priority, then the lower ids, proven by
branch and bound. Pure: the engine's ``Site`` records in, the chosen ones out.

1. Reduction (``sets``). Supplies are capped at what the order can use (``targets``). Location b is
   *dominated* by a when a gives at least as much of every product and ranks before it (nearer,
   else higher priority, else lower id): the best set never holds b without a (swapping b for a
   keeps the cover and makes the set better), so b goes when a is already ruled out, or when its
   dominators together give every product b holds (b would be redundant, and a set of the fewest
   locations holds none). Quantities count, not only products: five one-unit locations make a
   sixth redundant for an order of five units, not of six.
2. Bounds on the locations still needed, for a deficit and the locations left (``tree``,
   ``bounds``): per product, how many of the largest supplies close it; summed over products whose
   suppliers are disjoint (no location counts twice); how many of the locations giving the most
   units it takes to reach the units short; and the *incidence* bound: the products the cover's
   locations hold, counted with multiplicity, reach the per-product counts summed (on fragmented
   stock, one or two products a location, it alone proves the count). The last two also give
   floors: a location that gives too few units, or holds too few of the products short, to be in
   a cover with the best others leaves the node.
3. The count: iterative deepening on k from that bound to the greedy cover's size, over the
   locations in order of units given (for the count only supply matters, so the reduction there
   drops a location dominated by any other). A depth-first search branches on the product with the
   fewest suppliers left: the i-th branch takes its i-th supplier and rules out the earlier ones and
   every location they dominate, so no set is searched twice; with two locations to go the last is
   looked up, not searched; a node whose deficit and room were searched before from a superset of
   its locations is skipped. The first k with a cover is the fewest.
4. The cheapest set of that k, over the locations in rank order: a set's cost is one integer per
   location, summed (metres, then priority, then a power of two per id, so that sums order sets
   exactly as the documented key does). It starts from the cover found, improved by swapping one or
   two of its locations, and a branch ends when its cost plus a lower bound (the cheapest suppliers
   of each disjoint product, then the cheapest of the rest) reaches the best cost. A search not
   done within PROBE_STEPS nodes is cut down by the linear relaxation (``relax``: the units and the
   suppliers rows of each product, solved by a small simplex, its prices re-checked in integers):
   its bound may prove the best cover found optimal at once; otherwise every location whose
   reduced cost lifts the bound to the best cost leaves (typically 150 -> 15-40), and the search
   resumes over the others with the priced bound at every node.
5. Work is bounded by ``budget`` nodes and simplex iterations over both stages (deterministic, so
   a plan made again is the same plan). When it is spent the best set stands with its proven gap:
   how many locations more than the fewest possible at most, or, the count proven, how many metres
   more than the shortest at most (the lowest bound among the branches left unexplored, and the
   relaxation's).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from .relax import Prices, duals, fewest_suppliers
from .sets import bitsets, greedy_cover, metres_shift, reduce_sites, set_costs
from .tree import Search
from .types import Site

# The distance stage first searches this many nodes; a search not done by then is cut down by the
# relaxation (``relax``) and resumed over the locations a cheaper cover can hold.
PROBE_STEPS = 60


@dataclass
class Outcome:
    """The set found and what is proven about it."""

    sites: list[Site]
    exhausted: bool  # the budget ran out before the search proved the set the best
    count_gap: int  # at most this many locations more than the fewest possible
    metres_gap: int | None  # with the count proven: at most this many metres over the shortest
    steps: int
    from_greedy: bool = False  # the set is the greedy cover's (nothing better was found)


@dataclass
class _Reduced:
    """The locations kept by the reduction (rank order), what each gives, and its cost."""

    sites: list[Site]
    vectors: list[tuple[int, ...]]
    costs: list[int]
    targets: Sequence[int]

    @classmethod
    def of(cls, sites: Sequence[Site], targets: Sequence[int]) -> _Reduced:
        vectors = [site.supply for site in sites]
        if vectors and any(map(operator.gt, map(max, zip(*vectors, strict=True)), targets)):
            vectors = [tuple(map(min, vector, targets)) for vector in vectors]
        kept = reduce_sites(vectors, targets)  # the best set is among them
        chosen = [sites[i] for i in kept]
        return cls(chosen, [vectors[i] for i in kept], set_costs(chosen), targets)

    def search(self, members: Sequence[int], size: int, budget: int, *, count_only: bool) -> Search:
        return Search(
            self.vectors, self.costs, self.targets, members, size=size, budget=budget, count_only=count_only
        )

    def in_rank_order(self, chosen: Sequence[int]) -> list[Site]:
        return [self.sites[i] for i in sorted(chosen)]

    def cost(self, chosen: Sequence[int]) -> int:
        return sum(self.costs[i] for i in chosen)


def _fewest(problem: _Reduced, greedy: list[int], budget: int) -> tuple[int, list[int], int, bool]:
    """Iterative deepening on the count: (the fewest locations, a cover of that many, the nodes
    spent, whether proven). A cover can trade a location for one that gives at least as much, so
    this search runs over the locations in order of units given, reduced by that order."""
    if len(greedy) <= 2:  # no single location does: two are the fewest
        return len(greedy), greedy, 0, True
    vectors = problem.vectors
    by_units = sorted(range(len(vectors)), key=lambda i: (-sum(vectors[i]), i))
    members = [by_units[i] for i in reduce_sites([vectors[i] for i in by_units], problem.targets)]
    steps = 0
    lowest = problem.search(members, 0, 0, count_only=True).lower_bound()
    for size in range(max(lowest, 2), len(greedy)):
        counting = problem.search(members, size, budget - steps, count_only=True)
        cover = counting.run()
        steps += counting.steps
        if counting.exhausted:
            return size, greedy, steps, False
        if cover is not None:
            return size, cover, steps, True
    return len(greedy), greedy, steps, True


@dataclass
class _Ranked:
    """The distance stage's result: the best cover found, whether the budget ran out first, the
    lowest cost a better cover could have (when it did; None: none can beat it), and the nodes
    spent (search nodes and simplex iterations)."""

    best: list[int]
    exhausted: bool
    floor: int | None
    steps: int


def _cheapest_cover(problem: _Reduced, cover: list[int], size: int, budget: int) -> _Ranked:
    """The cheapest cover of ``size`` locations, from ``cover``: a short search over every location
    first (most orders end in it); then the relaxation's bound, which may prove the best cover
    found optimal at once, and otherwise rules out every location a cheaper cover cannot hold,
    and the search again over the others."""
    everything = list(range(len(problem.sites)))
    probe = problem.search(everything, size, min(budget, PROBE_STEPS), count_only=False)
    best = probe.run(cover) or cover
    steps = probe.steps
    if not probe.exhausted or probe.open_bound is None:  # no branch left open can do better
        return _Ranked(best, False, None, steps)
    bound, kept, prices, spent = _relaxed(problem, best, size, budget - steps)
    steps += spent
    ceiling = problem.cost(best)
    if bound is not None and bound >= ceiling:
        return _Ranked(best, False, None, steps)
    if kept is None or steps >= budget:
        floor = _floor(probe.open_bound, bound)
        return _Ranked(best, floor is not None, floor, steps)
    ranking = problem.search(kept, size, budget - steps, count_only=False)
    if prices is not None:
        ranking.use_prices(prices)
    best = ranking.run(ceiling=ceiling) or best
    steps += ranking.steps
    floor = _floor(ranking.open_bound, bound)
    return _Ranked(best, ranking.exhausted and floor is not None, floor, steps)


def _floor(open_bound: int | None, bound: int | None) -> int | None:
    """The lowest cost a cover better than the best found can have: at least the lowest bound of
    the branches the budget left open (None: none could beat it) and the relaxation's bound."""
    if open_bound is None or bound is None:
        return open_bound
    return max(open_bound, bound)


def _relaxed(
    problem: _Reduced, best: list[int], size: int, budget: int
) -> tuple[int | None, list[int] | None, Prices | None, int]:
    """The relaxation at the best cover found: (its lower bound on any cover of ``size``, the
    locations a cheaper cover can hold in rank order, the simplex iterations spent); None, None
    when the simplex did not finish within ``budget`` iterations."""
    vectors, targets = problem.vectors, problem.targets
    metres = [site.rank[0] for site in problem.sites]
    solved = duals(vectors, metres, targets, size, best, max_iterations=budget)
    if solved is None:
        return None, None, None, budget
    units, suppliers, iterations = solved
    prices = Prices.of(vectors, problem.costs, units, suppliers, metres_shift(problem.sites))
    picks = fewest_suppliers(vectors, targets)
    everything = range(len(vectors))
    bound = prices.bound(everything, targets, picks, size)
    out = prices.fixed_out(everything, targets, picks, size, problem.cost(best))
    return bound, [i for i in everything if i not in out], prices, iterations


def _cheapest_pair(problem: _Reduced) -> list[int] | None:
    """The cheapest two locations that give the targets together (no one does alone), or None
    when no two do. The locations are in rank order, which is the order of their costs, so the
    cheapest partner of a location is the first later one that gives the rest (a lookup on the
    bitsets); the scan stops when a location and the next cost as much as the best pair found.
    The same pair as the search's (the cheapest is unique: ids weigh into the costs), without its
    set-up: most orders that need several locations need two."""
    vectors, costs, targets = problem.vectors, problem.costs, problem.targets
    total = sum(targets)
    units = sorted(map(sum, vectors), reverse=True)
    if len(units) < 2 or units[0] + units[1] < total:
        return None
    levels = bitsets(vectors, targets)
    everything = (1 << len(vectors)) - 1
    best: list[int] | None = None
    best_cost = 0
    for i in range(len(vectors) - 1):
        if best is not None and costs[i] + costs[i + 1] >= best_cost:
            break
        covering = everything & ~((2 << i) - 1)  # the later locations
        for j, (q, t) in enumerate(zip(vectors[i], targets, strict=True)):
            if q < t:
                covering &= levels[j][t - q]
                if not covering:
                    break
        if covering:
            partner = (covering & -covering).bit_length() - 1
            if best is None or costs[i] + costs[partner] < best_cost:
                best, best_cost = [i, partner], costs[i] + costs[partner]
    return best


def search_fewest(sites: Sequence[Site], targets: Sequence[int], budget: int) -> Outcome:
    """The best set of locations that gives ``targets`` (none of ``sites`` does alone), within
    ``budget`` search nodes; ``Outcome.sites`` is the greedy cover when no better set was proven."""
    problem = _Reduced.of(sites, targets)
    pair = _cheapest_pair(problem)
    if pair is not None:  # no single location does, so two are the fewest
        return Outcome(problem.in_rank_order(pair), exhausted=False, count_gap=0, metres_gap=0, steps=0)
    position = {site.location.id: index for index, site in enumerate(problem.sites)}
    greedy = [position[site.location.id] for site in greedy_cover(problem.sites, targets)]
    size, cover, steps, proven = _fewest(problem, greedy, budget)
    if not proven:
        return Outcome(
            sites=problem.in_rank_order(greedy),
            exhausted=True,
            count_gap=len(greedy) - size,
            metres_gap=None,
            steps=steps,
            from_greedy=True,
        )
    # The distance, for that count: over every location kept, in rank order.
    ranked = _cheapest_cover(problem, cover, size, budget - steps)
    gap = 0
    if ranked.exhausted and ranked.floor is not None:
        shift = metres_shift(problem.sites)
        gap = max(0, (problem.cost(ranked.best) >> shift) - (ranked.floor >> shift))
    return Outcome(
        sites=problem.in_rank_order(ranked.best),
        exhausted=ranked.exhausted,
        count_gap=0,
        metres_gap=gap,
        steps=steps + ranked.steps,
        from_greedy=sorted(ranked.best) == sorted(greedy),
    )
