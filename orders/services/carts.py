"""The cross-channel cart (docs/carts.md): open or resume a customer's cart, change its lines,
attach an anonymous cart to a customer, and check it out into an order through placement.

A cart is priced for the channel that last changed it (``priced_for``, in that channel's
currency): a change from another channel re-prices every line with that channel's prices, and the
checkout re-prices for the checkout channel, so the order passes placement's price check. Every
change writes a ``CartEvent`` (the cart's timeline, with the channel and the actor).

Lock order: the cart row first, then (holds, checkout) the stock rows in primary-key order, as
an order's services lock the order row first."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db import IntegrityError, transaction

from inventory.errors import UnknownSku
from inventory.models import Product
from oms import events
from oms.actors import Actor
from oms.customers import CustomerInput, check_customer, customer_resolve
from oms.errors import InvalidInput
from oms.models import Channel, Customer
from orders.choices import CartEventKind, CartStatus
from orders.errors import (
    CartCheckedOut,
    CartCustomerConflict,
    CartEmpty,
    CartNotFound,
)
from orders.events import cart_event_build
from orders.models import Cart, CartEvent, CartLine
from orders.pricing import prices_for_channel

from .cart_holds import HoldInput, cart_hold_apply, cart_holds_convert
from .idempotency import EXPIRED, IdempotencyClaim, idempotency_duplicate_answer, idempotency_replay
from .inputs import LineInput, OrderInput, PlacementResult, Renderer
from .placement import order_place_in_transaction

MAX_CART_LINES = 200


@dataclass(frozen=True)
class CartLineInput:
    sku: str
    quantity: int  # POST adds this many; PATCH sets the line to this many (0 removes it)


def _lock(cart_id: int) -> Cart:
    cart = Cart.objects.select_for_update(of=("self",)).filter(pk=cart_id).first()
    if cart is None:
        raise CartNotFound(f"No cart {cart_id}.", extra={"cart": cart_id})
    return cart


def _require_open(cart: Cart) -> None:
    if cart.status != CartStatus.OPEN:
        raise CartCheckedOut(extra={"cart": cart.pk, "order": cart.order_id})


# --- Open, resume, change ---------------------------------------------------------------------


@transaction.atomic(durable=True)
def cart_open(
    *,
    channel: Channel,
    actor: Actor,
    customer: CustomerInput | None,
    lines: Sequence[CartLineInput],
    hold: HoldInput | None = None,
) -> tuple[Cart, bool]:
    """A new cart of ``customer`` (or anonymous), or the customer's open cart resumed on this
    channel (``False``): the lines are added to it, and it is re-priced for this channel; with
    ``hold``, its units are then held (all in one transaction: a 409 opens nothing)."""
    _check_lines(lines, adding=True)
    person = _customer_for(channel=channel, data=customer)
    cart = _open_cart_of(person) if person is not None else None
    created = False
    if cart is None:
        cart, created = _cart_create(channel=channel, customer=person)
    kind = CartEventKind.CREATED if created else CartEventKind.RESUMED
    cart_event_build(cart=cart, kind=kind, actor=actor, channel=channel).save(force_insert=True)
    added = _lines_apply(cart=cart, lines=lines, adding=True, actor=actor, channel=channel)
    cart_reprice(cart=cart, channel=channel, actor=actor, new_skus=added)
    if hold is not None:
        cart_hold_apply(cart=cart, hold=hold, actor=actor, channel=channel)
    return cart, created


@transaction.atomic(durable=True)
def cart_update(
    *,
    cart_id: int,
    channel: Channel | None,
    actor: Actor,
    customer: CustomerInput | None = None,
    lines: Sequence[CartLineInput] | None = None,
    hold: HoldInput | None = None,
) -> Cart:
    """Attach the cart to ``customer`` and set the quantities of ``lines`` (0 removes a line);
    re-priced for ``channel`` (staff without a channel: the channel it is priced for); with
    ``hold``, its units are (re-)held, in the same transaction."""
    cart = _lock(cart_id)
    _require_open(cart)
    channel = channel or cart.priced_for
    if customer is not None:
        _attach(cart=cart, person=_customer_for(channel=channel, data=customer), actor=actor, channel=channel)
    added: frozenset[str] = frozenset()
    if lines:
        _check_lines(lines, adding=False)
        added = _lines_apply(cart=cart, lines=lines, adding=False, actor=actor, channel=channel)
    cart_reprice(cart=cart, channel=channel, actor=actor, new_skus=added)
    cart.save(update_fields=["customer", "priced_for", "currency", "updated_at"])
    if hold is not None:
        cart_hold_apply(cart=cart, hold=hold, actor=actor, channel=channel)
    return cart


def _customer_for(*, channel: Channel, data: CustomerInput | None) -> Customer | None:
    if data is None:
        return None
    return customer_resolve(channel=channel, data=check_customer(data))


def _open_cart_of(customer: Customer) -> Cart | None:
    return (
        Cart.objects.select_for_update(of=("self",)).filter(customer=customer, status=CartStatus.OPEN).first()
    )


def _cart_create(*, channel: Channel, customer: Customer | None) -> tuple[Cart, bool]:
    """A new cart, or (``False``) the customer's open cart another request opened meanwhile."""
    cart = Cart(
        token=secrets.token_urlsafe(24),
        customer=customer,
        channel=channel,
        priced_for=channel,
        currency=channel.currency,
    )
    try:
        with transaction.atomic():  # a savepoint: another request may open this customer's cart now
            cart.save(force_insert=True)
    except IntegrityError:
        existing = _open_cart_of(customer) if customer is not None else None
        if existing is None:
            raise
        return existing, False
    return cart, True


