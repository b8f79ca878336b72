"""Writes to stock. Every counter change is one conditional UPDATE (or a pk-ordered lock) backed by
the CHECK constraints on StockLevel, and writes its StockMovement ledger row(s) in the same
transaction.

Locking policy: stock rows are touched in primary-key order within a transaction, so two
transactions that need the same rows never wait on each other in opposite orders.

``stock_reserve``, ``stock_release`` and ``stock_consume`` compose into a caller's transaction
(order placement, routing, shipping): they raise on failure and the caller's transaction rolls back.
``stock_adjust`` and ``stock_count`` are top-level actions for the API and admin, and nest safely.

Every change that makes units available (an adjustment up, a count above what was expected, a lower
safety stock; snapshots in ``snapshots.py``) publishes ``stock.changed`` with the location and the
product ids inside the transaction; subscribers (backorder allocation) run after it commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Now

from oms.actors import Actor
from oms.authentication import STAFF_KEY_PREFIX
from oms.choices import StaffRole
from oms.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from oms.events import publish
from oms.models import StaffProfile, generate_key, hash_key
from oms.services import check_currency

from .choices import LocationKind, MovementKind
from .errors import (
    CountBelowReserved,
    InsufficientStock,
    StockLevelNotFound,
    StockWouldGoNegative,
    UnknownLocation,
    UnknownSku,
)
from .models import Location, Product, StockLevel, StockMovement


@dataclass(frozen=True)
class StockLine:
    """A quantity of one StockLevel row (what to reserve, release or consume)."""

    stock_level_id: int
    product_id: int
    location_id: int
    quantity: int


def _merge(lines: Iterable[StockLine]) -> list[StockLine]:
    """Sum quantities per stock row and sort by pk (the locking order)."""
    totals: dict[int, int] = defaultdict(int)
    first: dict[int, StockLine] = {}
    for line in lines:
        if line.quantity <= 0:
            raise InvalidInput("Quantities must be positive.", code="invalid_quantity")
        totals[line.stock_level_id] += line.quantity
        first.setdefault(line.stock_level_id, line)
    return [
        StockLine(
            stock_level_id=pk,
            product_id=first[pk].product_id,
            location_id=first[pk].location_id,
            quantity=totals[pk],
        )
        for pk in sorted(totals)
    ]


def _movements(
    lines: Sequence[StockLine],
    *,
    kind: str,
    on_hand_sign: int,
    reserved_sign: int,
    actor: Actor,
    reason: str,
    reference: str,
) -> list[StockMovement]:
    return [
        StockMovement(
            stock_level_id=line.stock_level_id,
            product_id=line.product_id,
            location_id=line.location_id,
            kind=kind,
            on_hand_delta=on_hand_sign * line.quantity,
            reserved_delta=reserved_sign * line.quantity,
            reason=reason[:300],
            reference=reference[:100],
            actor_type=actor.type,
            actor_name=actor.name[:200],
        )
        for line in lines
    ]


def stock_reserve(
    *,
    lines: Iterable[StockLine],
    actor: Actor,
    reference: str,
    reason: str = "",
    respect_safety_stock: bool = True,
) -> None:
    """Hold units: ``reserved += q`` only where ``on_hand - reserved - safety_stock >= q``.

    All or nothing: if any row lacks the units, raises InsufficientStock (with the failing
    stock_level ids in ``extra``) and the caller's transaction rolls back. On PostgreSQL every row
    and its ledger row are written by one statement (``stock_reserve_statement``)."""
    lines = list(lines)
    statement = stock_reserve_statement(
        lines=lines,
        actor=actor,
        reference=reference,
        reason=reason,
        respect_safety_stock=respect_safety_stock,
    )
    if statement is not None:  # PostgreSQL: one round trip
        with connection.cursor() as cursor:
            cursor.execute(f"{statement.ctes} SELECT stock_level_id FROM reserved", statement.params)  # noqa: S608
            statement.check(row[0] for row in cursor.fetchall())
        return
    merged = _merge(lines)
    failed: list[int] = []
    for line in merged:
        floor = F("reserved") + line.quantity + (F("safety_stock") if respect_safety_stock else 0)
        updated = StockLevel.objects.filter(pk=line.stock_level_id, on_hand__gte=floor).update(
            reserved=F("reserved") + line.quantity, updated_at=Now()
        )
        if updated == 0:
            failed.append(line.stock_level_id)
    if failed:
        raise InsufficientStock(extra={"stock_levels": failed})
    StockMovement.objects.bulk_create(
        _movements(
            merged,
            kind=MovementKind.RESERVATION,
            on_hand_sign=0,
            reserved_sign=1,
            actor=actor,
            reason=reason,
            reference=reference,
        )
    )


@dataclass(frozen=True)
class ReserveStatement:
    """The reserving CTEs of ``stock_reserve`` on PostgreSQL, for a caller to end with its own final
    statement in the same round trip (order placement inserts its reservations). The CTE named
    ``reserved`` yields the ``stock_level_id`` of each row that was reserved; ``check`` then raises
    InsufficientStock for the rows that lacked the units (the caller's transaction rolls back)."""

    ctes: str
    params: list[object]
    lines: list[StockLine]  # merged, in pk order

    def check(self, reserved_ids: Iterable[int]) -> None:
        done = set(reserved_ids)
        failed = [line.stock_level_id for line in self.lines if line.stock_level_id not in done]
        if failed:
            raise InsufficientStock(extra={"stock_levels": failed})


def stock_reserve_statement(
    *,
    lines: Iterable[StockLine],
    actor: Actor,
    reference: str,
    reason: str = "",
    respect_safety_stock: bool = True,
) -> ReserveStatement | None:
    """The conditional UPDATE of every row and the INSERT of their ledger rows as CTEs (PostgreSQL;
    None elsewhere: use ``stock_reserve``).

    Several rows are first locked in pk order (the locking policy: two orders needing the same rows
    never wait on each other crosswise) by a ``FOR UPDATE`` CTE that the UPDATE reads in a one-time
    filter, i.e. before it touches any row. The UPDATE's WHERE is re-checked on the newest version
    of a row another transaction changed meanwhile (READ COMMITTED), so units are never oversold;
    a row lacking the units is simply not in ``reserved``."""
    merged = _merge(lines)
    if connection.vendor != "postgresql" or not merged:
        return None
    stock, ledger = StockLevel._meta.db_table, StockMovement._meta.db_table
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(merged))
    params: list[object] = [value for line in merged for value in (line.stock_level_id, line.quantity)]
    lock = ""
    gate = ""
    if len(merged) > 1:
        marks = ", ".join(["%s"] * len(merged))
        lock = (
            f", locked AS MATERIALIZED (SELECT id FROM {stock} WHERE id IN ({marks}) ORDER BY id FOR UPDATE)"  # noqa: S608
        )
        gate = " AND (SELECT count(*) FROM locked) >= 0"
        params += [line.stock_level_id for line in merged]
    safety = " + s.safety_stock" if respect_safety_stock else ""
    ctes = (
        f"WITH want(id, q) AS (VALUES {values}){lock}, "  # noqa: S608
        f"upd AS (UPDATE {stock} s SET reserved = s.reserved + want.q, updated_at = now() FROM want "
        f"WHERE s.id = want.id AND s.on_hand >= s.reserved + want.q{safety}{gate} "
        "RETURNING s.id, s.product_id, s.location_id, want.q), "
        f"reserved AS (INSERT INTO {ledger} (stock_level_id, product_id, location_id, kind, on_hand_delta, "
        "reserved_delta, reason, reference, actor_type, actor_name, created_at) "
        "SELECT id, product_id, location_id, %s, 0, q, %s, %s, %s, %s, now() FROM upd "
        "RETURNING stock_level_id)"
    )
    params += [MovementKind.RESERVATION.value, reason[:300], reference[:100], actor.type, actor.name[:200]]
    return ReserveStatement(ctes=ctes, params=params, lines=merged)


