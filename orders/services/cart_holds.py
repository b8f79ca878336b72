"""A cart's hold: its units reserved for a while (``hold_minutes``), at a chosen store for a
reserve-in-store or wherever the sourcing engine finds them, through the inventory services like
an order's reservations (held units are reserved units: never sold twice). Released by beat when
it expires (``cart_holds_expire``), converted into the order's reservations at checkout
(``cart_holds_convert``, in the checkout's transaction).

The hold covers the lines as they were when it was placed; placing it again (another
``hold_minutes``) releases the old units first, in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.services import stock_release
from inventory.sourcing import PICKUP, SHIP, Need
from oms import events
from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from oms.models import Channel
from orders.choices import CartEventKind, CartHoldStatus, CartStatus
from orders.errors import CartCheckedOut, CartEmpty, CartNotFound
from orders.events import cart_event_build
from orders.models import Cart, CartHold, CartLine

from .checks import check_pickup_store
from .reservations import reserve_for_needs, sourcing_request_for, stock_lines_of

EXPIRY_ACTOR = Actor.system("cart-hold-expiry")


def _lock_open(cart_id: int) -> Cart:
    cart = Cart.objects.select_for_update(of=("self",)).filter(pk=cart_id).first()
    if cart is None:
        raise CartNotFound(f"No cart {cart_id}.", extra={"cart": cart_id})
    if cart.status != CartStatus.OPEN:
        raise CartCheckedOut(extra={"cart": cart.pk, "order": cart.order_id})
    return cart


def check_hold_minutes(minutes: int) -> int:
    longest = settings.OMS_CART_HOLD_MAX_MINUTES
    if not 1 <= minutes <= longest:
        raise InvalidInput(
            f"hold_minutes must be between 1 and {longest}.",
            code="invalid_hold_minutes",
            extra={"hold_minutes": minutes, "max": longest},
        )
    return minutes


@dataclass(frozen=True)
class HoldInput:
    minutes: int
    location: str = ""  # a store code: a reserve-in-store; "": wherever the sourcing engine finds them


@transaction.atomic(durable=True)
def cart_hold_place(*, cart_id: int, hold: HoldInput, actor: Actor, channel: Channel | None = None) -> Cart:
    """Reserve the cart's units for ``hold.minutes``: at the store ``hold.location`` (a
    reserve-in-store; an associate only at their own stores), else where the sourcing engine finds
    them. 409 ``insufficient_stock`` (nothing held) when they are not there."""
    cart = _lock_open(cart_id)
    cart_hold_apply(cart=cart, hold=hold, actor=actor, channel=channel)
    return cart


def cart_hold_apply(*, cart: Cart, hold: HoldInput, actor: Actor, channel: Channel | None) -> None:
    """``cart_hold_place`` on a cart the caller locked, in its transaction."""
    minutes, location = check_hold_minutes(hold.minutes), hold.location
    lines = list(CartLine.objects.filter(cart=cart).order_by("pk"))
    if not lines:
        raise CartEmpty("The cart has no lines to hold.", extra={"cart": cart.pk})
    store = check_pickup_store(location) if location else None
    if store is not None and actor.is_associate and not actor.may_act_at(store.pk):
        raise PermissionDenied(f"You do not work at '{store.code}'.", extra={"location": store.code})
    released = _release(cart=cart, actor=actor, reason="hold placed again")
    request = sourcing_request_for(
        method=PICKUP if store is not None else SHIP,
        channel=channel or cart.priced_for,
        origin=(float(store.latitude), float(store.longitude)) if store is not None else None,
        pickup_location_id=store.pk if store is not None else None,
    )
    needs = [
        Need(key=i, product_id=line.product_id, sku=line.sku, quantity=line.quantity)
        for i, line in enumerate(lines)
    ]
    plan, locations = reserve_for_needs(
        needs=needs,
        request=request,
        actor=actor,
        reference=f"cart:{cart.pk}",
        allow_shortage=False,
        reason="cart hold",
    )
    expires_at = timezone.now() + timedelta(minutes=minutes)
    CartHold.objects.bulk_create(
        CartHold(
            cart=cart,
            stock_level_id=a.stock_level_id,
            product_id=a.product_id,
            location_id=a.location_id,
            quantity=a.quantity,
            expires_at=expires_at,
        )
        for a in plan.allocations
    )
    cart.hold_expires_at, cart.hold_location = expires_at, store
    cart.save(update_fields=["hold_expires_at", "hold_location", "updated_at"])
    units = [
        {"sku": a.sku, "location": locations[a.location_id].code, "quantity": a.quantity}
        for a in plan.allocations
    ]
    _event(
        cart,
        CartEventKind.HOLD_PLACED,
        actor,
        channel,
        minutes=minutes,
        expires_at=expires_at.isoformat(),
        units=units,
        replaced=released,
    )
    events.publish(
        topic="cart.hold_placed",
        payload={"cart_id": cart.pk, "expires_at": expires_at.isoformat(), "units": units},
    )


@transaction.atomic(durable=True)
def cart_hold_release(
    *, cart_id: int, actor: Actor, channel: Channel | None = None, reason: str = "released"
) -> Cart:
    """Give the cart's held units back to sale (a no-op without a hold)."""
    cart = _lock_open(cart_id)
    _release_and_record(cart=cart, actor=actor, channel=channel, reason=reason)
    return cart


