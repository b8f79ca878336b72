"""Top-level stock actions for the API, admin and returns: adjust (receipt, damage), count, the
adjustment endpoint, safety stock. Each nests safely in a caller's transaction.

Every change that makes units available (an adjustment up, a count above what was expected, a lower
safety stock; snapshots in ``inventory.snapshots``) publishes ``stock.changed`` with the location and
the product ids inside the transaction; subscribers (backorder allocation) run after it commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from inventory.choices import MovementKind
from inventory.errors import CountBelowReserved, StockLevelNotFound, StockWouldGoNegative
from inventory.models import Location, Product, StockLevel, StockMovement
from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from oms.events import publish


def check_quantity(
    value: int, *, field: str = "quantity", allow_zero: bool = False, allow_negative: bool = False
) -> int:
    """``value`` if it is an allowed quantity (an integer within OMS_MAX_QUANTITY), else InvalidInput.

    Zero and negative values are refused unless ``allow_zero`` / ``allow_negative``; the error
    names ``field``."""
    limit = settings.OMS_MAX_QUANTITY
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer.", code="invalid_quantity", extra={"field": field})
    if abs(value) > limit:
        raise InvalidInput(
            f"{field} must be at most {limit} in absolute value.",
            code="invalid_quantity",
            extra={"field": field, "max": limit},
        )
    if value < 0 and not allow_negative:
        raise InvalidInput(f"{field} must not be negative.", code="invalid_quantity", extra={"field": field})
    if value == 0 and not allow_zero:
        raise InvalidInput(f"{field} must not be zero.", code="invalid_quantity", extra={"field": field})
    return value


def _stock_level_for_update(*, product: Product, location: Location) -> StockLevel:
    """The (product, location) row, created at zero if missing, locked for this transaction."""
    level, _ = StockLevel.objects.get_or_create(product=product, location=location)
    return StockLevel.objects.select_for_update().get(pk=level.pk)


def _stock_changed(*, location_id: int, product_ids: Iterable[int]) -> None:
    """Announce, once the transaction commits, that units became available (backorders wait)."""
    ids = sorted(set(product_ids))
    if ids:
        publish(topic="stock.changed", payload={"location_id": location_id, "product_ids": ids})


@dataclass(frozen=True)
class _Entry:
    """Who changes which SKU where, and why: what every ledger row of a stock action repeats."""

    product: Product
    location: Location
    actor: Actor
    reason: str
    reference: str

    def record(
        self, level: StockLevel, *, kind: str, on_hand_delta: int, expected_on_hand: int | None = None
    ) -> StockMovement:
        """Write the ledger row of what ``level`` just became; a rise announces ``stock.changed``."""
        movement = StockMovement.objects.create(
            stock_level=level,
            product=self.product,
            location=self.location,
            kind=kind,
            on_hand_delta=on_hand_delta,
            on_hand_after=level.on_hand,
            expected_on_hand=expected_on_hand,
            reason=self.reason[:300],
            reference=self.reference[:100],
            actor_type=self.actor.type,
            actor_name=self.actor.name[:200],
        )
        if on_hand_delta > 0:
            _stock_changed(location_id=self.location.pk, product_ids=[self.product.pk])
        return movement


def _stock_adjust(entry: _Entry, *, delta: int, kind: str) -> tuple[StockLevel, StockMovement]:
    check_quantity(delta, field="delta", allow_negative=True)
    product, location = entry.product, entry.location
    level, _ = StockLevel.objects.get_or_create(product=product, location=location)
    # one conditional UPDATE: on_hand + delta >= reserved (and so >= 0)
    updated = StockLevel.objects.filter(pk=level.pk, on_hand__gte=F("reserved") - delta).update(
        on_hand=F("on_hand") + delta, updated_at=Now()
    )
    level.refresh_from_db()
    if updated == 0:
        raise StockWouldGoNegative(
            f"Cannot remove {-delta} units of {product.sku} at {location.code}: {level.on_hand} on hand, "
            f"{level.reserved} reserved.",
            extra={
                "sku": product.sku,
                "location": location.code,
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "delta": delta,
            },
        )
    return level, entry.record(level, kind=kind, on_hand_delta=delta)


@transaction.atomic
def stock_adjust(
    *,
    product: Product,
    location: Location,
    delta: int,
    reason: str,
    actor: Actor,
    kind: str = MovementKind.ADJUSTMENT,
    reference: str = "",
) -> StockLevel:
    """Add (receipt, restock) or remove (damage, loss) units on hand. Never below the reserved units.

    An increase announces ``stock.changed`` (after commit) so backordered orders are retried."""
    entry = _Entry(product=product, location=location, actor=actor, reason=reason, reference=reference)
    level, _ = _stock_adjust(entry, delta=delta, kind=kind)
    return level


def _stock_count(entry: _Entry, *, on_hand: int) -> tuple[StockLevel, StockMovement]:
    check_quantity(on_hand, field="on_hand", allow_zero=True)
    product, location = entry.product, entry.location
    level = _stock_level_for_update(product=product, location=location)
    if on_hand < level.reserved:
        raise CountBelowReserved(
            f"Counted {on_hand} of {product.sku} at {location.code}, but {level.reserved} are reserved.",
            extra={
                "sku": product.sku,
                "location": location.code,
                "reserved": level.reserved,
                "on_hand": on_hand,
            },
        )
    expected = level.on_hand
    level.on_hand = on_hand
    level.save(update_fields=["on_hand", "updated_at"])
    movement = entry.record(
        level, kind=MovementKind.COUNT, on_hand_delta=on_hand - expected, expected_on_hand=expected
    )
    return level, movement


@transaction.atomic
def stock_count(
    *, product: Product, location: Location, on_hand: int, reason: str, actor: Actor, reference: str = ""
) -> StockLevel:
    """A cycle count: set on_hand to what was counted. Refused below the units already reserved.

    A count that raises on_hand announces ``stock.changed`` (after commit)."""
    entry = _Entry(product=product, location=location, actor=actor, reason=reason, reference=reference)
    level, _ = _stock_count(entry, on_hand=on_hand)
    return level


@transaction.atomic
def stock_adjustment_apply(
    *,
    product: Product,
    location: Location,
    actor: Actor,
    reason: str,
    delta: int | None = None,
    on_hand: int | None = None,
) -> StockMovement:
    """``POST /inventory/adjustments``: a relative change (``delta``) or a count (``on_hand``) of one
    SKU at one location, by a manager or an associate of that location. Returns the ledger row
    (``movement.stock_level`` is the row after the change)."""
    if not actor.may_act_at(location.pk):
        raise PermissionDenied(
            f"You may not change stock at {location.code}.",
            code="location_not_permitted",
            extra={"location": location.code},
        )
    if (delta is None) == (on_hand is None):
        raise InvalidInput(
            "Give exactly one of delta (a change) or on_hand (a count).",
            code="delta_or_on_hand_required",
        )
    entry = _Entry(product=product, location=location, actor=actor, reason=reason, reference="")
    if delta is not None:
        level, movement = _stock_adjust(entry, delta=delta, kind=MovementKind.ADJUSTMENT)
    else:
        assert on_hand is not None  # noqa: S101 (narrowing for mypy)
        level, movement = _stock_count(entry, on_hand=on_hand)
    movement.stock_level = level
    return movement


@transaction.atomic
def stock_safety_set(*, stock_level_id: int, safety_stock: int, actor: Actor) -> StockLevel:
    """Set the units held back from online sale. Lowering it frees units: announce ``stock.changed``."""
    check_quantity(safety_stock, field="safety_stock", allow_zero=True)
    level = (
        StockLevel.objects.select_for_update()
        .select_related("product", "location")
        .filter(pk=stock_level_id)
        .first()
    )
    if level is None:
        raise StockLevelNotFound(f"No stock row {stock_level_id}.", extra={"id": stock_level_id})
    lowered = safety_stock < level.safety_stock
    level.safety_stock = safety_stock
    level.save(update_fields=["safety_stock", "updated_at"])
    if lowered:
        _stock_changed(location_id=level.location_id, product_ids=[level.product_id])
    return level
