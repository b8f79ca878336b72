"""The KPI page for people (issue 23): a store filter, money in the currency's format, the
inventory-accuracy panel that says what it measures (or that nothing was counted yet), and order
statuses in colours that say how they are going."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oms.kpis import kpi_locations, kpis_compute

from .test_kpis import END, EXPECTED, START, WEEK, admin_login, week  # noqa: F401  # the week fixture

pytestmark = pytest.mark.django_db


def test_the_kpis_of_one_store_are_its_share_of_the_network(week):  # noqa: F811
    network = kpis_compute(start=START, end=END)
    assert network == EXPECTED  # no location: what the API answers, unchanged
    total_orders = 0
    for store in (week.store_a, week.store_b, week.warehouse):
        kpis = kpis_compute(start=START, end=END, location_id=store.pk)
        assert set(kpis) == set(EXPECTED)
        assert set(kpis["rejections"]["by_location"]) == {store.code}
        assert (
            kpis["rejections"]["by_location"][store.code] == network["rejections"]["by_location"][store.code]
        )
        assert kpis["fill_rate"]["orders"] <= network["fill_rate"]["orders"]
        assert kpis["inventory_accuracy"]["rows_counted"] <= network["inventory_accuracy"]["rows_counted"]
        total_orders += kpis["fill_rate"]["orders"]
    assert total_orders >= network["fill_rate"]["orders"]  # every order is served somewhere (splits twice)


def test_the_page_filters_by_store(week, manager):  # noqa: F811
    client = admin_login("manager")
    response = client.get("/admin/kpis/", {**WEEK, "location": week.store_a.code})
    assert response.status_code == 200
    html = response.content.decode()
    assert f"({week.store_a.code})" in response.context["subtitle"]
    assert f'<option value="{week.store_a.code}" selected>' in html
    assert response.context["kpis"] == kpis_compute(start=START, end=END, location_id=week.store_a.pk)
    assert set(kpi_locations()) == {week.store_a.code, week.store_b.code, week.warehouse.code}

    unknown = client.get("/admin/kpis/", {**WEEK, "location": "nowhere"})
    assert unknown.status_code == 200
    assert "No such location" in unknown.content.decode()
    assert unknown.context["subtitle"].endswith("the whole network")


def test_money_is_formatted_and_statuses_have_meaningful_colours(week, manager):  # noqa: F811
    response = admin_login("manager").get("/admin/kpis/", WEEK)
    html = response.content.decode()
    assert "$58.00" in html  # the web channel's revenue, not "58.00 USD"
    assert "58.00 USD" not in html
    assert "Refunds: 1 — $10.00" in html
    mix = response.context["charts"]["status_mix"]
    colours = dict(zip(mix["labels"], mix["datasets"][0]["backgroundColor"], strict=True))
    assert colours["Completed"] == "#2e9d5b"  # green, not the palette's red
    assert colours["Cancelled"] == "#9aa5b1"


def test_the_inventory_accuracy_panel_explains_itself_and_its_empty_state(week, manager):  # noqa: F811
    client = admin_login("manager")
    counted = client.get("/admin/kpis/", WEEK).content.decode()
    assert "found on the shelf exactly what the books said" in counted
    assert 'id="chart-inventory-accuracy"' in counted
    empty_day = (END + timedelta(days=40)).date().isoformat()
    empty = client.get("/admin/kpis/", {"from": empty_day, "to": empty_day}).content.decode()
    assert "No stock counts in this period yet." in empty
    assert "no stock counts yet in this period" in empty  # the tile too
    assert 'id="chart-inventory-accuracy"' not in empty
