"""No index only repeats the leading column of another: each one costs every INSERT and UPDATE of
its table (orders, lines, events, reservations, the ledger are written on every order) and the
composite one answers the same lookups, foreign-key checks of a parent's delete included."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

REDUNDANT = """
SELECT t.relname, i.relname
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_opclass opc ON opc.oid = x.indclass[0]
WHERE n.nspname = current_schema()
  AND split_part(t.relname, '_', 1) IN ('oms', 'orders', 'inventory', 'fulfillment', 'returns')
  AND x.indnatts = 1 AND NOT x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL
  AND opc.opcdefault  -- not a varchar_pattern_ops index for LIKE 'prefix%'
  AND EXISTS (
      SELECT 1 FROM pg_index y
      JOIN pg_opclass yopc ON yopc.oid = y.indclass[0]
      WHERE y.indrelid = x.indrelid AND y.indexrelid <> x.indexrelid
        AND y.indnatts > 1 AND y.indkey[0] = x.indkey[0] AND y.indpred IS NULL AND yopc.opcdefault
  )
ORDER BY 1, 2
"""


def test_no_single_column_index_repeats_the_leading_column_of_a_composite():
    from django.apps import apps

    # Django's own many-to-many tables (Location.staff) keep the indexes Django gives them
    through = {m._meta.db_table for m in apps.get_models(include_auto_created=True) if m._meta.auto_created}
    with connection.cursor() as cursor:
        cursor.execute(REDUNDANT)
        redundant = [row for row in cursor.fetchall() if row[0] not in through]
    assert redundant == [], "give the foreign key db_index=False (see the 'covered' migrations)"


def test_the_composite_indexes_still_serve_the_foreign_keys():
    """The lookups the dropped indexes served: a plan by index, not a scan of the table."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for table, column in (
            ("orders_orderline", "order_id"),
            ("orders_orderevent", "order_id"),
            ("orders_order", "customer_id"),
            ("orders_order", "channel_id"),
            ("orders_reservation", "location_id"),
            ("inventory_stockmovement", "stock_level_id"),
            ("fulfillment_fulfillmentorder", "location_id"),
        ):
            cursor.execute(f'EXPLAIN SELECT 1 FROM "{table}" WHERE "{column}" = 1')  # noqa: S608 - constants
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "Index" in plan, (table, plan)
