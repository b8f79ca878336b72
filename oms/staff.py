"""Staff: who they are, their role, the locations they work at, and their API token.

The locations are ``inventory.Location`` rows, reached through the relation
(``StaffProfile.locations``) so that the kernel never imports the inventory app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Model

from .authentication import STAFF_KEY_PREFIX
from .choices import StaffRole
from .errors import Conflict, InvalidInput, NotFound
from .models import StaffProfile, generate_key, hash_key


def _location_model() -> type[Model]:
    """``inventory.Location``, the model on the other side of ``StaffProfile.locations``."""
    model = StaffProfile.locations.rel.related_model
    assert isinstance(model, type)  # noqa: S101 (narrowing for mypy: a resolved relation)
    return model


@transaction.atomic
def staff_create(
    *,
    username: str,
    role: str,
    location_codes: list[str] | None = None,
    password: str | None = None,
    email: str = "",
    rotate: bool = False,
) -> tuple[StaffProfile, str]:
    """Create (or, with ``rotate``, re-key) a staff member and return the new API token.

    The token is also the admin password unless ``password`` is given, so the one printed
    secret opens both the API and the Django admin."""
    if role not in StaffRole.values:
        raise InvalidInput(f"Unknown role '{role}'; use manager or associate.", code="unknown_role")
    codes = [c for c in (location_codes or []) if c]
    locations: list[Any] = list(_location_model()._default_manager.filter(code__in=codes))
    missing = sorted(set(codes) - {loc.code for loc in locations})
    if missing:
        raise NotFound(
            f"Unknown location(s): {', '.join(missing)}.",
            code="unknown_location",
            extra={"locations": missing},
        )
    if role == StaffRole.ASSOCIATE and not locations:
        raise InvalidInput(
            "An associate needs at least one location (--locations).", code="locations_required"
        )
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None and not rotate:
        raise Conflict(
            f"User '{username}' already exists; pass --rotate to issue a new key.", code="staff_exists"
        )
    if user is None:
        user = user_model.objects.create_user(username=username, email=email)
    token = generate_key(STAFF_KEY_PREFIX)
    user.set_password(password or token)
    user.is_staff = True  # may log into the Django admin
    user.is_superuser = role == StaffRole.MANAGER
    user.save()
    profile, _ = StaffProfile.objects.update_or_create(
        user=user, defaults={"role": role, "token_prefix": token[:12], "token_hash": hash_key(token)}
    )
    profile.locations.set(locations)
    return profile, token
