"""Customers, the kernel's one person across channels: checking contact details, matching an
order's details to a Customer (or creating it), and erasing a person's data (right to erasure).

Erasure scrubs the customer's own rows here and publishes ``customer.erased``; the apps that keep
personal data about the customer (orders: addresses, timelines, e-mail logs) scrub theirs in an
in-transaction handler of that event, so it all commits or rolls back together, while imports
still run one way. ``customer_erasing_actor()`` tells those handlers who is erasing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from . import events
from .actors import Actor
from .contact import normalize_email, normalize_phone
from .errors import CustomerNotFound, InvalidInput, PermissionDenied
from .models import Channel, ChannelCustomerRef, Customer


@dataclass(frozen=True)
class CustomerInput:
    email: str = ""
    phone: str = ""
    name: str = ""
    external_id: str = ""
    language: str = ""


def check_customer(data: CustomerInput) -> CustomerInput:
    """The same details, once the e-mail and phone are valid (InvalidInput otherwise)."""
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


# --- Matching -------------------------------------------------------------------------------------


def customer_resolve(*, channel: Channel, data: CustomerInput) -> Customer | None:
    """The one Customer behind these details, across channels (None without e-mail, phone or id).

    Matched by normalised e-mail, then by phone (only a customer without another e-mail), then by
    the channel's own customer id; created when none matches. Fills in details the customer did
    not have yet."""
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
    find = _customer_match_or_create if connection.vendor == "postgresql" else _customer_match_then_create
    customer, created = find(
        channel=channel, email_n=email_n, phone_n=phone_n, external_id=external_id, defaults=defaults
    )
    if not created:
        _customer_fill_in(customer, data=data, email_n=email_n, phone_n=phone_n)
    if external_id:
        ChannelCustomerRef.objects.get_or_create(
            channel=channel, external_id=external_id, defaults={"customer": customer}
        )
    return customer


def _customer_fill_in(customer: Customer, *, data: CustomerInput, email_n: str, phone_n: str) -> None:
    """Give a matched customer the e-mail, phone and name it did not have (one UPDATE, if any)."""
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


def _customer_match_then_create(
    *, channel: Channel, email_n: str, phone_n: str, external_id: str, defaults: dict[str, Any]
) -> tuple[Customer, bool]:
    """Other databases: ``_customer_match`` and, when nothing matches, ``_customer_create``, with
    the ORM. Answers the customer and whether it was created."""
    customer = _customer_match(channel=channel, email_n=email_n, phone_n=phone_n, external_id=external_id)
    if customer is not None:
        return customer, False
    return _customer_create(email_n=email_n, defaults=defaults), True


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


# --- Erasure --------------------------------------------------------------------------------------

# While the in-transaction handlers of ``customer.erased`` run: who erases (the payload holds ids).
_erasing_actor: ContextVar[Actor | None] = ContextVar("oms_customer_erasing_actor", default=None)


def customer_erasing_actor() -> Actor:
    """Who erases the customer whose ``customer.erased`` in-transaction handlers run now."""
    actor = _erasing_actor.get()
    if actor is None:
        raise RuntimeError("customer_erasing_actor is asked outside a customer.erased handler")
    return actor


@contextmanager
def _erasing(actor: Actor) -> Iterator[None]:
    token = _erasing_actor.set(actor)
    try:
        yield
    finally:
        _erasing_actor.reset(token)


@transaction.atomic(durable=True)
def customer_erase(*, customer_id: int, actor: Actor) -> Customer:
    """Anonymise a person (right to erasure) in one transaction, keeping their orders, stock and
    money records; erasing twice is a no-op.

    Here: contact details and channel ids. The ``customer.erased`` handlers, in the same
    transaction: delivery names and coordinates, personal data in timeline events and stored
    idempotent responses (orders); city, country, lines and amounts stay."""
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
    with _erasing(actor):
        events.publish(topic="customer.erased", payload={"customer_id": customer.pk})
    return customer
