"""``Authorization: Bearer <key>`` for channel API clients and staff tokens; keys are stored hashed."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .actors import Actor
from .models import ApiClient, StaffProfile, hash_key

CLIENT_KEY_PREFIX = "oms"
STAFF_KEY_PREFIX = "omsstaff"


class ApiClientUser:
    """The request.user of a channel API client: authenticated, never staff, never superuser."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, client: ApiClient):
        self.api_client = client
        self.pk = None
        self.id = None
        self.username = f"client:{client.name}"

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


class BearerKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <key>'.")
        key = parts[1]
        digest = hash_key(key)
        if key.startswith(STAFF_KEY_PREFIX + "_"):
            profile = (
                StaffProfile.objects.select_related("user")
                .filter(token_hash=digest, user__is_active=True)
                .first()
            )
            if profile is None:
                raise exceptions.AuthenticationFailed("Invalid or revoked key.")
            return profile.user, Actor.for_user(profile.user)
        client = ApiClient.objects.select_related("channel").filter(key_hash=digest, active=True).first()
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked key.")
        # last_used_at at most once a minute, so hot paths do not write on every request.
        now = timezone.now()
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return ApiClientUser(client), Actor.for_api_client(client)

    def authenticate_header(self, request) -> str:  # type: ignore[no-untyped-def]
        return self.keyword


def actor_from_request(request) -> Actor:  # type: ignore[no-untyped-def]
    """The Actor of a DRF request, whichever authentication let it in (bearer key or admin session)."""
    if isinstance(request.auth, Actor):
        return request.auth
    cached = getattr(request, "_oms_actor", None)
    if cached is not None:
        return cached
    user = request.user
    actor = Actor.for_user(user) if user is not None and user.is_authenticated else Actor.system("anonymous")
    request._oms_actor = actor
    return actor


def user_model():  # type: ignore[no-untyped-def]
    return get_user_model()


class BearerKeyScheme(OpenApiAuthenticationExtension):
    """Documents the bearer keys in the OpenAPI schema (drf-spectacular picks subclasses up)."""

    target_class = "oms.authentication.BearerKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A channel API key (create_api_client) or a staff token (create_staff).",
        }
