"""How the admin writes things for people: money in the currency's own format, an address as
lines, who did something, and a timeline entry as a sentence with its time.

Money is formatted by Babel (CLDR data: the separators, symbol and digits each locale uses), so
``1600000.00 VND`` reads ``1.600.000 ₫``. The locale is the currency's own from
``OMS_MONEY_LOCALES`` (``{"VND": "vi_VN"}`` by default: a Vietnamese network writes dong the
Vietnamese way), else the active language. The API keeps its plain two-decimal strings
(``oms.money.money_text``); these helpers are for screens only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.utils import formats, timezone, translation

from .choices import ActorType

EMPTY = "—"


def display_locale(currency: str = "") -> str:
    """The locale to write an amount of ``currency`` in: its own, else the active language's."""
    own = getattr(settings, "OMS_MONEY_LOCALES", {}).get(currency.upper())
    if own:
        return str(own)
    return translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE)


def money_display(amount: Decimal | int | str | None, currency: str) -> str:
    """``1.600.000 ₫`` for ``Decimal("1600000.00")`` in VND: the currency's symbol, separators and
    digits (none for dong) in its locale. An empty amount is a dash."""
    if amount is None or amount == "":
        return EMPTY
    value = Decimal(str(amount))
    if not currency:
        return format_decimal(value, locale=display_locale())
    try:
        return format_currency(value, currency.upper(), locale=display_locale(currency))
    except (UnknownLocaleError, ValueError):
        return f"{value} {currency}"


def money_by_currency_display(amounts: Mapping[str, Any] | None) -> str:
    """``{"VND": "30537000.00"}`` (the KPIs' money) as ``30.537.000 ₫``, currencies joined."""
    if not amounts:
        return EMPTY
    return ", ".join(money_display(value, currency) for currency, value in sorted(amounts.items()))


def country_name(code: str) -> str:
    """``VN`` as the active language names it (``Vietnam``); the code if unknown."""
    try:
        locale = Locale.parse(translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE))
    except (UnknownLocaleError, ValueError):
        return code
    return str(locale.territories.get(code.upper(), code)) if code else ""


def language_name(code: str) -> str:
    """``vi`` as the active language names it (``Vietnamese``); the code if unknown, ``—`` if none."""
    if not code:
        return EMPTY
    try:
        locale = Locale.parse(translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE))
        return str(locale.languages.get(code.split("-")[0].lower(), code))
    except (UnknownLocaleError, ValueError):
        return code


def address_lines(address: Mapping[str, Any] | None) -> list[str]:
    """A postal address as the lines of an envelope: name, street lines, postal code and city,
    region, country, phone. Coordinates are left out (they are shown as a place, not an address)."""
    if not address:
        return []
    get = lambda key: str(address.get(key) or "").strip()  # noqa: E731 - a local shorthand
    city = " ".join(part for part in (get("postal_code"), get("city")) if part)
    lines = [get("name"), get("line1"), get("line2"), city, get("region"), country_name(get("country"))]
    if get("phone"):
        lines.append(f"Phone {get('phone')}")
    return [line for line in lines if line]


def actor_display(actor_type: str, actor_name: str) -> str:
    """Who did it, in words: ``manager (staff)``, ``web storefront (channel web-storefront)``,
    ``the OMS (router)``."""
    if actor_type == ActorType.STAFF:
        return f"{actor_name} (staff)"
    if actor_type == ActorType.CHANNEL:
        return f"channel client {actor_name}"
    return f"the OMS ({actor_name})" if actor_name and actor_name != "system" else "the OMS"


def when_display(moment: datetime | None) -> str:
    """A moment in the current time zone, in the active language's short format."""
    if moment is None:
        return EMPTY
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def timeline_sentence(*, when: datetime, message: str, actor_type: str, actor_name: str) -> str:
    """One timeline entry as a sentence: ``4 Dec 2026, 09:57 — Order placed on web. By manager (staff).``"""
    text = message.strip() or "Changed."
    if text[-1] not in ".!?":
        text += "."
    return f"{when_display(when)} — {text} By {actor_display(actor_type, actor_name)}."


def status_label(code: str) -> str:
    """A status or kind code as words: ``ready_for_pickup`` -> ``Ready for pickup``."""
    return code.replace("_", " ").capitalize() if code else EMPTY
