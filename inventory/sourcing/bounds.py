"""Bounds on the locations a cover still needs, on bitsets of locations (bit i: the i-th).

The *incidence* bound: every product short needs at least ``picks[j]`` suppliers in the cover (the
fewest of its largest supplies that close it), and a location counts once for each product short
that it holds. So the products a cover's locations hold, summed, reach the sum of the picks. On
fragmented stock (a location holds one or two products) it is what proves the count: the units
short over the most units a location gives says 6 where 8 are needed, the incidence bound says 8.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def breadth_levels(supplier_sets: Iterable[int]) -> list[int]:
    """``levels[b]``: the locations that are in ``b + 1`` or more of the sets (a unary counter
    per location, kept as bitsets: one OR and one AND per set and level)."""
    levels: list[int] = []
    for suppliers in supplier_sets:
        carry = suppliers
        for b, level in enumerate(levels):
            levels[b] = level | carry
            carry &= level
        if carry:
            levels.append(carry)
    return levels


def most_held(levels: Sequence[int], count: int) -> int:
    """The most products (with multiplicity) that ``count`` locations can hold: the breadths of
    the ``count`` broadest, summed."""
    return sum(min(count, level.bit_count()) for level in levels)


def incidence_floor(levels: Sequence[int], picks: int, room: int) -> int | None:
    """The fewest products short a location must hold to be in a cover of ``room`` more locations
    (the others hold at most what the ``room - 1`` broadest hold), or None when even the ``room``
    broadest hold fewer than ``picks``."""
    if room <= 0 or most_held(levels, room) < picks:
        return 0 if picks <= 0 else None
    return max(0, picks - most_held(levels, room - 1))
