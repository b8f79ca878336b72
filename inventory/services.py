"""Writes to stock. Every counter change is one conditional UPDATE (or a pk-ordered lock) backed by
the CHECK constraints on StockLevel, and writes its StockMovement ledger row(s) in the same
transaction.

Locking policy: stock rows are touched in primary-key order within a transaction, so two
transactions that need the same rows never wait on each other in opposite orders.

``stock_reserve``, ``stock_release`` and ``stock_consume`` compose into a caller's transaction
(order placement, routing, shipping): they raise on failure and the caller's transaction rolls back.
``stock_adjust`` and ``stock_count`` are top-level actions for the API and admin, and nest safely."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from oms.actors import Actor
from oms.authentication import STAFF_KEY_PREFIX
from oms.choices import StaffRole
from oms.errors import Conflict, InvalidInput, NotFound
from oms.models import StaffProfile, generate_key, hash_key

from .choices import MovementKind
from .errors import CountBelowReserved, InsufficientStock, StockWouldGoNegative, UnknownLocation, UnknownSku
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
    stock_level ids in ``extra``) and the caller's transaction rolls back."""
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
    """Add (receipt, restock) or remove (damage, loss) units on hand. Never below the reserved units."""
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
    StockMovement.objects.create(
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
    return level


@transaction.atomic
def stock_count(
    *, product: Product, location: Location, on_hand: int, reason: str, actor: Actor, reference: str = ""
) -> StockLevel:
    """A cycle count: set on_hand to what was counted. Refused below the units already reserved."""
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
    StockMovement.objects.create(
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
    return level


@transaction.atomic
def stock_safety_set(*, stock_level_id: int, safety_stock: int, actor: Actor) -> StockLevel:
    check_quantity(safety_stock, field="safety_stock", allow_zero=True)
    level = (
        StockLevel.objects.select_for_update().select_related("product", "location").get(pk=stock_level_id)
    )
    level.safety_stock = safety_stock
    level.save(update_fields=["safety_stock", "updated_at"])
    return level


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
