"""Django's own error pages, answered in the house format under ``/api/``.

Most API errors go through DRF's exception handler; these cover what happens before or outside a
DRF view: a path no route matches (``/api/v1/orders/0.5/cancel/``), Django's CSRF check, and the
404/403/400/500 handlers of the URLconf. Outside ``/api/`` Django's HTML pages stay as they are
(the admin)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "extra": {}}, status=status)


@csrf_exempt  # a JSON 404 needs no CSRF token; API calls authenticate by key, not by cookie
def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return _error("not_found", f"No API endpoint at /api/{rest}.", 404)


def csrf_failure(request: HttpRequest, reason: str = "", **kwargs: Any) -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: only a cookie-authenticated (browser) call can get here."""
    if _is_api(request):
        return _error(
            "csrf_failed",
            "CSRF check failed: a session-authenticated call needs the CSRF token; "
            "API clients authenticate with 'Authorization: Bearer <key>'.",
            403,
        )
    return django_csrf_failure(request, reason=reason, **kwargs)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error("not_found", "Not found.", 404)
    return defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error("permission_denied", "You may not do this.", 403)
    return defaults.permission_denied(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error("malformed_request", "The request could not be understood.", 400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _error("server_error", "Something went wrong on our side; nothing was changed.", 500)
    return defaults.server_error(request)
