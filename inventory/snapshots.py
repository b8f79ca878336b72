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

On SQLite (the demo) the same semantics run as bulk ORM operations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from oms.actors import Actor
from oms.errors import Conflict, InvalidInput, PermissionDenied
from oms.events import publish

from .choices import MovementKind
from .errors import UnknownSku
from .models import Location, Product, StockLevel, StockMovement

MAX_LISTED = 100  # offending SKUs listed in an error's ``extra`` (the count is always given)
_SKU_MAX_LENGTH = Product._meta.get_field("sku").max_length or 64
_IN_CHUNK = 5_000  # SQLite limits the parameters of one statement


class SnapshotBelowReserved(Conflict):
    default_code = "snapshot_below_reserved"
    default_message = "The snapshot would leave fewer units on hand than are reserved."


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


def _unknown_skus(skus: list[str], count: int) -> UnknownSku:
    return UnknownSku(
        f"{count} SKU(s) of the snapshot do not exist: {', '.join(skus[:5])}.",
        extra={"skus": skus[:MAX_LISTED], "count": count},
    )


def _below_reserved(rows: list[dict[str, Any]], count: int) -> SnapshotBelowReserved:
    return SnapshotBelowReserved(
        f"{count} SKU(s) would have fewer units on hand than are reserved; count them again or "
        f"release the reservations first.",
        extra={"items": rows[:MAX_LISTED], "count": count},
    )


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
    apply = _apply_postgresql if connection.vendor == "postgresql" else _apply_orm
    rows_changed, units_delta, raised_product_ids = apply(
        location=location,
        rows=rows,
        actor=actor,
        reason=(reason or "snapshot")[:300],
        reference=reference,
    )
    if raised_product_ids:
        publish(
            topic="stock.changed", payload={"location_id": location.pk, "product_ids": raised_product_ids}
        )
    return SnapshotResult(
        location=location.code,
        rows_changed=rows_changed,
        units_delta=units_delta,
        movements=rows_changed,
        reference=reference,
    )


# --- PostgreSQL: COPY into a temporary table, then set-based SQL ----------------------------------

_STAGE = "inventory_snapshot_stage"
_TARGET = "inventory_snapshot_target"
_DIFF = "inventory_snapshot_diff"


def _pg_statements() -> dict[str, sql.Composed]:
    """The statements, with table names composed as identifiers (never user input)."""
    names = {
        "stage": sql.Identifier(_STAGE),
        "target": sql.Identifier(_TARGET),
        "diff": sql.Identifier(_DIFF),
        "product": sql.Identifier(Product._meta.db_table),
        "stock": sql.Identifier(StockLevel._meta.db_table),
        "movement": sql.Identifier(StockMovement._meta.db_table),
        "listed": sql.Literal(MAX_LISTED),
    }
    templates = {
        "create_stage": "CREATE TEMP TABLE {stage} (sku text NOT NULL, on_hand integer NOT NULL) "
        "ON COMMIT DROP",
        "copy": "COPY {stage} (sku, on_hand) FROM STDIN",
        # Resolve SKUs once; unknown ones keep a NULL product_id.
        "create_target": "CREATE TEMP TABLE {target} ON COMMIT DROP AS "
        "SELECT s.sku, s.on_hand, p.id AS product_id "
        "FROM {stage} s LEFT JOIN {product} p ON p.sku = s.sku",
        "unknown": "SELECT sku, count(*) OVER () FROM {target} WHERE product_id IS NULL "
        "ORDER BY sku LIMIT {listed}",
        "analyze": "ANALYZE {target}",
        # SKUs counted above zero that the location does not stock yet: insert their rows at 0, so
        # what follows is a plain diff of existing rows (new rows are ours until commit).
        "insert_missing": "INSERT INTO {stock} "
        "(product_id, location_id, on_hand, reserved, safety_stock, updated_at) "
        "SELECT t.product_id, %(location)s, 0, 0, 0, %(now)s FROM {target} t "
        "WHERE t.on_hand > 0 AND NOT EXISTS (SELECT 1 FROM {stock} sl "
        "WHERE sl.location_id = %(location)s AND sl.product_id = t.product_id) "
        "ORDER BY t.product_id ON CONFLICT (product_id, location_id) DO NOTHING",
        "create_diff": "CREATE TEMP TABLE {diff} (id bigint PRIMARY KEY, product_id bigint NOT NULL, "
        "expected integer NOT NULL, reserved integer NOT NULL, target integer NOT NULL, "
        "in_snapshot boolean NOT NULL) ON COMMIT DROP",
        # The rows that change, locked in pk order and read at lock time.
        "lock_diff": "INSERT INTO {diff} (id, product_id, expected, reserved, target, in_snapshot) "
        "SELECT sl.id, sl.product_id, sl.on_hand, sl.reserved, COALESCE(t.on_hand, 0), "
        "t.product_id IS NOT NULL "
        "FROM {stock} sl LEFT JOIN {target} t ON t.product_id = sl.product_id "
        "WHERE sl.location_id = %(location)s AND sl.on_hand <> COALESCE(t.on_hand, 0) "
        "ORDER BY sl.id FOR UPDATE OF sl",
        "below_reserved": "SELECT p.sku, d.target, d.reserved, d.in_snapshot, count(*) OVER () "
        "FROM {diff} d JOIN {product} p ON p.id = d.product_id "
        "WHERE d.target < d.reserved ORDER BY p.sku LIMIT {listed}",
        "update": "UPDATE {stock} sl SET on_hand = d.target, updated_at = %(now)s "
        "FROM {diff} d WHERE sl.id = d.id",
        "ledger": "INSERT INTO {movement} (stock_level_id, product_id, location_id, kind, "
        "on_hand_delta, reserved_delta, on_hand_after, expected_on_hand, reason, reference, "
        "actor_type, actor_name, created_at) "
        "SELECT d.id, d.product_id, %(location)s, %(kind)s, d.target - d.expected, 0, d.target, "
        "d.expected, %(reason)s, %(reference)s, %(actor_type)s, %(actor_name)s, %(now)s "
        "FROM {diff} d ORDER BY d.id",
        "totals": "SELECT count(*), COALESCE(sum(target - expected), 0) FROM {diff}",
        "raised": "SELECT product_id FROM {diff} WHERE target > expected ORDER BY product_id",
        # ON COMMIT DROP cleans up anyway; dropping now lets one transaction apply several snapshots.
        "drop": "DROP TABLE {diff}, {target}, {stage}",
    }
    return {key: sql.SQL(template).format(**names) for key, template in templates.items()}


