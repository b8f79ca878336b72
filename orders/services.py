"""Writes of the orders app: placing an order (with idempotency), customers, cancel and holds.

Locking policy: a change to an existing order locks the order row first (``select_for_update``),
then its reservations in pk order, then stock rows in pk order (inventory services). Placing an
order locks only stock rows (one conditional UPDATE each, in pk order) and inserts the rest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from inventory.errors import InsufficientStock, UnknownLocation, UnknownSku
from inventory.models import Location
from inventory.services import (
    StockLine,
    check_quantity,
    stock_release,
    stock_reserve,
    stock_reserve_statement,
)
from inventory.sourcing import (
    PICKUP,
    CandidateLocation,
    CandidateProduct,
    CandidateStock,
    Need,
    SourcingPlan,
    SourcingRequest,
    load_candidates,
    load_candidates_for_skus,
    plan_sourcing,
    stores_that_can_supply,
)
from oms import events
from oms.actors import Actor
from oms.batch import WriteBatch
from oms.contact import normalize_email, normalize_phone
from oms.errors import DomainError, InvalidInput, PermissionDenied
from oms.models import Channel, ChannelCustomerRef, Customer, NotificationLog
from oms.money import check_amount, quantize
from oms.services import check_currency
from oms.sql import insert_sql, mark_saved, next_ids, with_writes

from .choices import FulfillmentMethod, HoldReason, OrderEventKind, OrderStatus, ReservationStatus
from .errors import (
    CustomerNotFound,
    DuplicateExternalId,
    IdempotencyKeyReused,
    NoActiveHold,
    OrderNotCancellable,
    RequestInProgress,
)
from .events import order_event_build, order_event_record, order_events_record
from .models import ORDER_HOLDABLE, IdempotencyRecord, Order, OrderEvent, OrderHold, OrderLine, Reservation
from .selectors import order_get_for_actor

MAX_LINES = 200
RESERVE_ATTEMPTS = 3

# --- Inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerInput:
    email: str = ""
    phone: str = ""
    name: str = ""
    external_id: str = ""
    language: str = ""


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    unit_price: Decimal
    tax: Decimal = Decimal("0")


@dataclass(frozen=True)
class OrderInput:
    channel: Channel
    method: str
    lines: Sequence[LineInput]
    currency: str = ""
    customer: CustomerInput | None = None
    external_id: str = ""
    pickup_location: str = ""  # a store code
    shipping_address: dict[str, Any] = field(default_factory=dict)
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    shipping_total: Decimal = Decimal("0")
    allow_backorder: bool = False


@dataclass(frozen=True)
class IdempotencyClaim:
    scope: str  # "client:<id>" or "user:<id>"
    key: str
    request_hash: str


def idempotency_request_hash(body: Any) -> str:
    """The same JSON body, whatever its key order or spacing, gives the same hash."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class PlacementResult:
    order: Order
    lines: list[OrderLine]
    reservations: list[Reservation]
    location_codes: dict[int, str]
    plan_reason: str = ""
    status_code: int = 201
    response: dict[str, Any] | None = None  # what was answered (stored for idempotent replays)
    replayed: bool = False


Renderer = Callable[[PlacementResult], dict[str, Any]]

# --- Customers ------------------------------------------------------------------------------------


