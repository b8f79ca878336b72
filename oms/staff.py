"""Staff: who they are, their role, the locations they work at, and their API token.

The locations are ``inventory.Location`` rows, reached through the relation
(``StaffProfile.locations``) so that the kernel never imports the inventory app. Every change of a
staff member writes one ``StaffEvent`` row (the audit trail), with the actor who made it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Model, QuerySet

from .actors import Actor
from .authentication import STAFF_KEY_PREFIX
from .choices import StaffEventKind, StaffRole
from .errors import Conflict, InvalidInput, NotFound, PermissionDenied
from .lookups import pk_or_none
from .models import StaffEvent, StaffProfile, generate_key, hash_key

MAX_ID = 2**63 - 1


def _location_model() -> type[Model]:
    """``inventory.Location``, the model on the other side of ``StaffProfile.locations``."""
    model = StaffProfile.locations.rel.related_model
    assert isinstance(model, type)  # noqa: S101 (narrowing for mypy: a resolved relation)
    return model


# --- Reads ---------------------------------------------------------------------------------------------


def staff_list() -> QuerySet[StaffProfile]:
    """Every staff member with their user and locations (for a list endpoint to filter)."""
    return StaffProfile.objects.select_related("user").prefetch_related("locations")


def staff_get(*, staff_id: Any) -> StaffProfile:
    """One staff member with their locations and audit trail; 404 ``staff_not_found``."""
    pk = pk_or_none(staff_id)
    profile = (
        staff_list().prefetch_related("events").filter(pk=pk).first() if pk and 0 < pk <= MAX_ID else None
    )
    if profile is None:
        raise NotFound(f"No staff member {staff_id}.", code="staff_not_found")
    return profile


# --- Checks ---------------------------------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in StaffRole.values:
        raise InvalidInput(f"Unknown role '{role}'; use manager or associate.", code="unknown_role")


def _locations(codes: list[str] | None) -> list[Any]:
    """The locations of ``codes``; 404 ``unknown_location`` with the codes that match none."""
    wanted = [c for c in (codes or []) if c]
    locations: list[Any] = list(_location_model()._default_manager.filter(code__in=wanted).order_by("pk"))
    missing = sorted(set(wanted) - {loc.code for loc in locations})
    if missing:
        raise NotFound(
            f"Unknown location(s): {', '.join(missing)}.",
            code="unknown_location",
            extra={"locations": missing},
        )
    return locations


def _check_scope(role: str, locations: list[Any]) -> None:
    """An associate works somewhere: at least one location (rows or codes)."""
    if role == StaffRole.ASSOCIATE and not locations:
        raise InvalidInput(
            "An associate needs at least one location (--locations).", code="locations_required"
        )


# --- Writes ---------------------------------------------------------------------------------------------


STATE_FIELDS = ("name", "email", "role", "locations", "active")


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Each field whose value changed, as [before, after] (the audit trail's ``changes``)."""
    return {key: [before[key], after[key]] for key in after if before[key] != after[key]}


def _state(profile: StaffProfile) -> dict[str, Any]:
    """The fields an update may change, as the audit trail records them."""
    user = profile.user
    codes = sorted(profile.locations.values_list("code", flat=True))
    return {
        "name": user.first_name,
        "email": user.email,
        "role": profile.role,
        "locations": codes,
        "active": user.is_active,
    }


def _event_record(*, profile: StaffProfile, kind: str, actor: Actor, changes: dict[str, Any]) -> None:
    StaffEvent.objects.create(
        staff=profile, kind=kind, changes=changes, actor_type=actor.type, actor_name=actor.name[:200]
    )


def _token_issue(profile: StaffProfile, *, password: str | None = None) -> str:
    """A new token for ``profile`` (the former one stops working at once). The token is also the
    admin password unless ``password`` is given, so a rotated token no longer opens the admin."""
    token = generate_key(STAFF_KEY_PREFIX)
    profile.user.set_password(password or token)
    profile.user.save(update_fields=["password"])
    profile.token_prefix, profile.token_hash = token[:12], hash_key(token)
    profile.save(update_fields=["token_prefix", "token_hash", "updated_at"])
    return token


@transaction.atomic
def staff_create(
    *,
    username: str,
    role: str,
    location_codes: list[str] | None = None,
    password: str | None = None,
    email: str = "",
    name: str = "",
    rotate: bool = False,
    actor: Actor | None = None,
) -> tuple[StaffProfile, str]:
    """Create (or, with ``rotate``, re-key) a staff member and return the new API token.

    The token is also the admin password unless ``password`` is given, so the one printed
    secret opens both the API and the Django admin. 409 ``staff_exists`` for a taken username."""
    actor = actor or Actor.system("create_staff")
    _check_role(role)
    locations = _locations(location_codes)
    _check_scope(role, locations)
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None and not rotate:
        raise Conflict(
            f"User '{username}' already exists; rotate its token instead (create_staff --rotate, "
            "POST /api/v1/staff/{id}/rotate-token).",
            code="staff_exists",
            extra={"username": username},
        )
    if user is None:
        user = user_model.objects.create_user(username=username, email=email, first_name=name[:150])
    existing = StaffProfile.objects.filter(user=user).select_related("user").first()
    before = _state(existing) if existing is not None else dict.fromkeys(STATE_FIELDS)
    prefix = existing.token_prefix if existing is not None else None
    user.is_staff = True  # may log into the Django admin
    user.is_superuser = role == StaffRole.MANAGER
    user.save()
    profile, _ = StaffProfile.objects.update_or_create(user=user, defaults={"role": role})
    profile.locations.set(locations)
    token = _token_issue(profile, password=password)
    after = {**_state(profile), "token_prefix": token[:12]}
    diff = _diff({**before, "token_prefix": prefix}, after)
    kind = StaffEventKind.CREATED if existing is None else StaffEventKind.TOKEN_ROTATED
    _event_record(profile=profile, kind=kind, actor=actor, changes=diff)
    return profile, token


