"""The single exception handler: every error leaves the API as {"code", "message", "extra"}."""

from __future__ import annotations

import logging
from typing import Any, Protocol, cast

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connection
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from oms.errors import DomainError

logger = logging.getLogger(__name__)

_DRF_CODES: dict[type[exceptions.APIException], tuple[int, str]] = {
    exceptions.ParseError: (400, "malformed_request"),
    exceptions.NotAuthenticated: (401, "not_authenticated"),
    exceptions.AuthenticationFailed: (401, "authentication_failed"),
    exceptions.PermissionDenied: (403, "permission_denied"),
    exceptions.NotFound: (404, "not_found"),
    exceptions.MethodNotAllowed: (405, "method_not_allowed"),
    exceptions.NotAcceptable: (406, "not_acceptable"),
    exceptions.UnsupportedMediaType: (415, "unsupported_media_type"),
    exceptions.Throttled: (429, "throttled"),
}


class _Throttled(Protocol):
    """``Throttled.wait``: set in its ``__init__`` (seconds, or None), missing from the DRF stubs."""

    wait: float | None


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key in ("non_field_errors", "detail") else f"{key}: {inner}"
    return str(detail)


def error_response(
    code: str, message: str, extra: dict[str, Any] | None = None, *, status_code: int
) -> Response:
    return Response({"code": code, "message": message, "extra": extra or {}}, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    set_rollback()
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, exc.extra, status_code=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        return error_response(
            "invalid_input",
            _first_message(detail) or "The request is not valid.",
            {"fields": detail if isinstance(detail, dict) else {"non_field_errors": detail}},
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return error_response("invalid_input", _first_message(fields), {"fields": fields}, status_code=422)
    if isinstance(exc, Http404):
        return error_response("not_found", "Not found.", status_code=404)
    if isinstance(exc, DjangoPermissionDenied):
        return error_response("permission_denied", "You may not do this.", status_code=403)
    if isinstance(exc, exceptions.APIException):
        http_status, code = next(
            (v for k, v in _DRF_CODES.items() if isinstance(exc, k)), (exc.status_code, "error")
        )
        extra: dict[str, Any] = {}
        response = error_response(code, _first_message(exc.detail), extra, status_code=http_status)
        wait = cast(_Throttled, exc).wait if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            extra["retry_after_seconds"] = int(wait) + 1
            response["Retry-After"] = str(int(wait) + 1)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response["WWW-Authenticate"] = "Bearer"
        return response
    # Last line of defence: input the validators missed must still not become a 500.
    if isinstance(exc, DataError):
        logger.warning("DataError reached the API: %s", exc)
        return error_response("invalid_input", "A value is out of range for its field.", status_code=422)
    if isinstance(exc, IntegrityError):
        logger.warning("IntegrityError reached the API: %s", exc)
        return error_response("conflict", "The change conflicts with existing data.", status_code=409)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away mid-request (failover, restart, a killed connection): the
        # transaction was rolled back, so the client may retry (with the same Idempotency-Key).
        logger.error("database unavailable: %s", exc)
        connection.close_if_unusable_or_obsolete()
        response = error_response(
            "service_unavailable",
            "The database is unavailable; nothing was changed. Retry shortly.",
            status_code=503,
        )
        response["Retry-After"] = "1"
        return response
    return None
