"""Look-ups from outside input: a primary key from a URL or a payload, and the filters a list
endpoint was given."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from .errors import InvalidInput, NotFound
from .models import Channel

ModelT = TypeVar("ModelT", bound=Model)


# Primary keys are PostgreSQL bigints (SQLite's integers), counted up from 1: handed a number past
# the bigint range the database fails (DataError, or SQLite's OverflowError). The API takes ids up
# to 2**53 - 1, the largest integer a JSON number holds exactly (JavaScript's MAX_SAFE_INTEGER), so
# every id it names survives a client's JSON parser; no sequence gets near it.
PK_MIN, PK_MAX = 1, 2**53 - 1


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


def get_by_pk(qs: QuerySet[ModelT], value: Any, *, not_found: NotFound) -> ModelT:
    """The row of ``qs`` whose primary key is ``value``; ``not_found`` raised when ``value`` is no
    primary key or ``qs`` (what the actor may see) has no such row, alike, so ids do not leak."""
    pk = pk_or_none(value)
    row = qs.filter(pk=pk).first() if pk is not None else None
    if row is None:
        raise not_found
    return row


def filter_given(qs: QuerySet[ModelT], **lookups: Any) -> QuerySet[ModelT]:
    """``qs`` filtered, in order, by each lookup that was given a value: not None, nor an empty
    string or list (0 and False are values)."""
    for lookup, value in lookups.items():
        if value is None or (isinstance(value, str | list | tuple) and not value):
            continue
        qs = qs.filter(**{lookup: value})
    return qs


def channel_by_code(code: str) -> Channel:
    """The channel a request names by code; 422 ``unknown_channel`` when there is none."""
    channel = Channel.objects.filter(code=code).first()
    if channel is None:
        raise InvalidInput(f"Unknown channel '{code}'.", code="unknown_channel", extra={"channel": code})
    return channel
