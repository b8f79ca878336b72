"""Reading carts and price lists, with who may see what.

Who may see (and change) a cart: staff, every cart; a channel client, a cart
* opened on its channel, or
* that its channel has worked on (it is in the cart's timeline: a customer who signs in on the app
  with the e-mail of a cart opened on the web gets that cart through ``POST /carts``), or
* of a customer the channel knows (an order of theirs on the channel, or the channel's own
  customer id for them: ``GET /customers`` shows it the same customers), or
* whose ``token`` the request presents (``?token=`` or the ``Cart-Token`` header: the anonymous
  cart's secret, returned when it was opened).
Any other cart is 403 ``cart_not_visible``; an id that is no cart, 404 ``cart_not_found``."""

from __future__ import annotations

import secrets

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from oms.actors import Actor
from oms.contact import normalize_email
from oms.lookups import pk_or_none
from oms.models import Channel

from .errors import CartNotFound, CartNotVisible, PriceListNotFound
from .models import Cart, CartEvent, CartHold, CartLine, PriceList, PriceListEntry
from .selectors import customer_list


def _channel_may_see(actor: Actor, token: str = "") -> Q:
    """The carts a channel client (``actor.channel_id`` set) may see: the module docstring's rule."""
    assert actor.channel_id is not None  # noqa: S101  # callers ask only for a channel's client
    worked_on = CartEvent.objects.filter(cart_id=OuterRef("pk"), channel_id=actor.channel_id)
    known = customer_list(actor=actor).values("pk")
    visible = Q(channel_id=actor.channel_id) | Q(Exists(worked_on)) | Q(customer_id__in=known)
    return visible | Q(token=token) if token else visible


def cart_detail_queryset(qs: QuerySet[Cart]) -> QuerySet[Cart]:
    return qs.select_related("customer", "channel", "priced_for", "order", "hold_location").prefetch_related(
        Prefetch("lines", queryset=CartLine.objects.order_by("pk")),
        Prefetch("events", queryset=CartEvent.objects.select_related("channel").order_by("created_at", "pk")),
        Prefetch(
            "holds", queryset=CartHold.objects.filter(status="active").select_related("product", "location")
        ),
    )


def cart_get_for_actor(*, cart_id: int | str, actor: Actor, token: str = "") -> Cart:
    """The cart with its lines, timeline and holds, if the actor may see it (module docstring)."""
    pk = pk_or_none(cart_id)
    cart = cart_detail_queryset(Cart.objects.filter(pk=pk)).first() if pk is not None else None
    if cart is None:
        raise CartNotFound(f"No cart {cart_id}.", extra={"cart": str(cart_id)})
    if actor.is_staff or actor.is_system:
        return cart
    if actor.is_channel and actor.channel_id is not None:
        if token and secrets.compare_digest(token.encode(), cart.token.encode()):
            return cart
        if Cart.objects.filter(pk=cart.pk).filter(_channel_may_see(actor)).exists():
            return cart
    raise CartNotVisible(extra={"cart": cart.pk})


def cart_list(*, actor: Actor, customer_email: str = "", status: str = "", token: str = "") -> QuerySet[Cart]:
    """The carts the actor may see, newest first, by the customer's e-mail and status if given."""
    qs = Cart.objects.all()
    if not (actor.is_staff or actor.is_system):
        qs = qs.filter(_channel_may_see(actor, token)) if actor.is_channel else qs.none()
    if customer_email:
        qs = qs.filter(customer__email_normalized=normalize_email(customer_email))
    if status:
        qs = qs.filter(status=status)
    return cart_detail_queryset(qs.order_by("-created_at", "-pk"))


def price_list_queryset(*, actor: Actor) -> QuerySet[PriceList]:
    """Price lists, with their entries: staff see all; a channel its own and the shared lists of
    its currency."""
    qs = PriceList.objects.select_related("channel").prefetch_related(
        Prefetch(
            "entries", queryset=PriceListEntry.objects.select_related("product").order_by("product__sku")
        )
    )
    if actor.is_staff or actor.is_system:
        return qs.order_by("-created_at", "-pk")
    if actor.is_channel and actor.channel_id is not None:
        currency = Channel.objects.filter(pk=actor.channel_id).values("currency")
        shared = Q(channel__isnull=True, currency__in=currency)
        return qs.filter(Q(channel_id=actor.channel_id) | shared).order_by("-created_at", "-pk")
    return qs.none()


def price_list_get_for_actor(*, price_list_id: int | str, actor: Actor) -> PriceList:
    pk = pk_or_none(price_list_id)
    found = price_list_queryset(actor=actor).filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise PriceListNotFound(f"No price list {price_list_id}.")
    return found
