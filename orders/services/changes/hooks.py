"""What a change needs to know of the work on the order's held units, asked of the apps that do it
(fulfilment registers, so orders imports nothing of it): for each active reservation routed to a
location, whether the location has not accepted it yet (``QUEUED``: the change may take it back)
or has started on it (``STARTED``: it may not). A reservation no one reports is ``UNROUTED``."""

from __future__ import annotations

from collections.abc import Callable

UNROUTED, QUEUED, STARTED = "unrouted", "queued", "started"

WorkStates = Callable[[int], dict[int, str]]  # order id -> {reservation id: QUEUED | STARTED}

_readers: list[WorkStates] = []


def change_work_register(reader: WorkStates) -> None:
    """Register a reader of the work states of an order's reservations. Idempotent."""
    if reader not in _readers:
        _readers.append(reader)


def reservation_work_states(*, order_id: int) -> dict[int, str]:
    """Every registered reader's answer for the order, merged (``STARTED`` wins)."""
    states: dict[int, str] = {}
    for reader in _readers:
        for reservation_id, state in reader(order_id).items():
            if states.get(reservation_id) != STARTED:
                states[reservation_id] = state
    return states
