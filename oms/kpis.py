"""Key performance indicators: a registry each app fills from its own ``kpis.py``.

An app's ``kpis.py`` calls ``kpi_register(name, fn)`` at import;
``fn(*, start, end, location_id=None)`` reads the period ``[start, end)`` (for one location if
``location_id`` is given) and returns JSON-able data (numbers, strings, lists, dicts).
``kpis_compute`` imports every installed app's ``kpis`` module (``autodiscover_modules``), so the
kernel knows no app above it, and returns ``{name: value}`` in registration order (the order of
``INSTALLED_APPS``).

This module also holds the helpers the apps share: the period of a from/to pair of dates, rates,
money, and percentiles of durations (``percentile_cont`` on PostgreSQL, the same interpolation in
Python elsewhere). What each KPI means is written down in ``docs/kpis.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Func, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from .errors import InvalidInput
from .money import quantize

KpiFunction = Callable[..., Any]

_REGISTRY: dict[str, KpiFunction] = {}

DEFAULT_DAYS = 30
MAX_DAYS = 366
RATE_DIGITS = 4
SECONDS_DIGITS = 3


# --- The registry -----------------------------------------------------------------------------------


def kpi_register(name: str, fn: KpiFunction) -> KpiFunction:
    """Register ``fn(*, start: datetime, end: datetime) -> JSON-able`` under ``name``.

    Registering the same function again (a module imported twice) is a no-op; another function
    under a taken name is a programming error."""
    current = _REGISTRY.get(name)
    if current is not None and current is not fn:
        same = (current.__module__, current.__qualname__) == (fn.__module__, fn.__qualname__)
        if not same:
            raise ValueError(f"KPI {name!r} is already registered by {current.__module__}.")
    _REGISTRY[name] = fn
    return fn


KpiLocations = Callable[[], dict[str, tuple[int, str]]]
_locations: list[KpiLocations] = []


def kpi_locations_register(fn: KpiLocations) -> KpiLocations:
    """Register where the KPIs can be scoped to: ``fn() -> {code: (id, label)}`` (the inventory
    app's locations; the kernel knows no app above it)."""
    if fn not in _locations:
        _locations.append(fn)
    return fn


def kpi_locations() -> dict[str, tuple[int, str]]:
    """Every location the KPIs can be computed for: ``{code: (id, label)}``, by code."""
    autodiscover_modules("kpis")
    found: dict[str, tuple[int, str]] = {}
    for fn in _locations:
        found.update(fn())
    return dict(sorted(found.items()))


def kpi_names() -> list[str]:
    """The names of every registered KPI, after every app's ``kpis`` module is imported."""
    autodiscover_modules("kpis")
    return list(_REGISTRY)


def kpis_compute(*, start: datetime, end: datetime, location_id: int | None = None) -> dict[str, Any]:
    """Every registered KPI over ``[start, end)``: ``{name: value}``; with ``location_id``, each
    for that one location (what it serves, as each KPI's docstring says)."""
    autodiscover_modules("kpis")
    if location_id is None:
        return {name: fn(start=start, end=end) for name, fn in list(_REGISTRY.items())}
    return {name: fn(start=start, end=end, location_id=location_id) for name, fn in list(_REGISTRY.items())}


# --- The period -------------------------------------------------------------------------------------


def kpi_period(
    *, date_from: date | None = None, date_to: date | None = None, today: date | None = None
) -> tuple[date, date, datetime, datetime]:
    """``(from, to, start, end)`` for a pair of dates, both inclusive, in the current time zone.

    Defaults: ``to`` is today, ``from`` is ``to`` minus 29 days (30 days in all). ``start`` is
    midnight at the start of ``from``, ``end`` midnight after ``to`` (excluded). Raises
    ``InvalidInput`` (422) when ``from`` is after ``to`` or the period is longer than MAX_DAYS."""
    today = today or timezone.localdate()
    date_to = date_to or today
    if date_from is None:
        try:
            date_from = date_to - timedelta(days=DEFAULT_DAYS - 1)
        except OverflowError as exc:
            raise _bad_period("'to' is out of range.") from exc
    if date_from > date_to:
        raise InvalidInput(
            "'from' must not be after 'to'.",
            code="invalid_period",
            extra={"from": date_from.isoformat(), "to": date_to.isoformat()},
        )
    days = (date_to - date_from).days + 1
    if days > MAX_DAYS:
        raise InvalidInput(
            f"The period may span at most {MAX_DAYS} days (asked for {days}).",
            code="period_too_long",
            extra={"from": date_from.isoformat(), "to": date_to.isoformat(), "max_days": MAX_DAYS},
        )
    tz = timezone.get_current_timezone()
    try:
        start = timezone.make_aware(datetime.combine(date_from, time.min), tz)
        end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz)
    except (OverflowError, ValueError) as exc:
        raise _bad_period("The dates are out of range.") from exc
    return date_from, date_to, start, end


