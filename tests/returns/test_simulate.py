"""python manage.py simulate drives every kind of work through the services on the demo network."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from django.utils import timezone

from fulfillment.models import FulfillmentOrder
from inventory.models import StockLevel, StockMovement
from oms.kpis import kpis_compute
from orders.models import Order
from returns.models import Return


def test_simulate_needs_the_demo_network(db):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("simulate", "--orders", "5", "--days", "1", stdout=StringIO())


def test_simulate_runs_orders_from_every_channel_and_keeps_stock_consistent(db):
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("simulate", "--orders", "60", "--days", "3", stdout=out)
    assert "Simulated 60 orders over 3 days" in out.getvalue()
    assert Order.objects.values("channel").distinct().count() >= 4
    assert FulfillmentOrder.objects.filter(status="shipped").exists()
    assert FulfillmentOrder.objects.filter(status="picked_up").exists()
    assert Return.objects.exists()
    oldest = Order.objects.order_by("created_at").first()
    assert (Order.objects.order_by("-created_at").first().created_at - oldest.created_at).days >= 1
    for row in StockLevel.objects.all():
        assert 0 <= row.reserved <= row.on_hand
        sums = StockMovement.objects.filter(stock_level=row).aggregate(
            o=Sum("on_hand_delta"), r=Sum("reserved_delta")
        )
        assert ((sums["o"] or 0), (sums["r"] or 0)) == (row.on_hand, row.reserved)
    kpis = kpis_compute(start=timezone.now() - timedelta(days=5), end=timezone.now() + timedelta(days=1))
    assert kpis["fill_rate"]["unit_fill_rate"] > 0
    assert kpis["pickup"]["picked_up"] > 0
    assert kpis["return_rate"]["rate"] > 0
    assert kpis["split_shipment_rate"]["orders_routed"] > 0
    assert kpis["ship_from_store"]["shipped"] > 0
    again = StringIO()
    call_command("simulate", "--orders", "5", "--days", "1", "--if-empty", stdout=again)
    assert "no simulation" in again.getvalue()