def stock_release(*, lines: Iterable[StockLine], actor: Actor, reference: str, reason: str = "") -> None:
    """Give held units back to sale: ``reserved -= q`` (never below zero)."""
    merged = _merge(lines)
    for line in merged:
        updated = StockLevel.objects.filter(pk=line.stock_level_id, reserved__gte=line.quantity).update(
            reserved=F("reserved") - line.quantity, updated_at=Now()
        )
        if updated == 0:
            raise StockWouldGoNegative(
                "Cannot release more units than are reserved.",
                code="release_exceeds_reserved",
                extra={"stock_level": line.stock_level_id, "quantity": line.quantity},
            )
    StockMovement.objects.bulk_create(
        _movements(
            merged,
            kind=MovementKind.RELEASE,
            on_hand_sign=0,
            reserved_sign=-1,
            actor=actor,
            reason=reason,
            reference=reference,
        )
    )


def stock_consume(
    *,
    lines: Iterable[StockLine],
    actor: Actor,
    reference: str,
    reason: str = "",
    kind: str = MovementKind.SHIPMENT,
) -> None:
    """Units leave the building (shipped or handed over): on_hand and reserved both drop by q."""
    merged = _merge(lines)
    for line in merged:
        updated = StockLevel.objects.filter(
            pk=line.stock_level_id, reserved__gte=line.quantity, on_hand__gte=line.quantity
        ).update(
            on_hand=F("on_hand") - line.quantity, reserved=F("reserved") - line.quantity, updated_at=Now()
        )
        if updated == 0:
            raise StockWouldGoNegative(
                "Cannot consume units that are not reserved.",
                code="consume_exceeds_reserved",
                extra={"stock_level": line.stock_level_id, "quantity": line.quantity},
            )
    StockMovement.objects.bulk_create(
        _movements(
            merged,
            kind=kind,
            on_hand_sign=-1,
            reserved_sign=-1,
            actor=actor,
            reason=reason,
            reference=reference,
        )
    )


