"""``Authorization: Bearer <key>`` for channel API clients and staff tokens; keys are stored hashed.

A channel client's key is looked up once, then kept in this process for
``OMS_API_KEY_CACHE_SECONDS`` (default 5; 0 looks it up on every request): every endpoint saves the
query. Saving an ``ApiClient`` (deactivating it in the admin, renaming it) or a ``Channel`` drops the
cached entries of this process at once and again at commit; **another process may still accept a
revoked key, or use the channel's former settings, for up to that many seconds**. A change made with
``QuerySet.update()`` sends no signal and is seen when the entry expires. Staff tokens are not cached.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .actors import Actor
from .models import ApiClient, Channel, StaffProfile, hash_key

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

    def authenticate(self, request):
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
        cached = _client_cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            _, user, actor = cached
            _touch(user.api_client)
            return user, actor
        client = ApiClient.objects.select_related("channel").filter(key_hash=digest, active=True).first()
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked key.")
        user, actor = ApiClientUser(client), Actor.for_api_client(client)
        ttl = settings.OMS_API_KEY_CACHE_SECONDS
        if ttl > 0:
            if len(_client_cache) >= KEY_CACHE_MAX_ENTRIES:
                _client_cache.clear()
            _client_cache[digest] = (time.monotonic() + ttl, user, actor)
        _touch(client)
        return user, actor

    def authenticate_header(self, request) -> str:
        return self.keyword


def _touch(client: ApiClient) -> None:
    """``last_used_at`` at most once a minute per process, so hot paths do not write on every
    request (the in-memory value is moved on too, for the cached client)."""
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > LAST_USED_EVERY_SECONDS:
        client.last_used_at = now
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)


# --- The key cache ----------------------------------------------------------------------------------

KEY_CACHE_MAX_ENTRIES = 1000  # valid keys only; a process serves a handful of clients
LAST_USED_EVERY_SECONDS = 60

# SHA-256 of a key -> (monotonic expiry, request.user, request.auth) of its active client.
_client_cache: dict[str, tuple[float, ApiClientUser, Actor]] = {}


def api_key_cache_clear() -> None:
    """Forget every cached key of this process (a client or a channel changed)."""
    _client_cache.clear()


def _clear_now_and_at_commit() -> None:
    # Now, so this process stops using the old row; at commit, in case a concurrent request cached
    # the row as it was before the change committed.
    api_key_cache_clear()
    transaction.on_commit(api_key_cache_clear)


@receiver(post_save, sender=ApiClient, dispatch_uid="oms.api_key_cache.client_saved")
@receiver(post_delete, sender=ApiClient, dispatch_uid="oms.api_key_cache.client_deleted")
@receiver(post_save, sender=Channel, dispatch_uid="oms.api_key_cache.channel_saved")
@receiver(post_delete, sender=Channel, dispatch_uid="oms.api_key_cache.channel_deleted")
def _api_key_cache_invalidate(sender: Any, **kwargs: Any) -> None:
    """Cache coherence, not a business rule: a revoked key stops working in this process at once."""
    _clear_now_and_at_commit()


def channel_from_request(request) -> Channel | None:
    """The channel of a channel API client's request, as authentication loaded it (no query);
    None for staff and admin sessions."""
    user = request.user
    if isinstance(user, ApiClientUser):
        return user.api_client.channel
    return None


def actor_from_request(request) -> Actor:
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


def user_model():
    return get_user_model()


class BearerKeyScheme(OpenApiAuthenticationExtension):
    """Documents the bearer keys in the OpenAPI schema (drf-spectacular picks subclasses up)."""

    target_class = "oms.authentication.BearerKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A channel API key (create_api_client) or a staff token (create_staff).",
        }
