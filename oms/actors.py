"""Who is acting: every service takes an ``Actor`` so the ledger and timelines record it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .choices import IN_PERSON_CHANNEL_KINDS, ActorType, StaffRole

if TYPE_CHECKING:
    from .models import ApiClient


@dataclass(frozen=True)
class Actor:
    type: str
    name: str
    user_id: int | None = None
    api_client_id: int | None = None
    channel_id: int | None = None
    channel_kind: str | None = None
    role: str | None = None
    location_ids: frozenset[int] = field(default_factory=frozenset)
    # The in-person channel client (a POS) a staff member acted through, by its name; "" otherwise.
    via: str = ""

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(type=ActorType.SYSTEM, name=name)

    @classmethod
    def for_api_client(cls, client: ApiClient) -> Actor:
        return cls(
            type=ActorType.CHANNEL,
            name=client.name,
            api_client_id=client.pk,
            channel_id=client.channel_id,
            channel_kind=client.channel.kind,
        )

    @classmethod
    def for_user(cls, user) -> Actor:
        profile = getattr(user, "staff_profile", None)
        if user.is_superuser:
            role = StaffRole.MANAGER
        elif profile is not None:
            role = profile.role
        else:
            role = None
        location_ids: frozenset[int] = frozenset()
        if profile is not None and role == StaffRole.ASSOCIATE:
            location_ids = frozenset(profile.locations.values_list("pk", flat=True))
        return cls(
            type=ActorType.STAFF,
            name=user.get_username(),
            user_id=user.pk,
            role=role,
            location_ids=location_ids,
        )

    def through(self, channel: Actor) -> Actor:
        """This staff member acting through ``channel``'s key (an associate at a POS)."""
        return replace(self, via=channel.name)

    # --- questions ----------------------------------------------------------------------------
    @property
    def is_manager(self) -> bool:
        return self.type == ActorType.STAFF and self.role == StaffRole.MANAGER

    @property
    def is_associate(self) -> bool:
        return self.type == ActorType.STAFF and self.role == StaffRole.ASSOCIATE

    @property
    def is_staff(self) -> bool:
        return self.type == ActorType.STAFF and self.role is not None

    @property
    def is_channel(self) -> bool:
        return self.type == ActorType.CHANNEL

    @property
    def is_system(self) -> bool:
        return self.type == ActorType.SYSTEM

    @property
    def is_in_person_channel(self) -> bool:
        return self.is_channel and self.channel_kind in IN_PERSON_CHANNEL_KINDS

    def may_act_at(self, location_id: int) -> bool:
        """Managers and the system act anywhere; associates only at their locations."""
        if self.is_manager or self.is_system:
            return True
        return self.is_associate and location_id in self.location_ids

    @property
    def label(self) -> str:
        return f"{self.type}:{self.name}"
