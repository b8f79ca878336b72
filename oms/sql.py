"""The models' own INSERTs as SQL text, for hot paths that write several tables in one round trip
(PostgreSQL data-modifying CTEs: ``WITH a AS (INSERT ...) INSERT ...``).

The SQL and its parameters come from Django's insert compiler, so the values are those the ORM
would write (``auto_now`` stamps, JSON adaptation, defaults): only the round trips are saved. The
caller runs the statement and then calls ``mark_saved`` on the instances."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.sql import InsertQuery


def insert_sql(
    model: type[Model], objs: Sequence[Model], *, returning: Sequence[str] = ()
) -> tuple[str, tuple[Any, ...]]:
    """One ``INSERT`` of ``objs`` (all of ``model``) with Django's values; the primary key is
    written only when every object has one. ``returning`` names fields for a ``RETURNING``."""
    if not objs:
        raise ValueError("insert_sql needs at least one object")
    meta = model._meta
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and any(getattr(obj, f.attname) is None for obj in objs))
    ]
    query = InsertQuery(model)
    query.insert_values(fields, objs, raw=False)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.get_field(name) for name in returning] or None
    statements = compiler.as_sql()
    if len(statements) != 1:  # a backend that cannot insert several rows in one statement
        raise NotImplementedError(f"{connection.vendor} cannot insert {len(objs)} rows in one statement")
    return statements[0]


def mark_saved(objs: Iterable[Model]) -> None:
    """What ``save()`` would have noted on each instance once its row is written."""
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
