"""What the exact search starts from: bitsets of what each location gives, the reduction by
dominance, the greedy cover (the first upper bound) and one integer cost per location whose sums
order sets of equal size as the documented objective does."""

from __future__ import annotations

from collections.abc import Sequence

from .types import Site


def bitsets(vectors: Sequence[tuple[int, ...]], targets: Sequence[int]) -> list[list[int]]:
    """levels[j][q]: the locations (bit i = the i-th) that give at least q units of product j
    (level 0 is empty). Each location is set once per product, at the units it gives; the levels
    are then the ORs from the top down."""
    size = (len(vectors) + 8) // 8
    raw = [[bytearray(size) for _ in range(t + 1)] for t in targets]
    for i, vector in enumerate(vectors):
        byte, bit = i >> 3, 1 << (i & 7)
        for j, q in enumerate(vector):
            if q:
                raw[j][q][byte] |= bit
    out = []
    for exact in raw:
        levels = [0] * len(exact)
        above = 0
        for q in range(len(exact) - 1, 0, -1):
            above |= int.from_bytes(exact[q], "little")
            levels[q] = above
        out.append(levels)
    return out


def _redundant(
    dominators: int, vector: tuple[int, ...], levels: list[list[int]], targets: Sequence[int]
) -> bool:
    """Do the dominators alone give every product this location holds (up to the targets)?"""
    count = dominators.bit_count()
    for j, q in enumerate(vector):
        if not q or count * q >= targets[j]:
            continue
        given = sum((dominators & levels[j][level]).bit_count() for level in range(1, targets[j] + 1))
        if given < targets[j]:
            return False
    return True


def reduce_sites(vectors: Sequence[tuple[int, ...]], targets: Sequence[int]) -> list[int]:
    """The positions of ``vectors`` (in the order of preference) that the best set can hold; see
    the module's step 1."""
    levels = bitsets(vectors, targets)
    ruled_out = 0
    kept: list[int] = []
    for i, vector in enumerate(vectors):
        dominators = (1 << i) - 1
        for j, q in enumerate(vector):
            if q:
                dominators &= levels[j][q]
                if not dominators:
                    break
        if dominators and (dominators & ruled_out or _redundant(dominators, vector, levels, targets)):
            ruled_out |= 1 << i
            continue
        if any(vector):
            kept.append(i)
    return kept


def set_costs(sites: Sequence[Site]) -> list[int]:
    """One integer per location whose sums order sets of equal size as the engine's objective does: total
    metres, then total priority (higher first), then sorted ids (a lower id weighs more: of two
    sets, the one holding the lowest id that only one of them holds comes first)."""
    n = len(sites)
    if not n:
        return []
    priorities = [site.rank[1] for site in sites]  # -priority
    low = min(priorities)
    spread = max(priorities) - low
    id_shift = n + n.bit_length() + 1  # room for the sum of n id weights below 2**n each
    priority_shift = (n * spread + 1).bit_length()  # room for the sum of n priority terms
    order = {
        site.location.id: position for position, site in enumerate(sorted(sites, key=lambda s: s.location.id))
    }
    return [
        (((site.rank[0] << priority_shift) + (site.rank[1] - low)) << id_shift)
        + ((1 << n) - (1 << (n - 1 - order[site.location.id])))
        for site in sites
    ]


def metres_shift(sites: Sequence[Site]) -> int:
    n = len(sites)
    if not n:
        return 0
    priorities = [site.rank[1] for site in sites]
    spread = max(priorities) - min(priorities)
    return (n * spread + 1).bit_length() + n + n.bit_length() + 1


def greedy_cover(sites: Sequence[Site], targets: Sequence[int]) -> list[Site]:
    """Repeatedly take the location that covers most of what is still missing (then the best
    rank), then drop, farthest first, any the others cover without."""
    deficit = list(targets)
    chosen: list[Site] = []
    left = list(sites)  # already in rank order, so the first of equal gains is the best ranked
    while any(deficit) and left:
        best_index, best_gain = -1, 0
        for index, site in enumerate(left):
            gain = sum(min(d, s) for d, s in zip(deficit, site.supply, strict=True) if d)
            if gain > best_gain:
                best_index, best_gain = index, gain
        if best_index < 0:
            break
        site = left.pop(best_index)
        chosen.append(site)
        deficit = [max(0, d - s) for d, s in zip(deficit, site.supply, strict=True)]
    for site in sorted(chosen, key=lambda s: s.rank, reverse=True):
        others = [s for s in chosen if s is not site]
        if all(sum(s.supply[j] for s in others) >= t for j, t in enumerate(targets)):
            chosen = others
    return chosen
