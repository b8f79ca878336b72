"""``GET /api/v1/kpis?from=YYYY-MM-DD&to=YYYY-MM-DD``: the network's KPIs over a period (manager only).

The figures come from every app's ``kpis.py`` through ``oms.kpis.kpis_compute``; what each one
means is in ``docs/kpis.md``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.kpis import DEFAULT_DAYS, MAX_DAYS, kpi_period, kpis_compute
from oms.permissions import IsManager


class KpiQuery(serializers.Serializer):
    """``from`` is a Python keyword, so both fields are declared in ``get_fields``."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.DateField(
                required=False,
                input_formats=["iso-8601"],
                help_text=f"First day (inclusive). Default: 'to' minus {DEFAULT_DAYS - 1} days.",
            ),
            "to": serializers.DateField(
                required=False,
                input_formats=["iso-8601"],
                help_text="Last day (inclusive). Default: today.",
            ),
        }

    def to_internal_value(self, data: Any) -> Any:
        # A query string's "?to=" is dropped as absent by DRF; the schema says a date, so refuse it.
        blank = {
            name: ["Give a date or leave the parameter out."]
            for name in ("from", "to")
            if data.get(name) == ""
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)


class KpiOutput(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.DateField(help_text="First day of the period (inclusive)."),
            "to": serializers.DateField(help_text="Last day of the period (inclusive)."),
            "kpis": serializers.DictField(
                child=serializers.JSONField(),
                help_text="One entry per KPI (see docs/kpis.md): inventory_accuracy, orders_by_channel, "
                "sales_by_channel (in each channel's currency), orders_by_day, order_status_mix, "
                "fill_rate, split_shipment_rate, cycle_times, pickup, "
                "ship_from_store, rejections, return_rate, refunds. Rates are 0..1 (4 places) or null "
                "when there is nothing to divide by; durations are seconds; money is a string per "
                "currency.",
            ),
        }


EXAMPLE = {
    "from": "2025-03-01",
    "to": "2025-03-07",
    "kpis": {
        "inventory_accuracy": {
            "rows_counted": 2,
            "rows_accurate": 1,
            "accuracy": 0.5,
            "absolute_unit_variance": 1,
            "net_unit_variance": -1,
        },
        "orders_by_channel": {"web": {"orders": 2, "revenue": {"USD": "58.00"}}},
        "sales_by_channel": {
            "web": {"currency": "USD", "orders": 2, "sales": "58.00", "average_order": "29.00"}
        },
        "orders_by_day": [{"date": "2025-03-03", "channel": "web", "orders": 1, "revenue": {"USD": "50.00"}}],
        "order_status_mix": {"completed": 2, "allocated": 1, "cancelled": 1},
        "fill_rate": {
            "units_ordered": 7,
            "units_fulfilled": 4,
            "units_cancelled": 2,
            "units_backordered": 0,
            "unit_fill_rate": 0.5714,
            "orders": 4,
            "orders_filled_without_backorder": 2,
            "order_fill_rate": 0.5,
        },
        "split_shipment_rate": {"orders_routed": 4, "orders_split": 1, "rate": 0.25},
        "cycle_times": {
            "to_allocation": {"count": 4, "p50_seconds": 75.0, "p90_seconds": 111.0},
            "to_ship": {"count": 2, "p50_seconds": 5400.0, "p90_seconds": 6840.0},
            "to_ready_for_pickup": {"count": 2, "p50_seconds": 2700.0, "p90_seconds": 3420.0},
            "to_pickup": {"count": 1, "p50_seconds": 86400.0, "p90_seconds": 86400.0},
        },
        "pickup": {
            "ready": 2,
            "picked_up": 1,
            "picked_up_on_time": 1,
            "expired": 1,
            "waiting": 0,
            "on_time_rate": 0.5,
            "expiry_rate": 0.5,
        },
        "ship_from_store": {"shipped": 2, "shipped_from_store": 1, "share": 0.5},
        "rejections": {
            "fulfillment_orders": 6,
            "rejected": 1,
            "rate": 0.1667,
            "by_location": {
                "st-a": {"kind": "store", "fulfillment_orders": 2, "rejected": 1, "rate": 0.5},
            },
        },
        "return_rate": {
            "units_fulfilled": 4,
            "units_returned": 1,
            "rate": 0.25,
            "by_reason": {"wrong_size": {"units": 1, "rate": 0.25}},
        },
        "refunds": {"count": 1, "amount": {"USD": "10.00"}},
    },
}


class KpiView(APIView):
    """The network's KPIs over a period of days (manager only)."""

    permission_classes = [IsManager]

    @extend_schema(
        operation_id="kpis_retrieve",
        summary="KPIs over a period",
        description=(
            "Orders by channel and by day, fill rate, split-shipment rate, time from order to "
            "allocation / shipment / pickup (p50, p90), pickup on-time and expiry rates, "
            "ship-from-store share, rejections by location, return rate by reason, refunds and "
            "inventory accuracy. Order, fulfilment and return figures cover the orders placed in "
            "the period; refunds and stock counts those recorded in it. Dates are ISO "
            f"(YYYY-MM-DD), both inclusive, in the server's time zone; default the last "
            f"{DEFAULT_DAYS} days; at most {MAX_DAYS} days. 'from' after 'to' answers 422 "
            "invalid_period, a longer period 422 period_too_long, a malformed date 422 invalid_input."
        ),
        parameters=[KpiQuery],
        responses={200: KpiOutput},
        examples=[OpenApiExample("A week", value=EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = KpiQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data: dict[str, Any] = query.validated_data
        date_from, date_to, start, end = kpi_period(date_from=data.get("from"), date_to=data.get("to"))
        return Response(
            {
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                "kpis": kpis_compute(start=start, end=end),
            }
        )
