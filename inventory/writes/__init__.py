"""Inventory's one-statement writes, each with its ORM fallback beside it where it needs one:

- ``stock``: the reservation of stock rows with their ledger rows (``stock_reserve_write``:
  ``stock_reserve_statement`` on PostgreSQL, ``stock_reserve_rows`` elsewhere), the ``StockHold``
  and ``StockLine`` these writes take, merged into the locking order, and the ledger rows of a change;
- ``loads``: the upsert of the locations' daily load (``location_loads_add_sql``, one statement on
  PostgreSQL and SQLite alike);
- ``snapshot``: a snapshot's set-based diff (``stock_snapshot_statements`` on PostgreSQL,
  ``stock_snapshot_rows`` elsewhere).

Table and column names, casts and the ledger's values come from the models' ``_meta`` and from the
ledger row the ORM would write, so the SQL follows the models; the conditions are the rules
themselves and are written out."""

from .loads import location_loads_add_sql
from .snapshot import SnapshotApplied, stock_snapshot_rows, stock_snapshot_statements
from .stock import (
    ReserveStatement,
    StockHold,
    StockLine,
    ledger_rows,
    merge_lines,
    stock_release_statement,
    stock_reserve_rows,
    stock_reserve_statement,
    stock_reserve_write,
)

__all__ = [
    "ReserveStatement",
    "SnapshotApplied",
    "StockHold",
    "StockLine",
    "ledger_rows",
    "location_loads_add_sql",
    "merge_lines",
    "stock_release_statement",
    "stock_reserve_rows",
    "stock_reserve_statement",
    "stock_reserve_write",
    "stock_snapshot_rows",
    "stock_snapshot_statements",
]
