"""On PostgreSQL, parameters are bound by the server and a statement run often enough on a
connection is prepared (parsed and planned once): ``DATABASE_SERVER_SIDE_BINDING`` (default on)
and ``DATABASE_PREPARE_THRESHOLD`` (default 5; ``off`` never prepares, for a transaction-mode
pooler without prepared-statement support)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from config.settings.base import prepare_threshold
from orders.models import Order


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5", 5), (" 0 ", 0), ("12", 12), ("off", None), ("None", None), ("", None), ("false", None)],
)
def test_the_threshold_from_the_environment(raw, expected):
    assert prepare_threshold(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "many"])
def test_a_bad_threshold_stops_the_start(raw):
    with pytest.raises(ValueError):
        prepare_threshold(raw)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.skipif(
    bool({"DATABASE_SERVER_SIDE_BINDING", "DATABASE_PREPARE_THRESHOLD"} & set(os.environ)),
    reason="the defaults are overridden in this environment",
)
def test_a_repeated_query_is_prepared_on_its_connection():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 5
    for pk in range(8):  # the same statement, other values
        list(Order.objects.filter(pk=pk))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "orders_order"' in sql and "$1" in sql for sql in prepared), prepared
