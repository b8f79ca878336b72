"""Ship-to-store at placement: the units a pickup store lacks (``allow_transfer``) are reserved at
the sources the transfer plan chose and sent to the store by one transfer order per source, in the
order's transaction (docs/transfers.md). The order's lines count them as backordered: they wait for
stock at the store, which the transfer brings; fulfilment holds them for the order on receipt."""

from __future__ import annotations

from collections import Counter, defaultdict

from inventory.models import Location, Product
from inventory.sourcing import Allocation, SourcingPlan
from inventory.transfers.services import TransferItem, transfer_create_for
from oms.actors import Actor
from orders.models import Order


def transfers_for_pickup(*, order: Order, plan: SourcingPlan, store: Location, actor: Actor) -> list[int]:
    """Create the transfers of ``plan`` (sources -> ``store``) for ``order``; their ids. Raises
    InsufficientStock when a source lost the units since the plan was made (the caller re-plans)."""
    by_source: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in plan.allocations:
        by_source[allocation.location_id].append(allocation)
    sources = Location.objects.in_bulk(list(by_source))
    products = Product.objects.in_bulk(list({a.product_id for a in plan.allocations}))
    created: list[int] = []
    for source_id in sorted(by_source):
        quantities: Counter[int] = Counter()
        for allocation in by_source[source_id]:
            quantities[allocation.product_id] += allocation.quantity
        transfer = transfer_create_for(
            source=sources[source_id],
            destination=store,
            items=[TransferItem(product=products[pid], quantity=q) for pid, q in sorted(quantities.items())],
            actor=actor,
            note=f"Ship-to-store for order {order.number}",
            order_id=order.pk,
            order_number=order.number,
        )
        created.append(transfer.pk)
    return created
