"""Finding a customer from what the person at the counter says: an e-mail, a phone number, a
loyalty number ... (the admin's customer search, issue 22).

Each way of finding someone is a lookup: a function from the typed term to a ``Q`` over
``Customer`` (or None when the term cannot be one of its kind). The kernel registers the e-mail
and the phone; an app that gives customers another identifier (loyalty numbers) registers its
own in its ``AppConfig.ready``, and the search matches it with no change here."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from .contact import normalize_email, normalize_phone
from .models import Customer

CustomerLookup = Callable[[str], Q | None]
_lookups: dict[str, CustomerLookup] = {}


def customer_lookup_register(name: str, lookup: CustomerLookup) -> None:
    """Let the customer search match ``lookup``'s condition too (a name registered again replaces it)."""
    _lookups[name] = lookup


def customer_lookup_names() -> list[str]:
    """The registered lookups, in registration order (the search box's help names them)."""
    return list(_lookups)


def _by_email(term: str) -> Q | None:
    return Q(email_normalized=normalize_email(term)) if "@" in term else None


def _by_phone(term: str) -> Q | None:
    """The number as stored (normalised), or, typed the national way with its trunk 0
    (``0900 000 001``), any stored number ending with the digits after it (``+84900000001``)."""
    phone = normalize_phone(term)
    digits = phone.lstrip("+")
    if len(digits) < 6 or any(ch.isalpha() for ch in term):
        return None
    condition = Q(phone_normalized=phone)
    if phone.startswith("0") and len(digits) >= 9:
        condition |= Q(phone_normalized__endswith=digits[1:])
    return condition


def _has_loyalty_accounts() -> bool:
    """Whether customers have loyalty accounts in this build (issue 22's loyalty, in the kernel)."""
    return any(f.name == "loyalty_account" for f in Customer._meta.get_fields())


def _by_loyalty_number(term: str) -> Q | None:
    """A loyalty number as a customer says it (spaces and dashes ignored)."""
    digits = "".join(ch for ch in term if ch.isdigit())
    if len(digits) < 6 or any(ch.isalpha() or ch in "@+" for ch in term) or not _has_loyalty_accounts():
        return None
    return Q(loyalty_account__loyalty_number=digits)


customer_lookup_register("e-mail", _by_email)
customer_lookup_register("phone", _by_phone)
customer_lookup_register("loyalty number", _by_loyalty_number)


def customer_search_condition(term: str) -> Q | None:
    """Customers whom any registered lookup matches for ``term`` (None: no lookup applies)."""
    term = (term or "").strip()
    if not term:
        return None
    condition: Q | None = None
    for lookup in _lookups.values():
        matched = lookup(term)
        if matched is not None:
            condition = matched if condition is None else condition | matched
    return condition


def customer_search(term: str) -> QuerySet[Customer]:
    """The customers an e-mail, phone or other registered identifier finds, oldest first."""
    condition = customer_search_condition(term)
    return (
        Customer.objects.filter(condition).order_by("pk")
        if condition is not None
        else Customer.objects.none()
    )
