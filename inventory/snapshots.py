"""Snapshots: a full count of one location, of any size, applied as one set-based diff.

``stock_snapshot_apply`` sets ``on_hand`` of every SKU at the location to what was counted, in one
transaction, and writes one ``count`` ledger row (with ``expected_on_hand``) per row it changes:

* ``reserved`` is never touched. A row whose count is below its reserved units is refused (409
  ``snapshot_below_reserved``), and so is a SKU of the location missing from the snapshot while it
  has units reserved (it would go to 0 on hand under its reservations). Nothing changes then.
* SKUs of the location absent from the snapshot go to 0 on hand.
* Unknown SKUs (422 ``unknown_sku``), a SKU given twice (422 ``duplicate_sku``) and bad quantities
  (422 ``invalid_quantity``) are refused before anything is written.
* Rows that go up announce ``stock.changed`` (after commit), so backorders are retried.

On PostgreSQL the items are staged with ``COPY`` into a temporary table (``ON COMMIT DROP``) and the
diff is a handful of statements whatever the size (100,000 rows in one transaction; see
``bench/snapshot.py``). Locking: missing stock rows are inserted first (at 0, invisible to others
until commit), then exactly the rows whose ``on_hand`` differs from the count are locked in
primary-key order (``SELECT ... ORDER BY id FOR UPDATE``, re-read at lock time) and the checks and
updates use those locked values. A row another transaction changes between the statement's
snapshot and our lock is re-checked by PostgreSQL; a row that only starts to differ after our
statement began is left as the other transaction made it, as if that change came after the count.

On SQLite (the demo) the same semantics run as bulk ORM operations. Both writes live in
``inventory/writes.py`` (``stock_snapshot_statements`` and its fallback ``stock_snapshot_rows``);
this module checks the snapshot, chooses the path and announces the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from oms.events import publish

from .errors import SNAPSHOT_MAX_LISTED as MAX_LISTED
from .errors import SnapshotBelowReserved
from .models import Location, Product
from .writes import stock_snapshot_rows, stock_snapshot_statements

__all__ = ["MAX_LISTED", "SnapshotBelowReserved", "SnapshotResult", "stock_snapshot_apply"]

_SKU_MAX_LENGTH = Product._meta.get_field("sku").max_length or 64


@dataclass(frozen=True)
class SnapshotResult:
    location: str
    rows_changed: int
    units_delta: int
    movements: int
    reference: str


def _normalise(items: Iterable[Any]) -> list[tuple[str, int]]:
    """``[(sku, on_hand)]`` from pairs or ``{"sku", "on_hand"}`` mappings, checked in one pass."""
    limit = settings.OMS_MAX_QUANTITY
    rows: list[tuple[str, int]] = []
    bad: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            sku, on_hand = item.get("sku"), item.get("on_hand")
        else:
            sku, on_hand = item
        if not isinstance(sku, str) or not sku or len(sku) > _SKU_MAX_LENGTH:
            bad.append({"index": index, "sku": sku, "error": "invalid_sku"})
        elif isinstance(on_hand, bool) or not isinstance(on_hand, int) or not 0 <= on_hand <= limit:
            bad.append({"index": index, "sku": sku, "error": "invalid_quantity"})
        else:
            rows.append((sku, on_hand))
    if bad:
        raise InvalidInput(
            f"{len(bad)} item(s) are not a SKU with an on_hand between 0 and {limit}.",
            code="invalid_quantity",
            extra={"items": bad[:MAX_LISTED], "count": len(bad), "max": limit},
        )
    seen: set[str] = set()
    duplicates: set[str] = set()
    for sku, _ in rows:
        if sku in seen:
            duplicates.add(sku)
        seen.add(sku)
    if duplicates:
        listed = sorted(duplicates)
        raise InvalidInput(
            f"{len(listed)} SKU(s) appear more than once in the snapshot: {', '.join(listed[:5])}.",
            code="duplicate_sku",
            extra={"skus": listed[:MAX_LISTED], "count": len(listed)},
        )
    return rows


@transaction.atomic(durable=True)
def stock_snapshot_apply(
    *, location: Location, items: Iterable[Any], actor: Actor, reason: str = ""
) -> SnapshotResult:
    """Apply a full count of ``location``: ``items`` are ``(sku, on_hand)`` pairs or mappings."""
    if not actor.may_act_at(location.pk):
        raise PermissionDenied(
            f"You may not count stock at {location.code}.",
            code="location_not_permitted",
            extra={"location": location.code},
        )
    rows = _normalise(items)
    reference = f"snapshot:{uuid.uuid4().hex}"
    apply = stock_snapshot_statements if connection.vendor == "postgresql" else stock_snapshot_rows
    applied = apply(
        location_id=location.pk,
        rows=rows,
        actor=actor,
        reason=(reason or "snapshot")[:300],
        reference=reference,
    )
    if applied.raised_product_ids:
        publish(
            topic="stock.changed",
            payload={"location_id": location.pk, "product_ids": applied.raised_product_ids},
        )
    return SnapshotResult(
        location=location.code,
        rows_changed=applied.rows_changed,
        units_delta=applied.units_delta,
        movements=applied.rows_changed,
        reference=reference,
    )
