"""Ship-to-store: where the units a pickup store lacks could come from by transfer, and when they
could arrive. Pure over the candidates placement already read (the sourcing engine asked as for a
parcel to the store: ship-capable locations, fewest first, then nearest the store), except the
earliest day, which reads the sources' lead times."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from inventory.models import Location
from inventory.sourcing import (
    CandidateLocation,
    CandidateStock,
    Need,
    SourcingPlan,
    SourcingRequest,
    plan_sourcing,
)
from inventory.sourcing.types import SHIP

from .services import transfer_expected_on


def transfer_plan_for_pickup(
    *,
    needs: Sequence[Need],
    plan: SourcingPlan,
    stock: Sequence[CandidateStock],
    locations: Mapping[int, CandidateLocation],
    request: SourcingRequest,
) -> SourcingPlan | None:
    """The sources of the units a pickup ``plan`` left short, or None when some cannot come by
    transfer either. The store itself (and its reservations in ``plan``) is left out."""
    short = [
        Need(key=n.key, product_id=n.product_id, sku=n.sku, quantity=plan.shortages[n.key])
        for n in needs
        if plan.shortages.get(n.key)
    ]
    if not short or request.pickup_location_id is None:
        return None
    store = request.pickup_location_id
    held = {(a.stock_level_id): a.quantity for a in plan.allocations}
    # What the store's own plan holds is not offered again (it is the store's anyway: excluded).
    free = [s._replace(available=s.available - held.get(s.stock_level_id, 0)) for s in stock]
    sources = plan_sourcing(
        needs=short,
        stock=free,
        locations=dict(locations),
        request=SourcingRequest(
            method=SHIP,
            origin=request.origin,
            ship_from_stores=True,
            excluded_location_ids=frozenset({store, *request.excluded_location_ids}),
        ),
    )
    return None if sources.shortages else sources


def transfer_earliest_on(plan: SourcingPlan) -> datetime.date:
    """The day the last of a transfer plan's units could arrive (each source's lead time)."""
    sources = Location.objects.filter(pk__in={a.location_id for a in plan.allocations})
    return max(transfer_expected_on(source) for source in sources)