def cart_holds_expire(*, now: datetime | None = None) -> int:
    """Beat: release every hold past its expiry, one cart per transaction; answers how many."""
    now = now or timezone.now()
    due = list(
        Cart.objects.filter(status=CartStatus.OPEN, hold_expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    released = 0
    for cart_id in due:
        released += _expire_one(cart_id=cart_id, now=now)
    return released


@transaction.atomic(durable=True)
def _expire_one(*, cart_id: int, now: datetime) -> int:
    cart = Cart.objects.select_for_update(of=("self",)).filter(pk=cart_id).first()
    # checked for again under the lock: a checkout or a new hold may have come first
    if (
        cart is None
        or cart.status != CartStatus.OPEN
        or cart.hold_expires_at is None
        or cart.hold_expires_at > now
    ):
        return 0
    _release_and_record(cart=cart, actor=EXPIRY_ACTOR, channel=None, reason="expired")
    return 1


def _release_and_record(*, cart: Cart, actor: Actor, channel: Channel | None, reason: str) -> None:
    had_hold = cart.hold_expires_at is not None
    units = _release(cart=cart, actor=actor, reason=f"cart hold {reason}")
    cart.hold_expires_at, cart.hold_location = None, None
    cart.save(update_fields=["hold_expires_at", "hold_location", "updated_at"])
    if units or had_hold:
        _event(cart, CartEventKind.HOLD_RELEASED, actor, channel, reason=reason, units=units)
        events.publish(
            topic="cart.hold_released", payload={"cart_id": cart.pk, "reason": reason, "units": units}
        )


def _release(*, cart: Cart, actor: Actor, reason: str, status: str = CartHoldStatus.RELEASED) -> int:
    """Give back the units of the cart's active holds (stock rows in pk order, in the caller's
    transaction) and mark them ``status``; answers how many units."""
    holds = list(
        CartHold.objects.filter(cart=cart, status=CartHoldStatus.ACTIVE).order_by("stock_level_id", "pk")
    )
    if not holds:
        return 0
    stock_release(
        lines=stock_lines_of(holds),
        actor=actor,
        reference=f"cart:{cart.pk}",
        reason=reason,
    )
    CartHold.objects.filter(pk__in=[h.pk for h in holds]).update(status=status)
    return sum(h.quantity for h in holds)


def cart_holds_convert(*, cart: Cart, actor: Actor) -> int:
    """At checkout, in its transaction: the held units leave the cart's holds and are reserved
    again by the placement that follows. The stock rows stay locked by this transaction from the
    release to the order's reservation, so no other order can take the units in between."""
    return _release(cart=cart, actor=actor, reason="cart checkout", status=CartHoldStatus.CONVERTED)


def _event(cart: Cart, kind: str, actor: Actor, channel: Channel | None, **data: object) -> None:
    cart_event_build(cart=cart, kind=kind, actor=actor, channel=channel, **data).save(force_insert=True)
