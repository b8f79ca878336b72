"""The admin's "KPIs" page (``/admin/kpis/``, managers only): the figures of ``GET /api/v1/kpis`` as
numbers and charts, drawn by Chart.js served from our own static files (no CDN).

Mounted in ``config/urls.py`` through ``admin.site.admin_view`` (login and ``is_staff`` required);
an associate is refused with 403 here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .actors import Actor
from .display import money_by_currency_display
from .errors import DomainError
from .kpis import DEFAULT_DAYS, days_between, kpi_locations, kpi_period, kpis_compute

TEMPLATE = "admin/oms/kpis.html"


class KpiPeriodForm(forms.Form):
    date_from = forms.DateField(
        label="From",
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    location = forms.ChoiceField(label="Store", required=False)

    def __init__(self, *args: Any, locations: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["location"])  # declared above
        field.choices = [("", "The whole network"), *(locations or [])]

    def add_prefix(self, field_name: str) -> str:
        # The query string speaks the API's words: ?from=...&to=...
        return {"date_from": "from", "date_to": "to"}.get(field_name, field_name)


def _asked(form: KpiPeriodForm) -> tuple[date | None, date | None, str, str]:
    """The dates and location code a submitted form asks for, and what is wrong with it ("")."""
    if not form.is_bound:
        return None, None, "", ""
    if form.is_valid():
        data = form.cleaned_data
        return data["date_from"], data["date_to"], data["location"], ""
    if "location" in form.errors:
        return None, None, "", "No such location; showing the whole network."
    fields = ", ".join(f"'{form.add_prefix(name)}'" for name in form.errors)
    return None, None, "", f"Enter the dates as YYYY-MM-DD ({fields}); showing the default period."


def kpi_dashboard(request: HttpRequest) -> HttpResponse:
    if not Actor.for_user(request.user).is_manager:
        raise PermissionDenied("Only a manager may see the KPIs.")
    locations = kpi_locations()
    choices = [(code, label) for code, (_, label) in locations.items()]
    date_from, date_to, location, error = _asked(KpiPeriodForm(request.GET or None, locations=choices))
    try:
        date_from, date_to, start, end = kpi_period(date_from=date_from, date_to=date_to)
    except DomainError as exc:
        error = exc.message
        date_from, date_to, start, end = kpi_period()
    # Show the period and place actually used (defaults filled in).
    form = KpiPeriodForm(
        initial={"date_from": date_from, "date_to": date_to, "location": location}, locations=choices
    )
    location_id, location_label = locations.get(location, (None, "the whole network"))
    kpis = kpis_compute(start=start, end=end, location_id=location_id)
    context = {
        **admin.site.each_context(request),
        "title": "KPIs",
        "subtitle": f"{date_from:%Y-%m-%d} to {date_to:%Y-%m-%d}, {location_label}",
        "location": location,
        "form": form,
        "error": error,
        "date_from": date_from,
        "date_to": date_to,
        "default_days": DEFAULT_DAYS,
        "kpis": kpis,
        "channels": [
            {"code": code, "orders": row["orders"], "revenue": money_by_currency_display(row.get("revenue"))}
            for code, row in (kpis.get("orders_by_channel") or {}).items()
        ],
        "refunded": money_by_currency_display(_get(kpis, "refunds", "amount")),
        "tiles": _tiles(kpis),
        "charts": _charts(kpis, start=start, end=end),
    }
    return TemplateResponse(request, TEMPLATE, context)


# --- What the page shows ------------------------------------------------------------------------------


def _get(kpis: dict[str, Any], *path: str) -> Any:
    value: Any = kpis
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _tiles(kpis: dict[str, Any]) -> list[dict[str, str]]:
    """The headline numbers: a label, the rate and what it is made of."""

    def tile(label: str, value: float | None, detail: str) -> dict[str, str]:
        return {"label": label, "value": _percent(value), "detail": detail}

    fill = kpis.get("fill_rate") or {}
    split = kpis.get("split_shipment_rate") or {}
    pickup = kpis.get("pickup") or {}
    sfs = kpis.get("ship_from_store") or {}
    returns = kpis.get("return_rate") or {}
    accuracy = kpis.get("inventory_accuracy") or {}
    rejections = kpis.get("rejections") or {}
    return [
        tile(
            "Fill rate (units)",
            fill.get("unit_fill_rate"),
            f"{fill.get('units_fulfilled', 0)} of {fill.get('units_ordered', 0)} units delivered",
        ),
        tile(
            "Orders filled without backorder",
            fill.get("order_fill_rate"),
            f"{fill.get('orders_filled_without_backorder', 0)} of {fill.get('orders', 0)} orders",
        ),
        tile(
            "Split-shipment rate",
            split.get("rate"),
            f"{split.get('orders_split', 0)} of {split.get('orders_routed', 0)} routed orders",
        ),
        tile(
            "Pickup on time",
            pickup.get("on_time_rate"),
            f"{pickup.get('picked_up_on_time', 0)} on time, {pickup.get('expired', 0)} expired, "
            f"{pickup.get('waiting', 0)} waiting",
        ),
        tile("Pickup expiry rate", pickup.get("expiry_rate"), f"{pickup.get('expired', 0)} expired"),
        tile(
            "Ship-from-store share",
            sfs.get("share"),
            f"{sfs.get('shipped_from_store', 0)} of {sfs.get('shipped', 0)} shipments",
        ),
        tile(
            "Rejection rate",
            rejections.get("rate"),
            f"{rejections.get('rejected', 0)} of {rejections.get('fulfillment_orders', 0)} fulfilment orders",
        ),
        tile(
            "Return rate",
            returns.get("rate"),
            f"{returns.get('units_returned', 0)} of {returns.get('units_fulfilled', 0)} units returned",
        ),
        tile(
            "Inventory accuracy",
            accuracy.get("accuracy"),
            (
                f"{accuracy.get('rows_accurate', 0)} of {accuracy.get('rows_counted', 0)} counts exact, "
                f"{accuracy.get('absolute_unit_variance', 0)} unit(s) off"
            )
            if accuracy.get("rows_counted")
            else "no stock counts yet in this period",
        ),
    ]


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _points(rate: float | None) -> float | None:
    """A rate as percentage points, rounded for a chart."""
    return None if rate is None else round(rate * 100, 2)


def _chart(labels: list[Any], *datasets: tuple[str, list[Any]]) -> dict[str, Any]:
    """Chart.js data: the labels and one dataset per ``(label, data)``."""
    return {"labels": labels, "datasets": [{"label": label, "data": data} for label, data in datasets]}


def _charts(kpis: dict[str, Any], *, start: datetime, end: datetime) -> dict[str, Any]:
    """Chart.js data (labels and datasets) for the template's canvases."""
    return {
        "orders_by_day": _orders_by_day_chart(kpis, start=start, end=end),
        "rates": _rates_chart(kpis),
        "cycle_times": _cycle_times_chart(kpis),
        "returns_by_reason": _returns_by_reason_chart(kpis),
        "rejections_by_location": _rejections_by_location_chart(kpis),
        "status_mix": _status_mix_chart(kpis),
        "inventory_accuracy": _inventory_accuracy_chart(kpis),
    }