@dataclass(frozen=True)
class StaffChanges:
    """What an update changes; None leaves a field as it is."""

    name: str | None = None
    email: str | None = None
    role: str | None = None
    location_codes: list[str] | None = None
    active: bool | None = None


def _changed(before: dict[str, Any], changes: StaffChanges, locations: list[Any] | None) -> dict[str, Any]:
    """``before`` with what ``changes`` gives (``locations``: the rows of its location codes)."""
    given = {k: v for k, v in asdict(changes).items() if v is not None and k != "location_codes"}
    after = {**before, **given}
    after["name"] = after["name"][:150]
    if locations is not None:
        after["locations"] = sorted(loc.code for loc in locations)
    return after


def _lock(staff_id: Any) -> StaffProfile:
    pk = staff_get(staff_id=staff_id).pk
    return StaffProfile.objects.select_for_update().select_related("user").get(pk=pk)


def _check_not_self_lockout(profile: StaffProfile, *, actor: Actor, after: dict[str, Any]) -> None:
    if actor.user_id == profile.user_id and (not after["active"] or after["role"] != StaffRole.MANAGER):
        raise Conflict(
            "You may not deactivate yourself or give up your own manager role; ask another manager.",
            code="staff_self_lockout",
        )


@transaction.atomic(durable=True)
def staff_update(*, staff_id: Any, changes: StaffChanges, actor: Actor) -> StaffProfile:
    """Change a staff member's name, e-mail, role, locations or active flag, audited (one
    ``StaffEvent`` with each changed field's before and after; ``deactivated`` / ``reactivated``
    when ``active`` changed; nothing when nothing changed). A deactivated member's token and admin
    login stop working at once."""
    profile = _lock(staff_id)
    locations = None if changes.location_codes is None else _locations(changes.location_codes)
    before = _state(profile)
    after = _changed(before, changes, locations)
    _check_role(after["role"])
    _check_scope(after["role"], after["locations"])
    _check_not_self_lockout(profile, actor=actor, after=after)
    diff = _diff(before, after)
    if diff:
        user = profile.user
        user.first_name, user.email, user.is_active = after["name"], after["email"], after["active"]
        user.is_superuser = after["role"] == StaffRole.MANAGER
        user.save(update_fields=["first_name", "email", "is_active", "is_superuser"])
        profile.role = after["role"]
        profile.save(update_fields=["role", "updated_at"])
        if locations is not None:
            profile.locations.set(locations)
        kind = StaffEventKind.UPDATED
        if "active" in diff:
            kind = StaffEventKind.REACTIVATED if after["active"] else StaffEventKind.DEACTIVATED
        _event_record(profile=profile, kind=kind, actor=actor, changes=diff)
    return staff_get(staff_id=profile.pk)


def staff_deactivate(*, staff_id: Any, actor: Actor) -> StaffProfile:
    """Turn a staff member off: their token and admin login stop working (reversible by an update)."""
    return staff_update(staff_id=staff_id, changes=StaffChanges(active=False), actor=actor)


@transaction.atomic(durable=True)
def staff_token_rotate(*, staff_id: Any, actor: Actor) -> tuple[StaffProfile, str]:
    """A new token (and admin password) for a staff member, returned once; the former token stops
    working at once. Audited as ``token_rotated`` (the token itself is never recorded)."""
    profile = _lock(staff_id)
    prefix = profile.token_prefix
    token = _token_issue(profile)
    changes = {"token_prefix": [prefix, token[:12]]}
    _event_record(profile=profile, kind=StaffEventKind.TOKEN_ROTATED, actor=actor, changes=changes)
    return staff_get(staff_id=profile.pk), token


# --- Acting through an in-person channel ------------------------------------------------------------------


def staff_actor_for_associate(*, actor: Actor, associate: str) -> Actor:
    """Who receives or refunds a return: staff as themselves; an in-person channel key (a POS) as the
    associate it names by username, an active staff member, recorded as acting ``via`` the key.

    The services then check that actor's locations against the return's (403
    ``location_not_permitted``). 403 ``associate_required`` when an in-person key names nobody, 403
    ``associate_unknown`` for a name that is no active staff member; 422 ``associate_not_expected``
    when a staff token names one (staff act as themselves)."""
    associate = associate.strip()
    if not actor.is_in_person_channel:
        if associate:
            raise InvalidInput(
                "Only in-person channel keys (POS, call centre) name an associate; staff act as themselves.",
                code="associate_not_expected",
            )
        return actor
    if not associate:
        raise PermissionDenied(
            "An in-person channel receives and refunds for a store associate: give their username "
            "in 'associate'.",
            code="associate_required",
        )
    user = (
        get_user_model()
        .objects.select_related("staff_profile")
        .filter(username=associate, is_active=True, staff_profile__isnull=False)
        .first()
    )
    if user is None:
        raise PermissionDenied(
            f"'{associate}' is not an active staff member.",
            code="associate_unknown",
            extra={"associate": associate},
        )
    return Actor.for_user(user).through(actor)
