"""Look-ups from outside input: a primary key from a URL or a payload, and the filters a list
endpoint was given."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

ModelT = TypeVar("ModelT", bound=Model)


def pk_or_none(value: Any) -> int | None:
    """``value`` as an integer primary key, or None when it is not one (then no row matches)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def filter_given(qs: QuerySet[ModelT], **lookups: Any) -> QuerySet[ModelT]:
    """``qs`` filtered, in order, by each lookup that was given a value: not None, nor an empty
    string or list (0 and False are values)."""
    for lookup, value in lookups.items():
        if value is None or (isinstance(value, str | list | tuple) and not value):
            continue
        qs = qs.filter(**{lookup: value})
    return qs
