"""The depth-first search of ``search`` (steps 2-5 of its docstring): the covers of exactly
``size`` of a list of locations, either the first one found (does a cover of this size exist?) or
the cheapest one, with the bounds that cut it (``bounds``) and a memory of the nodes searched."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

from .bounds import breadth_levels, incidence_floor
from .relax import Prices
from .sets import bitsets

_INFEASIBLE = 1 << 30
_SEEN_PER_STATE = 8  # searched nodes remembered per (deficit, locations to go)


class Search:
    """One depth-first search of the module's steps 2-4: the covers of exactly ``size`` of the
    ``members`` (positions in the order of preference), either the first one found
    (``count_only``: does a cover of this size exist?) or the cheapest one."""

    def __init__(
        self,
        vectors: Sequence[tuple[int, ...]],
        costs: Sequence[int],
        targets: Sequence[int],
        members: Sequence[int],
        *,
        size: int,
        budget: int,
        count_only: bool,
    ) -> None:
        self.members = list(members)
        self.vectors = [vectors[i] for i in members]
        self.costs = [costs[i] for i in members]
        self.levels = bitsets(self.vectors, targets)
        self.most = [sum(vector) for vector in self.vectors]  # units each gives at the start
        self.by_most = sorted(range(len(self.vectors)), key=lambda i: -self.most[i])
        self.most_at_least = [0] * (max(self.most, default=0) + 2)  # [g]: those giving g or more
        for i, units in enumerate(self.most):
            for g in range(units + 1):
                self.most_at_least[g] |= 1 << i
        self.targets = tuple(targets)
        self.size = size
        self.budget = budget
        self.count_only = count_only
        self.steps = 0
        self.exhausted = False
        self.found: list[int] | None = None  # positions in ``members``
        self.best_cost: int | None = None  # of the best cover known (found here or given)
        self.open_bound: int | None = None  # lowest bound of a branch left when the budget ran out
        # (deficit, room) -> [(locations left, least cost of a cover below, None: no cover)]
        self.seen: dict[tuple[tuple[int, ...], int], list[tuple[int, int | None]]] = {}
        self.prices: tuple[list[int], list[int], list[int], list[int]] | None = None

    def lower_bound(self) -> int:
        """Locations any cover needs at least: the larger of the per-product and the incidence
        bounds (``bounds``)."""
        everything = (1 << len(self.members)) - 1
        needed, disjoint, others, _ = self._groups(everything, self.targets)
        if needed >= _INFEASIBLE:
            return needed
        picks = sum(count for _, count in (*disjoint, *others))
        levels = breadth_levels(everything & self.levels[j][1] for j, d in enumerate(self.targets) if d)
        room = needed
        while incidence_floor(levels, picks, room) is None:
            room += 1
        return room

    def run(self, incumbent: Sequence[int] | None = None, *, ceiling: int | None = None) -> list[int] | None:
        """The cover found (positions in the order of preference), or None; with an
        ``incumbent`` (positions of a cover of ``size``, among ``members``), the best one; with a
        ``ceiling`` (the cost of a cover known elsewhere), only one that costs less."""
        everything = (1 << len(self.members)) - 1
        if incumbent is not None:
            where = {member: position for position, member in enumerate(self.members)}
            self.found = [where[i] for i in incumbent]
            self.best_cost = sum(self.costs[i] for i in self.found)
            if self.size > 2:  # for two, the search itself is a lookup per first location
                self._improve(everything)
        elif ceiling is not None:
            self.best_cost = ceiling
        self._node(everything, self.targets, [], 0)
        return None if self.found is None else [self.members[i] for i in self.found]

    def _improve(self, everything: int) -> None:
        """Local search from the incumbent: give up one or two of its locations for the best one
        or two that make up for them, while that is cheaper (a good bound early saves nodes)."""
        levels, better = self.levels, True
        while better and self.found is not None and not self.exhausted:
            better = False
            current = list(self.found)
            drops = [*itertools.combinations(current, 1), *itertools.combinations(current, 2)]
            for drop in drops:
                keep = [i for i in current if i not in drop]
                given = [sum(self.vectors[i][j] for i in keep) for j in range(len(self.targets))]
                deficit = tuple(max(0, t - g) for t, g in zip(self.targets, given, strict=True))
                left = everything
                for i in keep:
                    left &= ~(1 << i)
                useful = 0
                for j, d in enumerate(deficit):
                    if d:
                        useful |= levels[j][1]
                self._node(left & useful, deficit, keep, sum(self.costs[i] for i in keep))
                if self.found != current:
                    better = True
                    break

    # --- bounds -----------------------------------------------------------------------------------

    def _picks(self, left: int, deficit: tuple[int, ...]) -> list[tuple[int, int]]:
        """Per product still short: (fewest locations of ``left`` that close it, product)."""
        out = []
        for j, d in enumerate(deficit):
            if not d:
                continue
            levels, need, picks, above = self.levels[j], d, 0, 0
            for q in range(d, 0, -1):
                at_least = (left & levels[q]).bit_count()
                here, above = at_least - above, at_least
                if here:
                    take = min(here, -(-need // q))
                    picks, need = picks + take, need - take * q
                    if need <= 0:
                        break
            if need > 0:
                return [(_INFEASIBLE, j)]
            out.append((picks, j))
        return out

    def _groups(
        self, left: int, deficit: tuple[int, ...]
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]], list[int]]:
        """Locations still needed at least, and (suppliers, picks) per product short: first the
        products whose suppliers are disjoint (their picks add up to that bound), then the others;
        last, the picks per product (0 for one not short)."""
        picks = self._picks(left, deficit)
        picks.sort(reverse=True)
        union, total, disjoint, others = 0, 0, [], []
        by_product = [0] * len(deficit)
        for count, j in picks:
            if count >= _INFEASIBLE:
                return _INFEASIBLE, [], [], by_product
            by_product[j] = count
            suppliers = left & self.levels[j][1]
            if suppliers & union:
                others.append((suppliers, count))
            else:
                union |= suppliers
                total += count
                disjoint.append((suppliers, count))
        return total, disjoint, others, by_product

    def _units_floor(self, left: int, deficit: tuple[int, ...], room: int) -> int | None:
        """The fewest units a location must give to be in a cover of ``room`` more locations of
        ``left`` (the units short less what the ``room - 1`` best others give), or None when the
        ``room`` best together give too few. Walked from the most units at the start, which a
        location never exceeds later: the walk ends when the next one cannot enter the best."""
        vectors, most = self.vectors, self.most
        top: list[int] = []
        for i in self.by_most:
            if not left >> i & 1:
                continue
            if len(top) == room and most[i] <= top[0]:
                break
            given = sum(map(min, vectors[i], deficit))
            if len(top) < room:
                heapq.heappush(top, given)
            elif given > top[0]:
                heapq.heapreplace(top, given)
        short = sum(deficit)
        best = sum(top)
        if best < short:
            return None
        return short - (best - top[0]) if len(top) == room else 0

    def _cost_bound(
        self, left: int, disjoint: list[tuple[int, int]], others: list[tuple[int, int]], picks: int
    ) -> int:
        """Least cost of ``picks`` locations of ``left`` that hold, for each disjoint product, its
        picks among its own suppliers (or, when that says more, for one other product alone)."""
        taken, total = 0, 0
        for suppliers, count in disjoint:
            cheapest = _lowest(suppliers, count)
            taken |= cheapest
            total += self._cheapest(cheapest, count)
        bound = total + self._cheapest(left & ~taken, picks - sum(count for _, count in disjoint))
        for suppliers, count in others:
            cheapest = _lowest(suppliers, count)
            alone = self._cheapest(cheapest, count) + self._cheapest(left & ~cheapest, picks - count)
            bound = max(bound, alone)
        return bound

    def _by_incidence(self, left: int, groups: Sequence[tuple[int, int]], room: int) -> int | None:
        """``left`` without the locations that hold too few of the products short to be in a cover
        of ``room`` more (``bounds.incidence_floor``); None when no cover of ``room`` can hold
        enough of them."""
        levels = breadth_levels(suppliers for suppliers, _ in groups)
        floor = incidence_floor(levels, sum(count for _, count in groups), room)
        if floor is None:
            return None
        return left & levels[floor - 1] if floor > 1 else left

    def _priced_bound(self, left: int, deficit: tuple[int, ...], picks: list[int], room: int) -> int:
        """Least cost of ``room`` locations of ``left`` that close ``deficit``, by the relaxation's
        prices (``relax.Prices``): what they are paid for it plus the ``room`` lowest reduced costs."""
        reduced, per_unit, per_supplier, by_reduced = self.prices  # type: ignore[misc]
        total = 0
        for j, d in enumerate(deficit):
            if d:
                total += d * per_unit[j] + picks[j] * per_supplier[j]
        for i in by_reduced:
            if left >> i & 1:
                total += reduced[i]
                room -= 1
                if not room:
                    break
        return total

    def use_prices(self, prices: Prices) -> None:
        """Cut branches by the relaxation's bound too (the distance stage, after ``relax``)."""
        reduced = [prices.reduced[i] for i in self.members]
        by_reduced = sorted(range(len(reduced)), key=reduced.__getitem__)
        self.prices = (reduced, prices.per_unit, prices.per_supplier, by_reduced)

    def _cheapest(self, left: int, count: int) -> int:
        total, costs = 0, self.costs
        for _ in range(count):
            if not left:
                break
            low = left & -left
            left ^= low
            total += costs[low.bit_length() - 1]
        return total

    # --- the search -------------------------------------------------------------------------------

    def _offer(self, chosen: list[int], cost: int) -> None:
        if self.best_cost is None or cost < self.best_cost:
            self.found, self.best_cost = chosen, cost

    def _done(self) -> bool:
        return self.exhausted or (self.count_only and self.found is not None)

    def _node(self, left: int, deficit: tuple[int, ...], chosen: list[int], cost: int) -> None:
        if not any(deficit):
            self._offer(list(chosen), cost)
            return
        self.steps += 1
        if self.steps > self.budget:
            self.exhausted = True
            if not self.count_only:
                self._record_open(left, deficit, chosen, cost)
            return
        room = self.size - len(chosen)
        if room == 1:  # the cheapest location that gives the whole deficit, if any
            covering = left
            for j, d in enumerate(deficit):
                if d:
                    covering &= self.levels[j][d]
            if covering:
                index = (covering & -covering).bit_length() - 1
                self._offer([*chosen, index], cost + self.costs[index])
            return
        floor = self._units_floor(left, deficit, room)
        if floor is None:
            return
        if floor > 1:  # a location that gives fewer units cannot be in the cover
            left &= self.most_at_least[min(floor, len(self.most_at_least) - 1)]
        needed, disjoint, others, by_product = self._groups(left, deficit)
        if needed > room:
            return
        narrowed = self._by_incidence(left, (*disjoint, *others), room)
        if narrowed is None:
            return
        left = narrowed
        priced = self.best_cost is not None and not self.count_only
        if priced and cost + self._cost_bound(left, disjoint, others, room) >= (self.best_cost or 0):
            return
        if (
            priced
            and self.prices is not None
            and cost + self._priced_bound(left, deficit, by_product, room) >= (self.best_cost or 0)
        ):
            return
        key = (deficit, room)
        seen = self.seen.get(key)
        if seen is not None:
            for earlier, least in seen:
                if not left & ~earlier and (least is None or cost + least >= (self.best_cost or 0)):
                    return  # as searched before, from more locations: nothing better below
        self._branch(left, deficit, chosen, cost)
        if self.exhausted or (self.count_only and self.found is not None):
            return
        # Below here every cover costs at least the best known, less what this node has spent
        # (None: there is none), and so it does below any node with the same deficit and room
        # and fewer locations left.
        least = None if self.best_cost is None else self.best_cost - cost
        if seen is None:
            self.seen[key] = [(left, least)]
        elif len(seen) < _SEEN_PER_STATE:
            seen.append((left, least))

    def _branch(self, left: int, deficit: tuple[int, ...], chosen: list[int], cost: int) -> None:
        """One branch per supplier of the product with the fewest, in the order of preference."""
        levels, costs, vectors = self.levels, self.costs, self.vectors
        room = self.size - len(chosen)
        short = [j for j, d in enumerate(deficit) if d]
        product = min(short, key=lambda j: ((left & levels[j][1]).bit_count(), -deficit[j]))
        suppliers = left & levels[product][1]
        if room == 2:
            self._pairs(left, suppliers, deficit, chosen, cost)
            return
        while suppliers and not self._done():
            low = suppliers & -suppliers
            suppliers ^= low
            left ^= low  # taken here, ruled out for the later branches
            index = low.bit_length() - 1
            here = cost + costs[index]
            if self._beaten(left, here, room):
                return
            rest = tuple([d - s if d > s else 0 for d, s in zip(deficit, vectors[index], strict=True)])
            useful = 0
            for j, d in enumerate(rest):
                if d:
                    useful |= levels[j][1]
            chosen.append(index)
            self._node(left & useful, rest, chosen, here)
            chosen.pop()
            left &= ~self._dominated(index, deficit)
            suppliers &= left
        if self.exhausted and not self.count_only:
            self._record_open(left, deficit, chosen, cost)

    def _pairs(
        self, left: int, suppliers: int, deficit: tuple[int, ...], chosen: list[int], cost: int
    ) -> None:
        """Two locations to go: for each supplier in turn, the first location that gives the rest
        is looked up, not searched."""
        levels, costs, vectors = self.levels, self.costs, self.vectors
        short = [(j, d) for j, d in enumerate(deficit) if d]
        while suppliers and not self._done():
            low = suppliers & -suppliers
            suppliers ^= low
            left ^= low
            index = low.bit_length() - 1
            here = cost + costs[index]
            if self._beaten(left, here, 2):
                return
            vector, covering = vectors[index], left
            for j, d in short:
                if vector[j] < d:
                    covering &= levels[j][d - vector[j]]
                    if not covering:
                        break
            if covering == left and all(vector[j] >= d for j, d in short):
                self._offer([*chosen, index], here)  # alone: fewer than the size searched
            elif covering:
                second = (covering & -covering).bit_length() - 1
                self._offer([*chosen, index, second], here + costs[second])

    def _beaten(self, left: int, here: int, room: int) -> bool:
        """No later branch can beat the best cover: their suppliers cost more, and fewer remain."""
        if self.count_only or self.best_cost is None:
            return False
        return here + self._cheapest(left, room - 1) >= self.best_cost

    def _record_open(self, left: int, deficit: tuple[int, ...], chosen: list[int], cost: int) -> None:
        """The budget left this node's later branches unexplored: keep their lowest bound."""
        room = self.size - len(chosen)
        needed, disjoint, others, _ = self._groups(left, deficit)
        if needed > room or self.best_cost is None:
            return
        bound = cost + self._cost_bound(left, disjoint, others, room)
        if bound < self.best_cost and (self.open_bound is None or bound < self.open_bound):
            self.open_bound = bound

    def _dominated(self, index: int, deficit: tuple[int, ...]) -> int:
        """The locations that give no more than ``index`` of any product short, later in the order
        of preference (any, when only the count matters): once ``index`` is ruled out, so are they
        (a cover with one of them but not ``index`` is no better than with ``index`` in its place,
        and that cover was searched in the branch that took it)."""
        more = 0
        levels = self.levels
        for j, (q, d) in enumerate(zip(self.vectors[index], deficit, strict=True)):
            if q < d:
                more |= levels[j][q + 1]
        return ~more if self.count_only else ~more & ~((2 << index) - 1)


def _lowest(bits: int, count: int) -> int:
    """The ``count`` lowest set bits of ``bits``."""
    rest = bits
    for _ in range(count):
        rest &= rest - 1
    return bits & ~rest