# --- Top-level stock actions (API, admin, returns) ----------------------------------------------


def check_quantity(
    value: int, *, field: str = "quantity", allow_zero: bool = False, allow_negative: bool = False
) -> int:
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


def product_get_by_sku(*, sku: str) -> Product:
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise UnknownSku(f"Unknown SKU '{sku}'.", extra={"skus": [sku]})
    return product


def location_get_by_code(*, code: str) -> Location:
    location = Location.objects.filter(code=code).first()
    if location is None:
        raise UnknownLocation(f"Unknown location '{code}'.", extra={"locations": [code]})
    return location


def _stock_level_for_update(*, product: Product, location: Location) -> StockLevel:
    """The (product, location) row, created at zero if missing, locked for this transaction."""
    level, _ = StockLevel.objects.get_or_create(product=product, location=location)
    return StockLevel.objects.select_for_update().get(pk=level.pk)


def _stock_changed(*, location_id: int, product_ids: Iterable[int]) -> None:
    """Announce, once the transaction commits, that units became available (backorders wait)."""
    ids = sorted(set(product_ids))
    if ids:
        publish(topic="stock.changed", payload={"location_id": location_id, "product_ids": ids})


def _stock_adjust(
    *,
    product: Product,
    location: Location,
    delta: int,
    reason: str,
    actor: Actor,
    kind: str,
    reference: str,
) -> tuple[StockLevel, StockMovement]:
    check_quantity(delta, field="delta", allow_negative=True)
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
    movement = StockMovement.objects.create(
        stock_level=level,
        product=product,
        location=location,
        kind=kind,
        on_hand_delta=delta,
        on_hand_after=level.on_hand,
        reason=reason[:300],
        reference=reference[:100],
        actor_type=actor.type,
        actor_name=actor.name[:200],
    )
    if delta > 0:
        _stock_changed(location_id=location.pk, product_ids=[product.pk])
    return level, movement


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
    level, _ = _stock_adjust(
        product=product,
        location=location,
        delta=delta,
        reason=reason,
        actor=actor,
        kind=kind,
        reference=reference,
    )
    return level