def check_customer(data: CustomerInput) -> CustomerInput:
    email = (data.email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise InvalidInput(
                f"'{email}' is not a valid e-mail address.", code="invalid_email", extra={"email": email}
            ) from exc
    phone = normalize_phone(data.phone)
    if data.phone and not 6 <= len(phone.lstrip("+")) <= 20:
        raise InvalidInput(
            f"'{data.phone}' is not a valid phone number.", code="invalid_phone", extra={"phone": data.phone}
        )
    return data


def customer_resolve(*, channel: Channel, data: CustomerInput) -> Customer | None:
    """The one Customer behind these details, across channels: matched by normalised e-mail, then
    by phone (only a customer without another e-mail), then by the channel's own customer id;
    created when none matches. Fills in details the customer did not have yet."""
    email_n = normalize_email(data.email)
    phone_n = normalize_phone(data.phone)
    external_id = (data.external_id or "").strip()
    if not (email_n or phone_n or external_id):
        return None
    defaults = {
        "email": data.email.strip(),
        "phone": data.phone.strip(),
        "phone_normalized": phone_n,
        "name": data.name.strip(),
        "language": data.language or "en",
    }
    if connection.vendor == "postgresql":
        customer, created = _customer_match_or_create(
            channel=channel, email_n=email_n, phone_n=phone_n, external_id=external_id, defaults=defaults
        )
    else:
        customer = _customer_match(channel=channel, email_n=email_n, phone_n=phone_n, external_id=external_id)
        created = customer is None
        if customer is None:
            customer = _customer_create(email_n=email_n, defaults=defaults)
    if not created:
        changed = []
        if email_n and not customer.email_normalized:
            customer.email, customer.email_normalized = data.email.strip(), email_n
            changed += ["email", "email_normalized"]
        if phone_n and not customer.phone_normalized:
            customer.phone, customer.phone_normalized = data.phone.strip(), phone_n
            changed += ["phone", "phone_normalized"]
        if data.name.strip() and not customer.name:
            customer.name = data.name.strip()
            changed.append("name")
        if changed:
            customer.save(update_fields=[*changed, "updated_at"])
    if external_id:
        ChannelCustomerRef.objects.get_or_create(
            channel=channel, external_id=external_id, defaults={"customer": customer}
        )
    return customer


def _customer_match(*, channel: Channel, email_n: str, phone_n: str, external_id: str) -> Customer | None:
    customer: Customer | None = None
    if email_n:
        customer = Customer.objects.filter(email_normalized=email_n).first()
    if customer is None and phone_n:
        by_phone = Customer.objects.filter(phone_normalized=phone_n, erased_at__isnull=True).order_by("pk")
        if email_n:
            by_phone = by_phone.filter(email_normalized="")
        customer = by_phone.first()
    if customer is None and external_id:
        ref = (
            ChannelCustomerRef.objects.select_related("customer")
            .filter(channel=channel, external_id=external_id)
            .first()
        )
        customer = ref.customer if ref is not None else None
    return customer


def _customer_create(*, email_n: str, defaults: dict[str, Any]) -> Customer:
    if not email_n:
        return Customer.objects.create(email_normalized="", **defaults)
    # INSERT ... ON CONFLICT DO NOTHING, then read the row: a concurrent order from the same new
    # customer makes one row (whichever INSERT came first), with no IntegrityError and no savepoint.
    Customer.objects.bulk_create([Customer(email_normalized=email_n, **defaults)], ignore_conflicts=True)
    return Customer.objects.get(email_normalized=email_n)


def _customer_match_or_create(
    *, channel: Channel, email_n: str, phone_n: str, external_id: str, defaults: dict[str, Any]
) -> tuple[Customer, bool]:
    """PostgreSQL: ``_customer_match`` and, when nothing matches, ``_customer_create`` in one
    statement (the hot path of order intake). Each way of matching is a ranked branch of one CTE;
    the INSERT runs only when the CTE found nothing and does nothing on a conflicting e-mail (a
    concurrent order of the same new customer), which is then read by a second statement."""
    meta = Customer._meta
    fields = meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    qualified = ", ".join(f"c.{connection.ops.quote_name(f.column)}" for f in fields)
    new = Customer(email_normalized=email_n, **defaults)
    inserted = [f for f in fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(new, add=True), connection) for f in inserted]
    table, refs = meta.db_table, ChannelCustomerRef._meta.db_table
    sql = f"""
        WITH found AS (
            (SELECT 1 AS rank, {qualified} FROM {table} c
              WHERE %(email)s <> '' AND c.email_normalized = %(email)s ORDER BY c.id LIMIT 1)
            UNION ALL
            (SELECT 2, {qualified} FROM {table} c
              WHERE %(phone)s <> '' AND c.phone_normalized = %(phone)s AND c.erased_at IS NULL
                AND (%(email)s = '' OR c.email_normalized = '') ORDER BY c.id LIMIT 1)
            UNION ALL
            (SELECT 3, {qualified} FROM {refs} r JOIN {table} c ON c.id = r.customer_id
              WHERE %(external_id)s <> '' AND r.channel_id = %(channel)s
                AND r.external_id = %(external_id)s LIMIT 1)
        ), created AS (
            INSERT INTO {table} ({", ".join(connection.ops.quote_name(f.column) for f in inserted)})
            SELECT {", ".join(f"%(v{i})s" for i in range(len(inserted)))}
             WHERE NOT EXISTS (SELECT 1 FROM found)
            ON CONFLICT DO NOTHING
            RETURNING {columns}
        )
        SELECT * FROM found UNION ALL SELECT 4, * FROM created ORDER BY 1 LIMIT 1
    """  # noqa: S608 - table and column names come from the models, values are parameters
    params: dict[str, Any] = {
        "email": email_n,
        "phone": phone_n,
        "external_id": external_id,
        "channel": channel.pk,
        **{f"v{i}": value for i, value in enumerate(values)},
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:  # a concurrent order created this e-mail's customer first
        return Customer.objects.get(email_normalized=email_n), False
    customer = Customer.from_db(connection.alias, [f.attname for f in fields], list(row[1:]))
    return customer, row[0] == 4


# --- Validation -----------------------------------------------------------------------------------


def _check_order_input(data: OrderInput) -> tuple[str, Location | None]:
    """Validate meaning (the serializer checked shapes); return the currency and pickup store."""
    if not data.channel.active:
        raise PermissionDenied(f"Channel '{data.channel.code}' is not active.", code="channel_inactive")
    currency = check_currency(data.currency or data.channel.currency)
    if currency != data.channel.currency:
        raise InvalidInput(
            f"Channel '{data.channel.code}' sells in {data.channel.currency}, not {currency}.",
            code="currency_mismatch",
            extra={"currency": currency, "channel_currency": data.channel.currency},
        )
    if not data.lines:
        raise InvalidInput("An order needs at least one line.", code="empty_order")
    if len(data.lines) > MAX_LINES:
        raise InvalidInput(f"An order has at most {MAX_LINES} lines.", code="too_many_lines")
    for index, line in enumerate(data.lines):
        check_quantity(line.quantity, field=f"lines[{index}].quantity")
        check_amount(line.unit_price, field_name=f"lines[{index}].unit_price")
        check_amount(line.tax, field_name=f"lines[{index}].tax")
    check_amount(data.shipping_total, field_name="shipping_total")
    if data.customer is not None:
        check_customer(data.customer)
    pickup: Location | None = None
    if data.method == FulfillmentMethod.PICKUP:
        if not data.pickup_location:
            raise InvalidInput(
                "A pickup order needs pickup_location (a store code).", code="pickup_location_required"
            )
        pickup = Location.objects.filter(code=data.pickup_location).first()
        if pickup is None:
            raise UnknownLocation(
                f"Unknown location '{data.pickup_location}'.", extra={"locations": [data.pickup_location]}
            )
        if not (pickup.active and pickup.pickup):
            raise InvalidInput(
                f"'{pickup.code}' does not offer pickup.",
                code="pickup_not_offered",
                extra={"location": pickup.code},
            )
    elif data.method == FulfillmentMethod.SHIP:
        if not data.shipping_address:
            raise InvalidInput("A ship order needs shipping_address.", code="shipping_address_required")
        if (data.latitude is None) != (data.longitude is None):
            raise InvalidInput(
                "Give both latitude and longitude of the address, or neither.", code="invalid_coordinates"
            )
    else:
        raise InvalidInput(f"Unknown method '{data.method}'; use ship or pickup.", code="unknown_method")
    return currency, pickup


def _check_products(
    skus: Sequence[str], products: dict[str, CandidateProduct]
) -> dict[str, CandidateProduct]:
    unknown = sorted(set(skus) - products.keys())
    if unknown:
        raise UnknownSku(f"Unknown SKU(s): {', '.join(unknown)}.", extra={"skus": unknown})
    inactive = sorted({sku for sku in skus if not products[sku].active})
    if inactive:
        raise InvalidInput(
            f"Not for sale: {', '.join(inactive)}.", code="product_inactive", extra={"skus": inactive}
        )
    return products


# --- Sourcing and reservation -----------------------------------------------------------------------


def sourcing_request_for(
    *,
    method: str,
    channel: Channel,
    origin: tuple[float, float] | None,
    pickup_location_id: int | None,
    excluded_location_ids: frozenset[int] = frozenset(),
) -> SourcingRequest:
    return SourcingRequest(
        method=method,
        origin=origin,
        pickup_location_id=pickup_location_id,
        ship_from_stores=channel.ship_from_stores,
        excluded_location_ids=excluded_location_ids,
    )


def _insufficient(
    *,
    needs: Sequence[Need],
    plan: SourcingPlan,
    stock: Sequence[CandidateStock],
    locations: dict[int, CandidateLocation],
    request: SourcingRequest,
) -> InsufficientStock:
    by_key = {n.key: n for n in needs}
    short: dict[str, dict[str, int]] = {}
    for key, missing in plan.shortages.items():
        need = by_key[key]
        entry = short.setdefault(need.sku, {"sku": need.sku, "requested": 0, "missing": 0})  # type: ignore[dict-item]
        entry["requested"] += need.quantity
        entry["missing"] += missing
    skus = sorted(short)
    extra: dict[str, Any] = {"skus": skus, "shortages": [short[s] for s in skus]}
    if request.method == PICKUP:
        extra["nearby_stores"] = stores_that_can_supply(
            needs=needs, stock=stock, locations=locations, origin=request.origin
        )
        message = f"The pickup store cannot supply: {', '.join(skus)}."
        if extra["nearby_stores"]:
            nearby = ", ".join(s["location"] for s in extra["nearby_stores"])
            message += f" These stores have every unit: {nearby}."
    else:
        message = f"Not enough stock for: {', '.join(skus)}."
    return InsufficientStock(message, extra=extra)


def stock_lines_for(plan: SourcingPlan) -> list[StockLine]:
    """The stock rows and units a plan holds, as the inventory services take them."""
    return [
        StockLine(
            stock_level_id=a.stock_level_id,
            product_id=a.product_id,
            location_id=a.location_id,
            quantity=a.quantity,
        )
        for a in plan.allocations
    ]


def reserve_for_needs(
    *,
    needs: Sequence[Need],
    request: SourcingRequest,
    actor: Actor,
    reference: str,
    allow_shortage: bool,
) -> tuple[SourcingPlan, dict[int, CandidateLocation]]:
    """Plan with the sourcing engine and hold the planned units, re-planning when another
    transaction took the units between the read and the conditional UPDATE. Returns the plan that
    was reserved (its ``shortages`` are the units left unreserved, allowed only if
    ``allow_shortage``). Runs inside the caller's transaction."""
    product_ids = {n.product_id for n in needs}
    for _attempt in range(RESERVE_ATTEMPTS):
        stock, locations = load_candidates(product_ids=product_ids)
        plan = plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
        if plan.shortages and not allow_shortage:
            raise _insufficient(needs=needs, plan=plan, stock=stock, locations=locations, request=request)
        lines = stock_lines_for(plan)
        if not lines:
            return plan, locations
        try:
            with transaction.atomic():  # a savepoint: a lost race undoes only this attempt
                stock_reserve(lines=lines, actor=actor, reference=reference, reason="order placed")
        except InsufficientStock:
            continue
        return plan, locations
    # Every attempt lost a race for the same units: the stock is being sold out right now.
    stock, locations = load_candidates(product_ids=product_ids)
    plan = plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
    raise _insufficient(needs=needs, plan=plan, stock=stock, locations=locations, request=request)


# --- Placing an order -------------------------------------------------------------------------------


def _next_order_id() -> int:
    """The id the new order will get, so its number is known before the INSERT (one statement)."""
    if connection.vendor == "postgresql":
        return next_ids(Order, 1)[0]
    with connection.cursor() as cursor:  # SQLite: writers are serialised, so max + 1 is safe
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM orders_order")
        return int(cursor.fetchone()[0])


def order_number_for(*, channel: Channel, order_id: int) -> str:
    prefix = re.sub(r"[^A-Z0-9]", "", channel.code.upper())[:10] or "ORD"
    return f"{prefix}-{order_id:07d}"


_EXPIRED = object()  # _idempotency_replay: the record was past its 24 hours and is forgotten


def _idempotency_replay(claim: IdempotencyClaim) -> PlacementResult | object | None:
    """The stored answer to this key (None: no record; ``_EXPIRED``: an old record, now deleted)."""
    record = (
        IdempotencyRecord.objects.filter(scope=claim.scope, key=claim.key).select_related("order").first()
    )
    if record is None:
        return None
    if record.expires_at <= timezone.now():  # past its 24 hours: the key is free again
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return _EXPIRED
    if record.request_hash != claim.request_hash:
        raise IdempotencyKeyReused(extra={"idempotency_key": claim.key})
    order = record.order
    return PlacementResult(
        order=order,  # type: ignore[arg-type]
        lines=[],
        reservations=[],
        location_codes={},
        status_code=record.status_code,
        response=record.response,
        replayed=True,
    )


class _LostRace(Exception):
    """The planned units were taken between the read and the reservation: plan again."""


def order_place(
    *,
    data: OrderInput,
    actor: Actor,
    idempotency: IdempotencyClaim | None = None,
    render: Renderer | None = None,
) -> PlacementResult:
    """Accept an order only with its stock held: validate, resolve the customer, source and reserve
    every unit (or backorder it when allowed), and write the order, its lines, reservations,
    timeline and idempotency record in one durable transaction; routing starts on commit.

    With an idempotency claim, a repeat of the same request answers the first response; another
    body under the same key is refused (422); a concurrent duplicate waits for the first and
    answers its response. The key is not looked up beforehand: the unique (scope, key) index
    refuses the record of a repeat at the end of its transaction, which then rolls back and
    answers the stored response (a repeat is rare; a look-up on every order is not)."""
    for _attempt in range(2):  # a second time only after forgetting an expired key
        try:
            return _order_place(data=data, actor=actor, idempotency=idempotency, render=render)
        except IntegrityError as exc:
            # A concurrent or earlier request committed first: the same idempotency key or the
            # same external_id.
            if idempotency is not None:
                replay = _idempotency_replay(idempotency)
                if replay is _EXPIRED:
                    continue
                if replay is not None:
                    return replay  # type: ignore[return-value]
                if IdempotencyRecord.objects.filter(scope=idempotency.scope, key=idempotency.key).exists():
                    raise RequestInProgress(extra={"idempotency_key": idempotency.key}) from exc
            if (
                data.external_id
                and Order.objects.filter(channel=data.channel, external_id=data.external_id).exists()
            ):
                raise DuplicateExternalId(extra={"external_id": data.external_id}) from exc
            raise
        except DomainError:
            # A repeat (or a duplicate that waited on the first request's locks) may fail only
            # because the first took the units or sent the external_id: answer the first response.
            if idempotency is not None:
                replay = _idempotency_replay(idempotency)
                if replay is not None and replay is not _EXPIRED:
                    return replay  # type: ignore[return-value]
            raise
    raise RuntimeError("unreachable: an expired idempotency key is forgotten once")


def order_place_in_transaction(
    *, data: OrderInput, actor: Actor, render: Renderer | None = None
) -> PlacementResult:
    """Place an order inside the caller's transaction, with the same rules as ``order_place`` and no
    idempotency record: for an exchange order that must commit or roll back with its return. Each
    attempt runs in a savepoint, so a lost race undoes only that attempt."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_place_in_transaction must run inside the caller's transaction")
    for _attempt in range(RESERVE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _order_place_body(data=data, actor=actor, idempotency=None, render=render)
        except _LostRace:
            continue
    raise _sold_out(data)


def _order_place(
    *, data: OrderInput, actor: Actor, idempotency: IdempotencyClaim | None, render: Renderer | None
) -> PlacementResult:
    """The durable transaction, placed again from the start when another order took the planned
    units between the read and the reservation (rare: the whole order is re-planned on fresh stock,
    without a savepoint per attempt)."""
    for _attempt in range(RESERVE_ATTEMPTS):
        try:
            with transaction.atomic(durable=True):
                return _order_place_body(data=data, actor=actor, idempotency=idempotency, render=render)
        except _LostRace:
            continue
    # Every attempt lost a race for the same units: the stock is being sold out right now.
    raise _sold_out(data)


def _sold_out(data: OrderInput) -> InsufficientStock:
    """The refusal after every attempt lost its race, computed from the stock as it is now."""
    _currency, pickup = _check_order_input(data)
    candidates = load_candidates_for_skus(skus=[line.sku for line in data.lines])
    request, needs = _sourcing_for(data=data, pickup=pickup, products=candidates.products)
    plan = plan_sourcing(needs=needs, stock=candidates.stock, locations=candidates.locations, request=request)
    if not plan.shortages:  # the units came back meanwhile (a cancellation): the race goes on
        skus = sorted({line.sku for line in data.lines})
        return InsufficientStock(
            f"The stock of {', '.join(skus)} is being sold right now; please try again.",
            extra={"skus": skus, "shortages": []},
        )
    return _insufficient(
        needs=needs, plan=plan, stock=candidates.stock, locations=candidates.locations, request=request
    )


def _sourcing_for(
    *, data: OrderInput, pickup: Location | None, products: dict[str, CandidateProduct]
) -> tuple[SourcingRequest, list[Need]]:
    if pickup is not None:
        origin: tuple[float, float] | None = (float(pickup.latitude), float(pickup.longitude))
    elif data.latitude is not None and data.longitude is not None:
        origin = (float(data.latitude), float(data.longitude))
    else:
        origin = None
    request = sourcing_request_for(
        method=data.method,
        channel=data.channel,
        origin=origin,
        pickup_location_id=pickup.pk if pickup else None,
    )
    needs = [
        Need(key=index, product_id=products[line.sku].id, sku=line.sku, quantity=line.quantity)
        for index, line in enumerate(data.lines)
    ]
    return request, needs


def _order_place_body(
    *, data: OrderInput, actor: Actor, idempotency: IdempotencyClaim | None, render: Renderer | None
) -> PlacementResult:
    currency, pickup = _check_order_input(data)
    if data.external_id and Order.objects.filter(channel=data.channel, external_id=data.external_id).exists():
        raise DuplicateExternalId(
            f"The channel already sent order '{data.external_id}'.", extra={"external_id": data.external_id}
        )
    # One round trip: the products, their stock rows with locations and today's load, and the
    # order's id (PostgreSQL draws it from the sequence in the same statement).
    candidates = load_candidates_for_skus(
        skus=[line.sku for line in data.lines], next_id_of=Order._meta.db_table
    )
    products = _check_products([line.sku for line in data.lines], candidates.products)
    customer = customer_resolve(channel=data.channel, data=data.customer) if data.customer else None

    order_id = candidates.next_value if candidates.next_value is not None else _next_order_id()
    number = order_number_for(channel=data.channel, order_id=order_id)
    request, needs = _sourcing_for(data=data, pickup=pickup, products=products)
    locations = candidates.locations
    plan = plan_sourcing(needs=needs, stock=candidates.stock, locations=locations, request=request)
    if plan.shortages and not data.allow_backorder:
        raise _insufficient(
            needs=needs, plan=plan, stock=candidates.stock, locations=locations, request=request
        )

    # The order and its lines
    lines: list[OrderLine] = []
    subtotal = tax_total = Decimal("0")
    for index, line in enumerate(data.lines):
        unit_price, tax = quantize(line.unit_price), quantize(line.tax)
        line_total = quantize(unit_price * line.quantity + tax)
        subtotal += unit_price * line.quantity
        tax_total += tax
        lines.append(
            OrderLine(
                order_id=order_id,
                line_number=index + 1,
                product_id=products[line.sku].id,
                sku=line.sku,
                name=products[line.sku].name[:200],
                quantity=line.quantity,
                unit_price=unit_price,
                tax=tax,
                line_total=line_total,
                quantity_backordered=plan.shortages.get(index, 0),
            )
        )
    shipping_total = quantize(data.shipping_total)
    backordered = any(line.quantity_backordered for line in lines)
    order = Order(
        id=order_id,
        channel=data.channel,
        customer=customer,
        external_id=data.external_id,
        number=number,
        status=OrderStatus.BACKORDERED if backordered else OrderStatus.RECEIVED,
        method=data.method,
        pickup_location=pickup,
        shipping_address=data.shipping_address if data.method == FulfillmentMethod.SHIP else {},
        ship_latitude=data.latitude if data.method == FulfillmentMethod.SHIP else None,
        ship_longitude=data.longitude if data.method == FulfillmentMethod.SHIP else None,
        currency=currency,
        subtotal=quantize(subtotal),
        tax_total=quantize(tax_total),
        shipping_total=shipping_total,
        total=quantize(subtotal + tax_total + shipping_total),
        allow_backorder=data.allow_backorder,
        placed_by_type=actor.type,
        placed_by_name=actor.name[:200],
    )
    lines = _insert_order_and_lines(order, lines)
    # Reserve last: the stock rows stay locked only for the rest of the transaction (the hot-row
    # lock of a flash sale), and a lost race rolls back what was written.
    reservations = [
        Reservation(
            order_id=order_id,
            line=lines[a.key],  # type: ignore[index]
            stock_level_id=a.stock_level_id,
            product_id=a.product_id,
            location_id=a.location_id,
            quantity=a.quantity,
        )
        for a in plan.allocations
    ]
    if reservations:
        try:
            _reserve_and_record(
                plan=plan, reservations=reservations, actor=actor, reference=f"order:{number}"
            )
        except InsufficientStock as exc:
            raise _LostRace from exc
    location_codes = {loc_id: loc.code for loc_id, loc in locations.items()}
    timeline = [
        order_event_build(
            order=order,
            kind=OrderEventKind.PLACED,
            actor=actor,
            message=f"Order placed on {data.channel.code} ({data.method}).",
            data={"channel": data.channel.code, "total": str(order.total), "currency": currency},
        ),
        order_event_build(
            order=order,
            kind=OrderEventKind.SOURCED,
            actor=actor,
            message=plan.reason,
            data={
                "reservations": [
                    {"sku": a.sku, "location": location_codes[a.location_id], "quantity": a.quantity}
                    for a in plan.allocations
                ],
                "considered": plan.considered,
            },
        ),
    ]
    if backordered:
        timeline.append(
            order_event_build(
                order=order,
                kind=OrderEventKind.BACKORDERED,
                actor=actor,
                message="Some units wait for stock.",
                data={"lines": {str(lines[k].line_number): q for k, q in plan.shortages.items()}},  # type: ignore[index]
            )
        )
    result = PlacementResult(
        order=order,
        lines=lines,
        reservations=reservations,
        location_codes=location_codes,
        plan_reason=plan.reason,
    )
    record = None
    if idempotency is not None:
        result.response = render(result) if render is not None else {"id": order.pk, "number": number}
        record = IdempotencyRecord(
            scope=idempotency.scope,
            key=idempotency.key,
            request_hash=idempotency.request_hash,
            status_code=201,
            response=result.response,
            order=order,
            expires_at=timezone.now() + timedelta(hours=settings.OMS_IDEMPOTENCY_TTL_HOURS),
        )
    elif render is not None:
        result.response = render(result)
    _insert_timeline_record_and_outbox(
        timeline,
        record,
        [("order.created", {"order_id": order.pk, "number": number, "channel": data.channel.code})],
    )
    return result


def _insert_order_and_lines(order: Order, lines: list[OrderLine]) -> list[OrderLine]:
    """Write the order and its lines: on PostgreSQL in one statement (the order's INSERT as a
    data-modifying CTE before the lines'), with the ORM elsewhere."""
    if connection.vendor != "postgresql":
        order.save(force_insert=True)
        return OrderLine.objects.bulk_create(lines)
    with connection.cursor() as cursor:
        cursor.execute(
            *with_writes([insert_sql(Order, [order])], insert_sql(OrderLine, lines, returning=("id",)))
        )
        ids = [row[0] for row in cursor.fetchall()]
    for line, pk in zip(lines, ids, strict=True):
        line.pk = pk
    mark_saved([order, *lines])
    return lines


def _insert_timeline_record_and_outbox(
    timeline: list[OrderEvent], record: IdempotencyRecord | None, outbox: list[tuple[str, dict[str, Any]]]
) -> None:
    """Write the placement's timeline events, its idempotency record and its outbox rows (the
    events to announce after COMMIT): on PostgreSQL in one statement, the outbox rows last with
    their ids returned to announce them (a repeated key still fails it on the unique index, and
    the transaction with it); elsewhere the ORM, and ``events.publish_many``. The timeline
    events' ids are not read back (placement does not use them)."""
    if connection.vendor != "postgresql":
        order_events_record(timeline)
        if record is not None:
            record.save(force_insert=True)
        events.publish_many(outbox)
        return
    writes = [insert_sql(IdempotencyRecord, [record])] if record is not None else []
    writes.append(insert_sql(OrderEvent, timeline))
    events.publish_many_with(writes, outbox)
    if record is not None:
        mark_saved([record])


def _reserve_and_record(
    *, plan: SourcingPlan, reservations: list[Reservation], actor: Actor, reference: str
) -> None:
    """Hold the plan's units and write the reservation rows. On PostgreSQL one statement does both:
    the inventory's reserving CTEs (stock rows and ledger), then the reservations' INSERT, whose
    RETURNING also tells which stock rows were reserved (a lost race raises InsufficientStock and
    the caller rolls back the reservations with the rest)."""
    lines = stock_lines_for(plan)
    statement = stock_reserve_statement(lines=lines, actor=actor, reference=reference, reason="order placed")
    if statement is None:
        stock_reserve(lines=lines, actor=actor, reference=reference, reason="order placed")
        Reservation.objects.bulk_create(reservations)
        return
    columns = (
        "order_id, line_id, stock_level_id, product_id, location_id, quantity, status, created_at, updated_at"
    )
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, now(), now())"] * len(reservations))
    params = [*statement.params]
    for r in reservations:
        params += [r.order_id, r.line.pk, r.stock_level_id, r.product_id, r.location_id, r.quantity, r.status]
    sql = (
        f"{statement.ctes} INSERT INTO {Reservation._meta.db_table} ({columns}) VALUES {values} "  # noqa: S608
        "RETURNING id, created_at, (SELECT array_agg(stock_level_id) FROM reserved)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    statement.check(rows[0][2] or [])
    for reservation, (pk, created_at, _reserved) in zip(reservations, rows, strict=True):
        reservation.pk, reservation.created_at, reservation.updated_at = pk, created_at, created_at
        reservation._state.adding, reservation._state.db = False, connection.alias


def idempotency_records_purge(*, now=None) -> int:  # type: ignore[no-untyped-def]
    """Forget idempotency keys older than their 24 hours."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


# --- Cancel ---------------------------------------------------------------------------------------------


def _lock_order(*, order_id: int, actor: Actor) -> Order:
    order_get_for_actor(order_id=order_id, actor=actor)  # 404 for what the actor may not see
    return Order.objects.select_for_update(of=("self",)).select_related("channel").get(pk=order_id)


def reservations_release(
    *, order: Order, reservations: Sequence[Reservation], actor: Actor, reason: str
) -> None:
    """Give held units back to sale and mark the reservations released (caller holds the order lock).
    The ledger rows carry the order's reference, like its reservation rows."""
    active = [r for r in reservations if r.status == ReservationStatus.ACTIVE]
    if not active:
        return
    stock_release(
        lines=[
            StockLine(
                stock_level_id=r.stock_level_id,
                product_id=r.product_id,
                location_id=r.location_id,
                quantity=r.quantity,
            )
            for r in active
        ],
        actor=actor,
        reference=f"order:{order.number}",
        reason=reason,
    )
    Reservation.objects.filter(pk__in=[r.pk for r in active]).update(
        status=ReservationStatus.RELEASED, updated_at=timezone.now()
    )
    for r in active:
        r.status = ReservationStatus.RELEASED


@transaction.atomic(durable=True)
def order_cancel(*, order_id: int, reason: str, actor: Actor) -> Order:
    """Cancel the whole order: release every held unit, drop backorders, cancel its fulfilment
    orders. Refused (409) once any unit was shipped or collected. Cancelling twice is a no-op."""
    return order_cancel_in_transaction(order_id=order_id, reason=reason, actor=actor)


def order_cancel_in_transaction(*, order_id: int, reason: str, actor: Actor) -> Order:
    """``order_cancel`` inside the caller's transaction (a cancelled return cancels its exchange)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_cancel_in_transaction must run inside the caller's transaction")
    order = _lock_order(order_id=order_id, actor=actor)
    owner = actor.is_channel and actor.channel_id == order.channel_id
    if not (actor.is_manager or actor.is_system or owner):
        raise PermissionDenied("Only the order's channel or a manager may cancel it.")
    if order.status == OrderStatus.CANCELLED:
        return order
    lines = list(order.lines.all())
    if order.status == OrderStatus.COMPLETED or any(line.quantity_fulfilled for line in lines):
        raise OrderNotCancellable(
            f"Order {order.number} has shipped or collected units; return them instead.",
            extra={"status": order.status},
        )
    order.require_transition(OrderStatus.CANCELLED)
    # Higher apps (fulfilment) cancel their work for the order in this same transaction.
    events.publish(topic="order.cancelling", payload={"order_id": order.pk, "reason": reason})
    reservations = list(order.reservations.filter(status=ReservationStatus.ACTIVE).order_by("pk"))
    reservations_release(
        order=order, reservations=reservations, actor=actor, reason=f"order cancelled: {reason}"[:300]
    )
    # a cancelled order keeps no hold: nothing is left to release later
    order.holds.filter(released_at__isnull=True).update(
        released_at=timezone.now(), released_by=f"{actor.name} (order cancelled)"[:200]
    )
    for line in lines:
        line.quantity_cancelled = line.quantity - line.quantity_fulfilled
        line.quantity_backordered = 0
    OrderLine.objects.bulk_update(lines, ["quantity_cancelled", "quantity_backordered"])
    previous = order.status
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at", "updated_at"])
    order_event_record(
        order=order,
        kind=OrderEventKind.CANCELLED,
        actor=actor,
        message=f"Cancelled: {reason}"[:500],
        data={"reason": reason, "from": previous, "released_units": sum(r.quantity for r in reservations)},
    )
    events.publish(topic="order.cancelled", payload={"order_id": order.pk, "number": order.number})
    return order


# --- Holds ------------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def order_hold_place(*, order_id: int, reason: str, note: str = "", actor: Actor) -> OrderHold:
    """Stop an order from being routed (fraud review, payment, address, manual). Its units stay held."""
    if reason not in HoldReason.values:
        raise InvalidInput(
            f"Unknown hold reason '{reason}'.",
            code="unknown_hold_reason",
            extra={"allowed": list(HoldReason.values)},
        )
    order = _lock_order(order_id=order_id, actor=actor)
    if order.status != OrderStatus.ON_HOLD:
        if order.status not in ORDER_HOLDABLE:
            order.require_transition(OrderStatus.ON_HOLD)  # raises InvalidTransition (409)
        order.status_before_hold = order.status
        order.status = OrderStatus.ON_HOLD
        order.save(update_fields=["status", "status_before_hold", "updated_at"])
    hold = OrderHold.objects.create(order=order, reason=reason, note=note[:500], placed_by=actor.name[:200])
    order_event_record(
        order=order,
        kind=OrderEventKind.HOLD_PLACED,
        actor=actor,
        message=f"Hold: {reason}" + (f" ({note})" if note else ""),
        data={"hold": hold.pk, "reason": reason, "note": note},
    )
    events.publish(topic="order.held", payload={"order_id": order.pk, "reason": reason})
    return hold


@transaction.atomic(durable=True)
def order_hold_release(*, order_id: int, actor: Actor, hold_id: int | None = None) -> Order:
    """Release one hold (or every active hold); when none is left the order goes back to where it
    was and routing resumes."""
    order = _lock_order(order_id=order_id, actor=actor)
    active = order.holds.filter(released_at__isnull=True)
    if hold_id is not None:
        active = active.filter(pk=hold_id)
    holds = list(active)
    if not holds:
        raise NoActiveHold(extra={"hold": hold_id} if hold_id is not None else {})
    now = timezone.now()
    for hold in holds:
        hold.released_at, hold.released_by = now, actor.name[:200]
    OrderHold.objects.bulk_update(holds, ["released_at", "released_by"])
    if order.status == OrderStatus.ON_HOLD and not order.holds.filter(released_at__isnull=True).exists():
        order.status = order.status_before_hold or OrderStatus.RECEIVED
        order.status_before_hold = ""
        order.save(update_fields=["status", "status_before_hold", "updated_at"])
        events.publish(topic="order.hold_released", payload={"order_id": order.pk})
    order_event_record(
        order=order,
        kind=OrderEventKind.HOLD_RELEASED,
        actor=actor,
        message="Hold released: " + ", ".join(h.reason for h in holds),
        data={"holds": [h.pk for h in holds], "status": order.status},
    )
    return order


# Order status follows its lines: the rule lives here; fulfillment asks it as work progresses.
_MILESTONES: dict[str, str] = {
    OrderStatus.ALLOCATED: "order.allocated",
    OrderStatus.BACKORDERED: "order.backordered",
    OrderStatus.COMPLETED: "order.completed",
    OrderStatus.PARTIALLY_CANCELLED: "order.partially_cancelled",
    OrderStatus.CANCELLED: "order.cancelled",
}


def order_status_derive(
    *, lines: Sequence[OrderLine], has_unrouted: Callable[[], bool], has_started: Callable[[], bool]
) -> str:
    """The status an order's lines call for (the order status rule).

    ``lines`` are all of the order's, as they are now. The rule asks two questions only when it
    needs their answers: ``has_unrouted`` (are some held units not routed to a location yet?) and
    ``has_started`` (has a location started or finished work on the order?). Nothing open: the
    order is completed, partially cancelled or cancelled; units waiting for stock: backordered;
    units held but not routed: received; work started or units fulfilled: in fulfilment;
    otherwise allocated."""
    open_units = sum(line.quantity_open for line in lines)
    if open_units == 0:
        fulfilled = sum(line.quantity_fulfilled for line in lines)
        cancelled = sum(line.quantity_cancelled for line in lines)
        if fulfilled == 0:
            return OrderStatus.CANCELLED
        return OrderStatus.PARTIALLY_CANCELLED if cancelled else OrderStatus.COMPLETED
    if any(line.quantity_backordered for line in lines):
        return OrderStatus.BACKORDERED
    if has_unrouted():
        return OrderStatus.RECEIVED
    if has_started() or any(line.quantity_fulfilled for line in lines):
        return OrderStatus.IN_FULFILLMENT
    return OrderStatus.ALLOCATED


def order_has_unrouted(*, order_id: int) -> bool:
    """Whether some of the order's held units are not routed to a location yet."""
    return Reservation.objects.filter(
        order_id=order_id, status=ReservationStatus.ACTIVE, fulfillment_line__isnull=True
    ).exists()


def order_status_set(
    *, order: Order, status: str, actor: Actor, batch: WriteBatch, message: str = ""
) -> bool:
    """Move a locked order to ``status`` in ``batch`` (its fields, the ``status_changed`` event and
    the milestone's outbox event); an on-hold order keeps its hold and remembers the new status
    for later. Returns whether the status changed."""
    if order.status == OrderStatus.ON_HOLD and status != OrderStatus.CANCELLED:
        if order.status_before_hold != status:
            order.status_before_hold = status
            batch.change(order, ["status_before_hold", "updated_at"])
        return False
    if order.status == status:
        return False
    order.require_transition(status)
    previous = order.status
    order.status = status
    fields = ["status", "updated_at"]
    now = timezone.now()
    if status == OrderStatus.ALLOCATED and order.allocated_at is None:
        order.allocated_at = now
        fields.append("allocated_at")
    if status == OrderStatus.COMPLETED:
        order.completed_at = now
        fields.append("completed_at")
    batch.change(order, fields)
    batch.add(
        order_event_build(
            order=order,
            kind=OrderEventKind.STATUS_CHANGED,
            actor=actor,
            message=message or f"{previous} → {status}",
            data={"from": previous, "to": status},
        )
    )
    topic = _MILESTONES.get(status)
    if topic:
        batch.publish(topic, {"order_id": order.pk, "number": order.number})
    return True


def lines_by_id(order: Order) -> dict[int, OrderLine]:
    return {line.pk: line for line in order.lines.all()}


def reservations_by_line(reservations: Sequence[Reservation]) -> dict[int, list[Reservation]]:
    grouped: dict[int, list[Reservation]] = defaultdict(list)
    for r in reservations:
        grouped[r.line_id].append(r)
    return grouped


# --- Data protection -------------------------------------------------------------------------------------

PERSONAL_ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "phone")
PERSONAL_EVENT_KEYS = ("email", "recipient", "to", "phone", "name", "customer_name")


@transaction.atomic(durable=True)
def customer_erase(*, customer_id: int, actor: Actor) -> Customer:
    """Anonymise a person (right to erasure) while keeping their orders, stock and money records:
    contact details, channel ids, delivery names and coordinates, personal data in timeline events
    and stored idempotent responses are removed; city, country, lines and amounts stay."""
    if not (actor.is_manager or actor.is_system):
        raise PermissionDenied("Only a manager may erase a customer's personal data.")
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"No customer {customer_id}.")
    if customer.erased_at is not None:
        return customer
    customer.email = customer.email_normalized = ""
    customer.phone = customer.phone_normalized = ""
    customer.name = ""
    customer.erased_at = timezone.now()
    customer.save()
    ChannelCustomerRef.objects.filter(customer=customer).delete()
    orders = list(Order.objects.select_for_update(of=("self",)).filter(customer=customer).order_by("pk"))
    for order in orders:
        address = dict(order.shipping_address or {})
        for key in PERSONAL_ADDRESS_FIELDS:
            if key in address:
                address[key] = ""
        order.shipping_address = address
        order.ship_latitude = order.ship_longitude = None
    Order.objects.bulk_update(orders, ["shipping_address", "ship_latitude", "ship_longitude"])
    events_to_scrub = []
    for event in OrderEvent.objects.filter(order__customer=customer):
        data = dict(event.data or {})
        if any(key in data for key in PERSONAL_EVENT_KEYS):
            for key in PERSONAL_EVENT_KEYS:
                data.pop(key, None)
            event.data = data
            events_to_scrub.append(event)
    OrderEvent.objects.bulk_update(events_to_scrub, ["data"])
    IdempotencyRecord.objects.filter(order__customer=customer).delete()
    NotificationLog.objects.filter(order_id__in=[o.pk for o in orders]).update(
        recipient=Concat(Value("erased:"), Cast("id", output_field=CharField()))
    )
    order_events_record(
        order_event_build(
            order=order, kind=OrderEventKind.NOTE, actor=actor, message="Customer's personal data erased."
        )
        for order in orders
    )
    events.publish(topic="customer.erased", payload={"customer_id": customer.pk})
    return customer
