"""The linear relaxation of the distance stage, and what it proves: prices per unit and per
supplier of each product (the LP's duals), a lower bound on the cost of any cover of ``size``
locations, and the locations that no cover cheaper than the best known can hold.

The relaxation: x_i in [0, 1] for each location, sum x_i = size, and per product j short, the units
(sum v_ij x_i >= t_j) and the suppliers (sum of x_i over those holding j >= p_j, the fewest of the
largest supplies that close it: an integer cover has at least that many) rows. The supplier rows
are what make it tight: on fragmented stock the bound with units alone is 5-35 % below the optimum,
with both it is within 1.5 % and often exact.

The duals come from a small bounded-variable simplex in floats (``duals``), but nothing proven rests
on their accuracy: any prices >= 0 give a valid bound, and ``Prices`` works it out again in exact
integers on the engine's own costs, so a rounding error only weakens the bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPS = 1e-9
_INF = float("inf")
_FRACTION_BITS = 20  # a price keeps this many bits below the metre in the exact bound


def fewest_suppliers(vectors: Sequence[Sequence[int]], targets: Sequence[int]) -> list[int]:
    """Per product, the fewest locations that give its target (the largest supplies first);
    0 for a product with no target."""
    out = []
    for j, target in enumerate(targets):
        need, picks = target, 0
        if need > 0:
            for units in sorted((v[j] for v in vectors if v[j]), reverse=True):
                need -= units
                picks += 1
                if need <= 0:
                    break
        out.append(picks)
    return out


def duals(
    vectors: Sequence[Sequence[int]],
    metres: Sequence[float],
    targets: Sequence[int],
    size: int,
    start: Sequence[int],
    *,
    max_iterations: int,
) -> tuple[list[float], list[float], int] | None:
    """Prices per unit and per supplier of each product at the relaxation's optimum (0 for a
    product without a target), and the simplex iterations spent; None if it did not finish.
    ``start`` is a cover of ``size`` locations: the first basis, so no first phase is needed."""
    products = [j for j, t in enumerate(targets) if t > 0]
    picks = fewest_suppliers(vectors, targets)
    rhs = [float(targets[j]) for j in products] + [float(picks[j]) for j in products]
    simplex = _Simplex(vectors, metres, products, rhs, size, start)
    iterations = simplex.solve(max_iterations)
    if iterations is None:
        return None
    units = [0.0] * len(targets)
    suppliers = [0.0] * len(targets)
    count = len(products)
    pi = simplex.prices()
    for row, j in enumerate(products):  # any prices >= 0 are valid: keep only finite, positive ones
        units[j] = pi[row] if math.isfinite(pi[row]) and pi[row] > 0 else 0.0
        suppliers[j] = pi[count + row] if math.isfinite(pi[count + row]) and pi[count + row] > 0 else 0.0
    return units, suppliers, iterations


class _Simplex:
    """min c.x, A x - s = b (s >= 0), sum x = size, 0 <= x <= 1: a revised simplex with an explicit
    inverse of the basis (m = 2 x products + 1 rows, at most 17), Dantzig's rule then Bland's."""

    def __init__(
        self,
        vectors: Sequence[Sequence[int]],
        metres: Sequence[float],
        products: list[int],
        rhs: list[float],
        size: int,
        start: Sequence[int],
    ) -> None:
        count = len(products)
        self.rows = m = 2 * count + 1
        self.n = n = len(vectors)
        self.cost = [float(c) for c in metres] + [0.0] * (m - 1)
        self.columns: list[list[tuple[int, float]]] = []
        for vector in vectors:
            column = []
            for row, j in enumerate(products):
                if vector[j]:
                    column.append((row, float(vector[j])))
                    column.append((count + row, 1.0))
            column.append((m - 1, 1.0))
            self.columns.append(column)
        for row in range(m - 1):  # surplus of row ``row``: variable n + row
            self.columns.append([(row, -1.0)])
        self.upper = [1.0] * n + [_INF] * (m - 1)
        chosen = set(start)
        self.at_upper = [i in chosen for i in range(n)] + [False] * (m - 1)
        first = start[0]
        self.basis = [n + row for row in range(m - 1)] + [first]
        self.at_upper[first] = False
        given = [0.0] * m
        for i in chosen:
            for row, value in self.columns[i]:
                given[row] += value
        self.x = [given[row] - rhs[row] for row in range(m - 1)] + [1.0]
        # B = [[-I, a], [0, 1]] with a the first location's column: its own inverse.
        inverse = [[0.0] * m for _ in range(m)]
        for row in range(m - 1):
            inverse[row][row] = -1.0
        for row, value in self.columns[first]:
            inverse[row][m - 1] = value
        self.inverse = inverse

    def prices(self) -> list[float]:
        m, inverse, cost, basis = self.rows, self.inverse, self.cost, self.basis
        pi = [0.0] * m
        for position, var in enumerate(basis):
            c = cost[var]
            if c:
                row = inverse[position]
                for k in range(m):
                    pi[k] += c * row[k]
        return pi

    def _entering(self, pi: list[float], bland: bool) -> tuple[int, float] | None:
        """(variable, direction) of the most improving nonbasic variable (the first under Bland)."""
        best, best_var, direction = _EPS, -1, 0.0
        basic = set(self.basis)
        for var, column in enumerate(self.columns):
            if var in basic:
                continue
            d = self.cost[var]
            for row, value in column:
                d -= pi[row] * value
            gain = d if self.at_upper[var] else -d
            if gain > best:
                best, best_var, direction = gain, var, -1.0 if self.at_upper[var] else 1.0
                if bland:
                    break
        return None if best_var < 0 else (best_var, direction)

    def solve(self, max_iterations: int) -> int | None:
        degenerate = 0
        for iteration in range(max_iterations):
            found = self._entering(self.prices(), bland=degenerate > 2 * self.rows)
            if found is None:
                return iteration
            var, direction = found
            step = self._pivot(var, direction)
            if step is None:
                return None
            degenerate = degenerate + 1 if step <= _EPS else 0
        return None

    def _pivot(self, var: int, direction: float) -> float | None:
        """Move ``var`` as far as the bounds allow; the step taken, None if unbounded."""
        m, inverse, x, basis, upper = self.rows, self.inverse, self.x, self.basis, self.upper
        alpha = [0.0] * m
        for row, value in self.columns[var]:
            for position in range(m):
                alpha[position] += inverse[position][row] * value
        step, leaving, to_upper, steepest = upper[var], -1, False, 0.0
        for position in range(m):
            rate = direction * alpha[position]
            if rate > _EPS:
                limit, hits_upper = x[position] / rate, False
            elif rate < -_EPS and upper[basis[position]] != _INF:
                limit, hits_upper = (upper[basis[position]] - x[position]) / -rate, True
            else:
                continue
            if limit < step - _EPS or (limit < step + _EPS and abs(rate) > steepest):
                step, leaving, to_upper, steepest = limit, position, hits_upper, abs(rate)
        if step == _INF:
            return None
        step = max(step, 0.0)
        for position in range(m):
            x[position] -= direction * step * alpha[position]
        if leaving < 0:  # the entering variable reaches its other bound: no change of basis
            self.at_upper[var] = not self.at_upper[var]
            return step
        out = basis[leaving]
        self.at_upper[out] = to_upper
        start = upper[var] if self.at_upper[var] else 0.0
        self.at_upper[var] = False
        basis[leaving] = var
        x[leaving] = start + direction * step
        pivot_row = inverse[leaving]
        a = alpha[leaving]
        pivot_row[:] = [value / a for value in pivot_row]
        for position in range(m):
            if position != leaving and alpha[position]:
                factor = alpha[position]
                inverse[position] = [
                    r - factor * p for r, p in zip(inverse[position], pivot_row, strict=True)
                ]
        return step


@dataclass
class Prices:
    """The relaxation's prices in the engine's integer costs (``shift`` bits below the metre):
    ``reduced[i]`` is location i's cost less what it is paid for its units and its products, and
    ``paid`` what a cover of ``targets`` is paid at least."""

    reduced: list[int]
    per_unit: list[int]
    per_supplier: list[int]

    @classmethod
    def of(
        cls,
        vectors: Sequence[Sequence[int]],
        costs: Sequence[int],
        units: Sequence[float],
        suppliers: Sequence[float],
        shift: int,
    ) -> Prices:
        bits = min(shift, _FRACTION_BITS)
        per_unit = [int(p * (1 << bits)) << (shift - bits) for p in units]
        per_supplier = [int(p * (1 << bits)) << (shift - bits) for p in suppliers]
        reduced = []
        for vector, cost in zip(vectors, costs, strict=True):
            paid = 0
            for j, q in enumerate(vector):
                if q:
                    paid += q * per_unit[j] + per_supplier[j]
            reduced.append(cost - paid)
        return cls(reduced, per_unit, per_supplier)

    def paid(self, deficit: Sequence[int], picks: Sequence[int]) -> int:
        return sum(d * p for d, p in zip(deficit, self.per_unit, strict=True)) + sum(
            k * p for k, p in zip(picks, self.per_supplier, strict=True)
        )

    def bound(self, members: Sequence[int], deficit: Sequence[int], picks: Sequence[int], size: int) -> int:
        """Least cost of ``size`` of ``members`` that give ``deficit`` (``picks`` suppliers per
        product at least): what they are paid plus the ``size`` lowest reduced costs."""
        lowest = sorted(self.reduced[i] for i in members)[:size]
        return self.paid(deficit, picks) + sum(lowest)

    def fixed_out(
        self, members: Sequence[int], targets: Sequence[int], picks: Sequence[int], size: int, best: int
    ) -> set[int]:
        """The members no cover of ``size`` that costs less than ``best`` can hold: with one of
        them in, the bound (it and the ``size - 1`` lowest of the others) reaches ``best``."""
        ranked = sorted(members, key=self.reduced.__getitem__)
        if len(ranked) < size:
            return set(members)
        base = self.paid(targets, picks) + sum(self.reduced[i] for i in ranked[:size])
        if base >= best:
            return set(members)
        last = self.reduced[ranked[size - 1]]
        return {i for i in ranked[size:] if base - last + self.reduced[i] >= best}
