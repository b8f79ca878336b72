"""Look-ups from outside input: a primary key from a URL or a payload, and the filters a list
endpoint was given."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

ModelT = TypeVar("ModelT", bound=Model)


# Primary keys are PostgreSQL bigints (SQLite's integers): a number outside this range cannot
# name a row, and handed to the database it fails there (DataError, or SQLite's OverflowError).
PK_MIN, PK_MAX = 1, 2**63 - 1


def pk_or_none(value: Any) -> int | None:
    """``value`` as an integer primary key, or None when it is not one (then no row matches):
    not a whole number, or outside ``PK_MIN..PK_MAX``."""
    if isinstance(value, bool):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return pk if PK_MIN <= pk <= PK_MAX else None


def filter_given(qs: QuerySet[ModelT], **lookups: Any) -> QuerySet[ModelT]:
    """``qs`` filtered, in order, by each lookup that was given a value: not None, nor an empty
    string or list (0 and False are values)."""
    for lookup, value in lookups.items():
        if value is None or (isinstance(value, str | list | tuple) and not value):
            continue
        qs = qs.filter(**{lookup: value})
    return qs