def _stock_count(
    *, product: Product, location: Location, on_hand: int, reason: str, actor: Actor, reference: str
) -> tuple[StockLevel, StockMovement]:
    check_quantity(on_hand, field="on_hand", allow_zero=True)
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
    movement = StockMovement.objects.create(
        stock_level=level,
        product=product,
        location=location,
        kind=MovementKind.COUNT,
        on_hand_delta=on_hand - expected,
        on_hand_after=on_hand,
        expected_on_hand=expected,
        reason=reason[:300],
        reference=reference[:100],
        actor_type=actor.type,
        actor_name=actor.name[:200],
    )
    if on_hand > expected:
        _stock_changed(location_id=location.pk, product_ids=[product.pk])
    return level, movement


@transaction.atomic
def stock_count(
    *, product: Product, location: Location, on_hand: int, reason: str, actor: Actor, reference: str = ""
) -> StockLevel:
    """A cycle count: set on_hand to what was counted. Refused below the units already reserved.

    A count that raises on_hand announces ``stock.changed`` (after commit)."""
    level, _ = _stock_count(
        product=product, location=location, on_hand=on_hand, reason=reason, actor=actor, reference=reference
    )
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
    if delta is not None:
        level, movement = _stock_adjust(
            product=product,
            location=location,
            delta=delta,
            reason=reason,
            actor=actor,
            kind=MovementKind.ADJUSTMENT,
            reference="",
        )
    else:
        assert on_hand is not None  # noqa: S101 (narrowing for mypy)
        level, movement = _stock_count(
            product=product, location=location, on_hand=on_hand, reason=reason, actor=actor, reference=""
        )
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


# --- The network: locations and products (manager only; the API checks the role) ---------------

LOCATION_FIELDS = (
    "name",
    "kind",
    "latitude",
    "longitude",
    "address",
    "city",
    "country",
    "opening_hours",
    "ships",
    "pickup",
    "ship_from_store",
    "accepts_returns",
    "daily_capacity",
    "priority",
    "pickup_hold_days",
    "active",
)
PRODUCT_FIELDS = ("name", "price", "currency", "active")


def _check_location(location: Location) -> None:
    if location.kind not in LocationKind.values:
        raise InvalidInput(
            f"Unknown location kind '{location.kind}'.",
            code="unknown_location_kind",
            extra={"kind": location.kind},
        )
    location.country = (location.country or "").upper()
    location.full_clean(validate_unique=False)  # lengths, code format, coordinates (the CHECK)


@transaction.atomic
def location_create(
    *,
    code: str,
    name: str,
    kind: str,
    latitude: Decimal,
    longitude: Decimal,
    address: str = "",
    city: str = "",
    country: str = "",
    opening_hours: str = "",
    ships: bool = False,
    pickup: bool = False,
    ship_from_store: bool = False,
    accepts_returns: bool = False,
    daily_capacity: int | None = None,
    priority: int = 0,
    pickup_hold_days: int | None = None,
    active: bool = True,
) -> Location:
    """Add a warehouse or a store to the network."""
    if Location.objects.filter(code=code).exists():
        raise Conflict(f"Location '{code}' already exists.", code="location_exists", extra={"code": code})
    location = Location(
        code=code,
        name=name,
        kind=kind,
        latitude=latitude,
        longitude=longitude,
        address=address,
        city=city,
        country=country,
        opening_hours=opening_hours,
        ships=ships,
        pickup=pickup,
        ship_from_store=ship_from_store,
        accepts_returns=accepts_returns,
        daily_capacity=daily_capacity,
        priority=priority,
        pickup_hold_days=pickup_hold_days,
        active=active,
    )
    _check_location(location)
    try:
        with transaction.atomic():
            location.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent create of the same code
        raise Conflict(
            f"Location '{code}' already exists.", code="location_exists", extra={"code": code}
        ) from exc
    return location


