"""What a change needs of the apps that work on the order's held units (fulfilment registers, so
orders imports nothing of it):

- the work states of the order's active reservations (``change_work_register``): for each one
  routed to a location, whether the location has not accepted it yet (``QUEUED``: the change may
  take it back) or has started on it (``STARTED``: it may not). A reservation no one reports is
  ``UNROUTED``;
- in the change's transaction, once its rows are decided (``change_apply_register``): the work
  adjusted to the units the reservations keep, and the order's status set, told what the change
  holds in memory (``ChangeApplied``) so that nothing is read again, their writes added to the
  change's write batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from oms.actors import Actor
from oms.batch import WriteBatch
from orders.models import Order, OrderLine

UNROUTED, QUEUED, STARTED = "unrouted", "queued", "started"

WorkStates = Callable[[int], dict[int, str]]  # order id -> {reservation id: QUEUED | STARTED}


@dataclass(frozen=True)
class ChangeApplied:
    """A change being written, as the appliers see it: the locked ``order`` (its new fields set),
    all its ``lines`` as the change leaves them, the routed reservations it made smaller
    (``reservations``: id -> units kept, 0 for none), whether some held units are not routed, the
    locations that confirmed the change (their accepted work may change) and the batch that writes
    the change's rows once, at its end."""

    order: Order
    lines: Sequence[OrderLine]
    reservations: dict[int, int]
    has_unrouted: bool
    actor: Actor
    confirmed_location_ids: frozenset[int]
    batch: WriteBatch


ChangeApplier = Callable[[ChangeApplied], None]

_readers: list[WorkStates] = []
_appliers: list[ChangeApplier] = []


def change_work_register(reader: WorkStates) -> None:
    """Register a reader of the work states of an order's reservations. Idempotent."""
    if reader not in _readers:
        _readers.append(reader)


def change_apply_register(applier: ChangeApplier) -> None:
    """Register what runs in every change's transaction once its rows are decided. Idempotent."""
    if applier not in _appliers:
        _appliers.append(applier)


def reservation_work_states(*, order_id: int) -> dict[int, str]:
    """Every registered reader's answer for the order, merged (``STARTED`` wins)."""
    states: dict[int, str] = {}
    for reader in _readers:
        for reservation_id, state in reader(order_id).items():
            if states.get(reservation_id) != STARTED:
                states[reservation_id] = state
    return states


def change_applied(change: ChangeApplied) -> None:
    """Run every registered applier, in the order they registered."""
    for applier in _appliers:
        applier(change)