def _attach(*, cart: Cart, person: Customer | None, actor: Actor, channel: Channel) -> None:
    if person is None or cart.customer_id == person.pk:
        return
    if cart.customer_id is not None:
        raise CartCustomerConflict(
            "The cart belongs to another customer.", extra={"cart": cart.pk, "customer": cart.customer_id}
        )
    other = Cart.objects.filter(customer=person, status=CartStatus.OPEN).exclude(pk=cart.pk).first()
    if other is not None:
        raise CartCustomerConflict(
            "The customer has another open cart; check it out or add these lines to it.",
            extra={"cart": cart.pk, "customer": person.pk, "open_cart": other.pk},
        )
    cart.customer = person
    cart_event_build(
        cart=cart, kind=CartEventKind.ATTACHED, actor=actor, channel=channel, customer=person.pk
    ).save(force_insert=True)


def _check_lines(lines: Sequence[CartLineInput], *, adding: bool) -> None:
    if len(lines) > MAX_CART_LINES:
        raise InvalidInput(f"A cart has at most {MAX_CART_LINES} lines.", code="too_many_lines")
    smallest = 1 if adding else 0
    for index, line in enumerate(lines):
        if not smallest <= line.quantity <= 1_000_000:
            raise InvalidInput(
                f"lines[{index}].quantity must be between {smallest} and 1000000.",
                code="invalid_quantity",
                extra={"field": f"lines[{index}].quantity"},
            )


def _products_for(skus: Sequence[str]) -> dict[str, Product]:
    products = {p.sku: p for p in Product.objects.filter(sku__in=set(skus))}
    unknown = sorted(set(skus) - products.keys())
    if unknown:
        raise UnknownSku(f"Unknown SKU(s): {', '.join(unknown)}.", extra={"skus": unknown})
    inactive = sorted(sku for sku, p in products.items() if not p.active)
    if inactive:
        raise InvalidInput(
            f"Not for sale: {', '.join(inactive)}.", code="product_inactive", extra={"skus": inactive}
        )
    return products


def _lines_apply(
    *, cart: Cart, lines: Sequence[CartLineInput], adding: bool, actor: Actor, channel: Channel
) -> frozenset[str]:
    """Add (POST) or set (PATCH) the quantities of ``lines``, with an event per line changed;
    answers the SKUs of the lines added (not priced yet)."""
    if not lines:
        return frozenset()
    products = _products_for([line.sku for line in lines])
    current = {line.sku: line for line in cart.lines.all()}
    timeline: list[CartEvent] = []
    added: set[str] = set()
    for item in lines:
        line = current.get(item.sku)
        before = line.quantity if line is not None else 0
        after = before + item.quantity if adding else item.quantity
        if after == before:
            continue
        kind = CartEventKind.LINE_CHANGED
        if line is None:
            line = CartLine(cart=cart, product=products[item.sku], sku=item.sku, quantity=after, unit_price=0)
            line.save(force_insert=True)
            current[item.sku] = line
            added.add(item.sku)
            kind = CartEventKind.LINE_ADDED
        elif after == 0:
            line.delete()
            del current[item.sku]
            kind = CartEventKind.LINE_REMOVED
        else:
            CartLine.objects.filter(pk=line.pk).update(quantity=after)
            line.quantity = after
        timeline.append(
            cart_event_build(
                cart=cart, kind=kind, actor=actor, channel=channel, sku=item.sku, quantity=after, was=before
            )
        )
    if len(current) > MAX_CART_LINES:
        raise InvalidInput(f"A cart has at most {MAX_CART_LINES} lines.", code="too_many_lines")
    CartEvent.objects.bulk_create(timeline)
    return frozenset(added)