def _apply_postgresql(
    *, location: Location, rows: Sequence[tuple[str, int]], actor: Actor, reason: str, reference: str
) -> tuple[int, int, list[int]]:
    q = _pg_statements()
    params: dict[str, Any] = {
        "location": location.pk,
        "now": timezone.now(),
        "kind": MovementKind.COUNT.value,
        "reason": reason,
        "reference": reference[:100],
        "actor_type": actor.type,
        "actor_name": actor.name[:200],
    }
    with connection.cursor() as cursor:
        cursor.execute(q["create_stage"])
        with cursor.cursor.copy(q["copy"]) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(q["create_target"])
        cursor.execute(q["unknown"])
        unknown = cursor.fetchall()
        if unknown:
            raise _unknown_skus([sku for sku, _ in unknown], unknown[0][1])
        cursor.execute(q["analyze"])  # temporary tables get no statistics otherwise
        cursor.execute(q["insert_missing"], params)
        cursor.execute(q["create_diff"])
        cursor.execute(q["lock_diff"], params)
        cursor.execute(q["below_reserved"])
        below = cursor.fetchall()
        if below:
            raise _below_reserved(
                [
                    {"sku": sku, "on_hand": target, "reserved": reserved, "in_snapshot": in_snapshot}
                    for sku, target, reserved, in_snapshot, _ in below
                ],
                below[0][4],
            )
        cursor.execute(q["update"], params)
        cursor.execute(q["ledger"], params)
        cursor.execute(q["totals"])
        rows_changed, units_delta = cursor.fetchone()
        cursor.execute(q["raised"])
        raised = [product_id for (product_id,) in cursor.fetchall()]
        cursor.execute(q["drop"])
    return int(rows_changed), int(units_delta), raised


# --- SQLite (and any other database): the same diff with bulk ORM operations ------------------------


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _apply_orm(
    *, location: Location, rows: Sequence[tuple[str, int]], actor: Actor, reason: str, reference: str
) -> tuple[int, int, list[int]]:
    skus = [sku for sku, _ in rows]
    product_ids: dict[str, int] = {}
    for chunk in _chunks(skus):
        product_ids.update(Product.objects.filter(sku__in=chunk).values_list("sku", "pk"))
    unknown = sorted(set(skus) - product_ids.keys())
    if unknown:
        raise _unknown_skus(unknown, len(unknown))
    targets = {product_ids[sku]: on_hand for sku, on_hand in rows}

    existing = list(
        StockLevel.objects.select_for_update()
        .filter(location=location)
        .order_by("pk")
        .values_list("pk", "product_id", "on_hand", "reserved")
    )
    stocked = {product_id for _, product_id, _, _ in existing}
    # (stock_level_id or None, product_id, expected, reserved, target)
    changes: list[tuple[int | None, int, int, int, int]] = [
        (pk, product_id, on_hand, reserved, targets.get(product_id, 0))
        for pk, product_id, on_hand, reserved in existing
        if on_hand != targets.get(product_id, 0)
    ]
    changes += [
        (None, product_id, 0, 0, target)
        for product_id, target in targets.items()
        if target > 0 and product_id not in stocked
    ]
    below = [change for change in changes if change[4] < change[3]]
    if below:
        sku_of = dict(Product.objects.filter(pk__in=[c[1] for c in below]).values_list("pk", "sku"))
        listed: list[dict[str, Any]] = sorted(
            (
                {
                    "sku": sku_of[product_id],
                    "on_hand": target,
                    "reserved": reserved,
                    "in_snapshot": product_id in targets,
                }
                for _, product_id, _, reserved, target in below
            ),
            key=lambda item: str(item["sku"]),
        )
        raise _below_reserved(listed, len(listed))

    now = timezone.now()
    new_levels = StockLevel.objects.bulk_create(
        [
            StockLevel(product_id=product_id, location=location, on_hand=target)
            for pk, product_id, _, _, target in changes
            if pk is None
        ]
    )
    level_ids = {level.product_id: level.pk for level in new_levels}
    StockLevel.objects.bulk_update(
        [
            StockLevel(pk=pk, on_hand=target, updated_at=now)
            for pk, _, _, _, target in changes
            if pk is not None
        ],
        ["on_hand", "updated_at"],
        batch_size=500,
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                stock_level_id=pk if pk is not None else level_ids[product_id],
                product_id=product_id,
                location=location,
                kind=MovementKind.COUNT,
                on_hand_delta=target - expected,
                on_hand_after=target,
                expected_on_hand=expected,
                reason=reason,
                reference=reference[:100],
                actor_type=actor.type,
                actor_name=actor.name[:200],
            )
            for pk, product_id, expected, _, target in changes
        ],
        batch_size=1_000,
    )
    units_delta = sum(target - expected for _, _, expected, _, target in changes)
    raised = sorted(product_id for _, product_id, expected, _, target in changes if target > expected)
    return len(changes), units_delta, raised
