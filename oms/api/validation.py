"""Input parsing for the API (first written for the inventory endpoints): the contract's 400 / 422 split.

* 400 ``malformed_request``: the body (or query) does not have the right shape: a value of the
  wrong type (a string where a number goes, an object where a list goes, ``null``), a body that is
  not an object. The ``Strict*`` fields below re-code the errors of their type conversion
  (``to_internal_value``) as ``wrong_type``; DRF's own ``not_a_list`` / ``not_a_dict`` and a
  serializer's "expected a dictionary" count as shape errors too.
* 422 ``invalid_input``: well-formed input whose meaning is wrong (out of range, unknown choice,
  missing field) -- raised as the ordinary DRF ``ValidationError`` the exception handler renders.
"""

from __future__ import annotations

from typing import Any, TypeVar

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from oms.errors import MalformedInput

WRONG_TYPE = "wrong_type"
_CONVERSION_CODES = frozenset({"invalid", "max_string_length"})
_SHAPE_CODES = frozenset({WRONG_TYPE, "not_a_list", "not_a_dict", "null"})


def _recode(detail: Any) -> Any:
    if isinstance(detail, list):
        return [_recode(item) for item in detail]
    if isinstance(detail, dict):
        return {key: _recode(value) for key, value in detail.items()}
    if isinstance(detail, ErrorDetail) and detail.code in _CONVERSION_CODES:
        return ErrorDetail(str(detail), code=WRONG_TYPE)
    return detail


class _StrictTypeMixin:
    """Errors of the type conversion itself are shape errors (400), not meaning errors (422)."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)  # type: ignore[misc]  # the field it is mixed into
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_recode(exc.detail)) from exc


class StrictCharField(_StrictTypeMixin, serializers.CharField):
    """A JSON string only (DRF would turn 12 or true into "12" / "True")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(ErrorDetail("Not a valid string.", code=WRONG_TYPE))
        return super().to_internal_value(data)


class StrictIntegerField(_StrictTypeMixin, serializers.IntegerField):
    pass


class StrictFloatField(serializers.FloatField):
    """A number, never a boolean (DRF would take true as 1.0, which the schema's ``number``
    refuses). A numeric string is still taken, as before, so existing clients keep working."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            raise serializers.ValidationError(ErrorDetail("A valid number is required.", code=WRONG_TYPE))
        return float(super().to_internal_value(data))


class StrictDecimalField(_StrictTypeMixin, serializers.DecimalField):
    pass


class StrictBooleanField(_StrictTypeMixin, serializers.BooleanField):
    """JSON true / false only (DRF would also take 0, 1, "yes", "on" ...)."""

    def to_internal_value(self, data: Any) -> bool:
        if data is True or data is False:
            return data
        raise serializers.ValidationError(ErrorDetail("Must be true or false.", code=WRONG_TYPE))


def _is_shape_error(detail: Any, key: str | None = None) -> bool:
    if isinstance(detail, dict):
        return any(_is_shape_error(value, str(name)) for name, value in detail.items())
    if isinstance(detail, list):
        return any(_is_shape_error(item, key) for item in detail)
    if not isinstance(detail, ErrorDetail):
        return False
    if detail.code in _SHAPE_CODES:
        return True
    # "Invalid data. Expected a dictionary, but got list." (the body or a nested object)
    return key == api_settings.NON_FIELD_ERRORS_KEY and detail.code == "invalid"


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key == api_settings.NON_FIELD_ERRORS_KEY else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(next((d for d in detail if d), detail[0]))
    return str(detail)


S = TypeVar("S", bound=serializers.Serializer)


def parse_input(serializer_class: type[S], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Validate ``data`` with an input serializer; 400 for a wrong shape, 422 for a wrong meaning."""
    serializer = serializer_class(data=data, **kwargs)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    errors = serializer.errors
    if _is_shape_error(errors):
        raise MalformedInput(
            _first_message(errors) or "The request does not have the expected shape.",
            extra={"fields": errors},
        )
    raise serializers.ValidationError(errors)