def cart_reprice(
    *, cart: Cart, channel: Channel, actor: Actor, new_skus: frozenset[str] = frozenset()
) -> list[CartLine]:
    """Price every line with ``channel``'s prices now (in the caller's transaction); the cart is
    then priced for that channel, in its currency. A ``repriced`` event when the channel changed or
    the price of a line already priced (not one of ``new_skus``) moved."""
    lines = list(CartLine.objects.filter(cart=cart).select_related("product").order_by("pk"))
    prices = prices_for_channel(channel=channel, products=[line.product for line in lines])
    moved, changed = [], False
    for line in lines:
        price = prices[line.sku].unit_price
        if line.unit_price != price:
            changed = True
            if line.sku not in new_skus:
                moved.append({"sku": line.sku, "was": str(line.unit_price), "now": str(price)})
            line.unit_price = price
    if changed:
        CartLine.objects.bulk_update(lines, ["unit_price"])
    switched = cart.priced_for_id != channel.pk
    cart.priced_for, cart.currency = channel, channel.currency
    if switched:
        cart.save(update_fields=["priced_for", "currency", "updated_at"])
    if switched or moved:
        cart_event_build(
            cart=cart,
            kind=CartEventKind.REPRICED,
            actor=actor,
            channel=channel,
            currency=channel.currency,
            lines=moved,
        ).save(force_insert=True)
    return lines


# --- Checkout -------------------------------------------------------------------------------------


def cart_checkout(
    *,
    cart_id: int,
    channel: Channel,
    actor: Actor,
    data: OrderInput,
    idempotency: IdempotencyClaim | None = None,
    render: Renderer | None = None,
) -> PlacementResult:
    """Place the cart's order on ``channel`` through placement, once per idempotency key, with
    the method, address, pickup store and payment of ``data`` (its lines, currency and customer
    are the cart's): the lines re-priced for the channel, the units the cart holds converted into the order's
    reservations in the same transaction (nobody else can take them in between), the cart then
    ``checked_out`` with its order. A second checkout is 409 ``cart_checked_out`` (a repeat of the
    same request answers the first response)."""
    for _attempt in range(2):  # a second time only after forgetting an expired key
        try:
            with transaction.atomic(durable=True):
                return _checkout(
                    cart_id=cart_id,
                    channel=channel,
                    actor=actor,
                    data=data,
                    idempotency=idempotency,
                    render=render,
                )
        except IntegrityError as exc:  # the same key committed first (the unique index refused ours)
            answer = (
                idempotency_duplicate_answer(exc, idempotency, idempotency_replay) if idempotency else None
            )
            if answer is EXPIRED:
                continue
            if answer is not None:
                return answer
            raise
    raise RuntimeError("unreachable: an expired idempotency key is forgotten once")


def _checkout(
    *,
    cart_id: int,
    channel: Channel,
    actor: Actor,
    data: OrderInput,
    idempotency: IdempotencyClaim | None,
    render: Renderer | None,
) -> PlacementResult:
    cart = _lock(cart_id)
    if cart.status != CartStatus.OPEN and idempotency is not None:
        replay = idempotency_replay(idempotency)  # the first checkout's answer, to its repeat
        if isinstance(replay, PlacementResult):
            return replay
    _require_open(cart)
    lines = cart_reprice(cart=cart, channel=channel, actor=actor)
    if not lines:
        raise CartEmpty(extra={"cart": cart.pk})
    converted = cart_holds_convert(cart=cart, actor=actor)
    person = cart.customer
    result = order_place_in_transaction(
        data=replace(
            data,
            channel=channel,
            lines=[
                LineInput(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price) for line in lines
            ],
            currency=channel.currency,
            customer=CustomerInput(email=person.email, phone=person.phone, name=person.name)
            if person
            else None,
            external_id="",
        ),
        actor=actor,
        render=render,
        idempotency=idempotency,
    )
    order = result.order
    cart.status, cart.order, cart.hold_expires_at = CartStatus.CHECKED_OUT, order, None
    cart.save(update_fields=["status", "order", "hold_expires_at", "priced_for", "currency", "updated_at"])
    cart_event_build(
        cart=cart,
        kind=CartEventKind.CHECKED_OUT,
        actor=actor,
        channel=channel,
        order=order.pk,
        number=order.number,
        held_units=converted,
    ).save(force_insert=True)
    events.publish(
        topic="cart.checked_out",
        payload={"cart_id": cart.pk, "order_id": order.pk, "number": order.number, "channel": channel.code},
    )
    return result
