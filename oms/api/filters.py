"""Query-string filters as strict as the schema says: a row id is a whole number in the database's
integer range, a flag is ``true`` or ``false``; anything else is refused (422 ``invalid_input``)
instead of reaching the database (an ``OverflowError`` on SQLite, a ``DataError`` on PostgreSQL)
or being silently ignored (``?ships=null`` used to list every location)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

from oms.lookups import PK_MAX, PK_MIN


@extend_schema_field({"type": "integer", "format": "int64", "minimum": PK_MIN, "maximum": PK_MAX})
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number within the database's integer range (else 422, never a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", PK_MIN)
        kwargs.setdefault("max_value", PK_MAX)
        super().__init__(*args, **kwargs)


class _TrueFalseField(forms.Field):
    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        if value is None:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError("Use true or false.", code="invalid")


@extend_schema_field({"type": "boolean"})
class TrueFalseFilter(django_filters.Filter):
    """``?flag=true`` or ``?flag=false`` (absent: no filter); ``1``, ``null``, ``""`` are refused."""

    field_class = _TrueFalseField


class StrictFilterSet(django_filters.FilterSet):
    """A filter set that refuses a filter of a typed value (a date-time, a choice, an id, a flag)
    given with none (``?created_before=``): django-filter would ignore it, though the schema says
    "" is not a date-time. A text filter given "" still matches everything, as "" is a string."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        blank = [
            name
            for name, field in self.filters.items()
            if not isinstance(field, django_filters.CharFilter) and "" in self.data.getlist(name)
        ]
        for name in blank:
            self.form.add_error(
                name, ValidationError("Give a value or leave the parameter out.", code="blank")
            )
        return valid and not blank
