"""What the services of fulfilment share: the router's actor, the order statuses routing leaves
alone, and what a ``routed`` event says (``RouteNote``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inventory.sourcing import CandidateLocation
from oms.actors import Actor
from orders.choices import OrderStatus

if TYPE_CHECKING:
    from fulfillment.models import FulfillmentOrder

ROUTER = Actor.system("router")
NOT_ROUTED = frozenset(
    {OrderStatus.ON_HOLD, OrderStatus.CANCELLED, OrderStatus.COMPLETED, OrderStatus.PARTIALLY_CANCELLED}
)


@dataclass(frozen=True)
class RouteNote:
    """What the ``routed`` events of a routing say: the sourcing reason, and the candidate
    locations routing read (their codes name the locations: no query for a name)."""

    reason: str = ""
    locations: Mapping[int, CandidateLocation] = field(default_factory=dict)

    def then(self, other: RouteNote) -> RouteNote:
        """This note, its reason empty filled by ``other``'s, and both notes' locations."""
        return RouteNote(reason=self.reason or other.reason, locations={**other.locations, **self.locations})

    def sent(self, fo: FulfillmentOrder) -> str:
        """ "Fulfilment order WEB-0000042-1 sent to wh-hn. <why>": the location by its code, and a
        reason even when routing re-planned nothing (the units stay where they are held)."""
        location = self.locations.get(fo.location_id)
        code = location.code if location is not None else fo.location.code
        if not self.reason:
            return f"Fulfilment order {fo.number} sent to {code}, where its units are held."
        return f"Fulfilment order {fo.number} sent to {code}. {self.reason}"[:500]
