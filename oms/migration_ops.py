"""Migration operations shared by the apps' migrations (kept stable: migrations import them)."""

from __future__ import annotations

from django.db import migrations


def drop_fk_index(*, table: str, column: str, index: str, field: migrations.AlterField) -> migrations.RunSQL:
    """``field`` (an AlterField giving a foreign key ``db_index=False``), done as a plain
    ``DROP INDEX`` of its single-column index: Django's own AlterField would also drop and re-add
    the foreign-key constraint, which re-checks every row of the table under a lock. Reversible."""
    return migrations.RunSQL(
        sql=f'DROP INDEX IF EXISTS "{index}"',
        reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
        state_operations=[field],
    )