def _bad_period(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_period")


def days_between(start: datetime, end: datetime) -> list[date]:
    """The local dates of ``[start, end)``, for dense per-day series."""
    first = timezone.localtime(start).date()
    last = timezone.localtime(end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# --- Numbers ----------------------------------------------------------------------------------------


def rate(part: int | float, whole: int | float) -> float | None:
    """``part / whole`` rounded to 4 places; None when there is nothing to divide by."""
    if not whole:
        return None
    return round(part / whole, RATE_DIGITS)


def money(amount: Decimal | None) -> str:
    """A money amount as the API writes it: a string with 2 decimals."""
    return str(quantize(Decimal(amount or 0)))


def money_by_currency(rows: Iterable[tuple[str, Decimal | None]]) -> dict[str, str]:
    """Add up ``(currency, amount)`` pairs: ``{"USD": "12.50", ...}`` sorted by currency."""
    totals: dict[str, Decimal] = {}
    for currency, amount in rows:
        totals[currency] = totals.get(currency, Decimal("0")) + Decimal(amount or 0)
    return {currency: money(totals[currency]) for currency in sorted(totals)}


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile (0..1) of ``values`` with linear interpolation between the two
    nearest ranks: PostgreSQL's ``percentile_cont``. None for no values."""
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be between 0 and 1")
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    if lower == upper:
        return float(ordered[lower])
    return float(ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower))


class _PercentileCont(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, fraction: float) -> None:
        super().__init__(expression, fraction=repr(float(fraction)))


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
    output_field = FloatField()


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, SECONDS_DIGITS)


def duration_percentiles(
    queryset: QuerySet[Any], *, since: str, until: str, fractions: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """Percentiles of ``until - since`` (two datetime field paths) over the rows where both are
    set, in seconds: ``{"count": n, "p50_seconds": ..., "p90_seconds": ...}`` (None when n = 0).

    On PostgreSQL the database computes them (``percentile_cont``); elsewhere the durations are
    read and interpolated the same way in Python."""
    fractions = fractions or {"p50_seconds": 0.5, "p90_seconds": 0.9}
    rows = queryset.filter(**{f"{since}__isnull": False, f"{until}__isnull": False})
    if connection.vendor == "postgresql":
        duration = ExpressionWrapper(F(until) - F(since), output_field=DurationField())
        aggregates: dict[str, Any] = {
            name: _PercentileCont(_EpochSeconds(duration), fraction=fraction)
            for name, fraction in fractions.items()
        }
        result = rows.aggregate(**aggregates, count=Count("pk"))
        return {
            "count": result["count"],
            **{name: _seconds(result[name]) for name in fractions},
        }
    durations = [(b - a).total_seconds() for a, b in rows.values_list(since, until)]
    return {
        "count": len(durations),
        **{name: _seconds(percentile(durations, fraction)) for name, fraction in fractions.items()},
    }
