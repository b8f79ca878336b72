"""What a change needs of the apps that work on the order's held units (fulfilment registers, so
orders imports nothing of it):

- the work states of the order's active reservations (``change_work_register``: a column of the
  reservations' read, so it costs no statement of its own): for each one routed to a location,
  whether the location has not accepted it yet (``QUEUED``: the change may take it back) or has
  started on it (``STARTED``: it may not). A reservation no one reports is ``UNROUTED``;
- in the change's transaction, once its rows are decided (``change_apply_register``): the work
  adjusted to the units the reservations keep, and the order's status set, told what the change
  holds in memory (``ChangeApplied``) so that nothing is read again, their writes added to the
  change's write batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from oms.actors import Actor
from oms.batch import WriteBatch
from orders.models import Order, OrderLine, Reservation

UNROUTED, QUEUED, STARTED = "unrouted", "queued", "started"


@dataclass(frozen=True)
class WorkStateColumn:
    """Where an app's work on a reservation stands, as a column of the reservations' read:
    ``expression`` (annotated on ``Reservation``) and ``state_of`` (its value -> ``QUEUED``,
    ``STARTED``, or None when the app is not working on it)."""

    expression: Any
    state_of: Callable[[Any], str | None]


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

_columns: list[WorkStateColumn] = []
_appliers: list[ChangeApplier] = []


def change_work_register(column: WorkStateColumn) -> None:
    """Register a column telling the work state of a reservation. Idempotent."""
    if column not in _columns:
        _columns.append(column)


def change_apply_register(applier: ChangeApplier) -> None:
    """Register what runs in every change's transaction once its rows are decided. Idempotent."""
    if applier not in _appliers:
        _appliers.append(applier)


def with_work_states(reservations: QuerySet[Reservation]) -> QuerySet[Reservation]:
    """The reservations' read with every registered column (``work_state`` tells each one's)."""
    return reservations.annotate(
        **{f"_work_state_{i}": column.expression for i, column in enumerate(_columns)}
    )


def work_state(reservation: Reservation) -> str:
    """The work state of a reservation read ``with_work_states``: ``STARTED`` wins; ``UNROUTED``
    when no column reports one."""
    states = {column.state_of(getattr(reservation, f"_work_state_{i}")) for i, column in enumerate(_columns)}
    return STARTED if STARTED in states else QUEUED if QUEUED in states else UNROUTED


def change_applied(change: ChangeApplied) -> None:
    """Run every registered applier, in the order they registered."""
    for applier in _appliers:
        applier(change)
