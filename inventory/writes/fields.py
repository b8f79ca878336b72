"""Reading a model's columns for hand-built SQL."""

from __future__ import annotations

from django.db import connection
from django.db.models import Field, Model


def model_field(model: type[Model], name: str) -> Field:
    """A concrete field of ``model`` by name (``get_field`` also knows reverse relations)."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field)  # noqa: S101 (narrowing for mypy)
    return field


def db_type(field: Field) -> str:
    """The column's SQL type on PostgreSQL (``bigint`` for a BigAutoField, ``integer`` ...)."""
    db_type = field.db_type(connection)
    if db_type is None:
        raise TypeError(f"{field} has no column type")
    return db_type