def _orders_by_day_chart(kpis: dict[str, Any], *, start: datetime, end: datetime) -> dict[str, Any]:
    days = [d.isoformat() for d in days_between(start, end)]
    per_channel: dict[str, dict[str, int]] = {}
    for row in kpis.get("orders_by_day") or []:
        per_channel.setdefault(row["channel"], {})[row["date"]] = row["orders"]
    return _chart(
        days,
        *((channel, [counts.get(day, 0) for day in days]) for channel, counts in sorted(per_channel.items())),
    )


_RATES = [
    ("Fill rate", ("fill_rate", "unit_fill_rate")),
    ("Filled w/o backorder", ("fill_rate", "order_fill_rate")),
    ("Split shipments", ("split_shipment_rate", "rate")),
    ("Pickup on time", ("pickup", "on_time_rate")),
    ("Pickup expired", ("pickup", "expiry_rate")),
    ("Ship from store", ("ship_from_store", "share")),
    ("Rejections", ("rejections", "rate")),
    ("Returns", ("return_rate", "rate")),
    ("Inventory accuracy", ("inventory_accuracy", "accuracy")),
]


def _rates_chart(kpis: dict[str, Any]) -> dict[str, Any]:
    return _chart([label for label, _ in _RATES], ("%", [_points(_get(kpis, *path)) for _, path in _RATES]))


_CYCLE_NAMES = [
    ("to_allocation", "Order → allocated"),
    ("to_ship", "Order → shipped"),
    ("to_ready_for_pickup", "Order → ready for pickup"),
    ("to_pickup", "Order → picked up"),
]


def _cycle_times_chart(kpis: dict[str, Any]) -> dict[str, Any]:
    cycle = kpis.get("cycle_times") or {}
    return _chart(
        [label for _, label in _CYCLE_NAMES],
        *(
            (
                f"{p.upper()} (hours)",
                [_hours((cycle.get(key) or {}).get(f"{p}_seconds")) for key, _ in _CYCLE_NAMES],
            )
            for p in ("p50", "p90")
        ),
    )


def _returns_by_reason_chart(kpis: dict[str, Any]) -> dict[str, Any]:
    by_reason = _get(kpis, "return_rate", "by_reason") or {}
    return _chart(
        [_label(reason) for reason in by_reason],
        ("% of units delivered", [_points(row.get("rate")) for row in by_reason.values()]),
    )


def _rejections_by_location_chart(kpis: dict[str, Any]) -> dict[str, Any]:
    by_location = _get(kpis, "rejections", "by_location") or {}
    return _chart(
        list(by_location),
        ("Sent", [row["fulfillment_orders"] for row in by_location.values()]),
        ("Rejected", [row["rejected"] for row in by_location.values()]),
    )


# Each order status in a colour that says how it is going: done is green, trouble red or amber.
STATUS_COLOURS = {
    "completed": "#2e9d5b",
    "in_fulfillment": "#3b82c4",
    "allocated": "#6aa9de",
    "received": "#a5c8ea",
    "backordered": "#e8a33d",
    "on_hold": "#d9534f",
    "partially_cancelled": "#b8a0d8",
    "cancelled": "#9aa5b1",
}


def _status_mix_chart(kpis: dict[str, Any]) -> dict[str, Any]:
    status_mix = {k: v for k, v in (kpis.get("order_status_mix") or {}).items() if v}
    chart = _chart([_label(status) for status in status_mix], ("Orders", list(status_mix.values())))
    chart["datasets"][0]["backgroundColor"] = [STATUS_COLOURS.get(s, "#c0c7cf") for s in status_mix]
    return chart


def _inventory_accuracy_chart(kpis: dict[str, Any]) -> dict[str, Any]:
    accuracy = kpis.get("inventory_accuracy") or {}
    counted, accurate = accuracy.get("rows_counted", 0), accuracy.get("rows_accurate", 0)
    chart = _chart(["Exact", "Off"], ("Counts", [accurate, counted - accurate]))
    chart["datasets"][0]["backgroundColor"] = ["#2e9d5b", "#e8a33d"]
    return chart