@transaction.atomic
def location_update(*, location: Location, data: Mapping[str, Any]) -> Location:
    """Change a location's details or capabilities (its ``code`` is its identity and stays)."""
    unknown = sorted(set(data) - set(LOCATION_FIELDS))
    if unknown:
        raise InvalidInput(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            code="field_not_editable",
            extra={"fields": unknown},
        )
    location = Location.objects.select_for_update().get(pk=location.pk)
    for name, value in data.items():
        setattr(location, name, value)
    _check_location(location)
    location.save(update_fields=[*data, "updated_at"])
    return location


def _check_price(price: Decimal) -> Decimal:
    price = Decimal(price)
    if not price.is_finite() or price < 0:
        raise InvalidInput("price must be a non-negative amount.", code="invalid_price")
    return price


@transaction.atomic
def product_create(*, sku: str, name: str, price: Decimal, currency: str, active: bool = True) -> Product:
    """Add a SKU to the catalogue."""
    if Product.objects.filter(sku=sku).exists():
        raise Conflict(f"SKU '{sku}' already exists.", code="product_exists", extra={"sku": sku})
    product = Product(
        sku=sku, name=name, price=_check_price(price), currency=check_currency(currency), active=active
    )
    product.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            product.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(f"SKU '{sku}' already exists.", code="product_exists", extra={"sku": sku}) from exc
    return product


@transaction.atomic
def product_update(*, product: Product, data: Mapping[str, Any]) -> Product:
    """Change a SKU's name, price, currency or whether it is sold (the SKU itself stays)."""
    unknown = sorted(set(data) - set(PRODUCT_FIELDS))
    if unknown:
        raise InvalidInput(
            f"These fields cannot be changed: {', '.join(unknown)}.",
            code="field_not_editable",
            extra={"fields": unknown},
        )
    product = Product.objects.select_for_update().get(pk=product.pk)
    for name, value in data.items():
        if name == "price":
            value = _check_price(value)
        elif name == "currency":
            value = check_currency(value)
        setattr(product, name, value)
    product.full_clean(validate_unique=False)
    product.save(update_fields=[*data, "updated_at"])
    return product


# --- Staff and the locations they work at ---------------------------------------------------------


@transaction.atomic
def staff_create(
    *,
    username: str,
    role: str,
    location_codes: list[str] | None = None,
    password: str | None = None,
    email: str = "",
    rotate: bool = False,
) -> tuple[StaffProfile, str]:
    """Create (or, with ``rotate``, re-key) a staff member and return the new API token.

    The token is also the admin password unless ``password`` is given, so the one printed
    secret opens both the API and the Django admin."""
    if role not in StaffRole.values:
        raise InvalidInput(f"Unknown role '{role}'; use manager or associate.", code="unknown_role")
    codes = [c for c in (location_codes or []) if c]
    locations = list(Location.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {loc.code for loc in locations})
    if missing:
        raise NotFound(
            f"Unknown location(s): {', '.join(missing)}.",
            code="unknown_location",
            extra={"locations": missing},
        )
    if role == StaffRole.ASSOCIATE and not locations:
        raise InvalidInput(
            "An associate needs at least one location (--locations).", code="locations_required"
        )
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None and not rotate:
        raise Conflict(
            f"User '{username}' already exists; pass --rotate to issue a new key.", code="staff_exists"
        )
    if user is None:
        user = user_model.objects.create_user(username=username, email=email)
    token = generate_key(STAFF_KEY_PREFIX)
    user.set_password(password or token)
    user.is_staff = True  # may log into the Django admin
    user.is_superuser = role == StaffRole.MANAGER
    user.save()
    profile, _ = StaffProfile.objects.update_or_create(
        user=user, defaults={"role": role, "token_prefix": token[:12], "token_hash": hash_key(token)}
    )
    profile.locations.set(locations)
    return profile, token
