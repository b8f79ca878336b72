"""Input and output of /api/v1/staff. Inputs check shapes; ``oms.staff`` checks meaning (roles,
locations, who may change whom)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from oms.api.validation import StrictBooleanField, StrictCharField
from oms.choices import StaffEventKind, StaffRole
from oms.models import StaffEvent, StaffProfile
from oms.staff import StaffChanges

MAX_LOCATIONS = 500


def _locations_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=StrictCharField(max_length=64),
        max_length=MAX_LOCATIONS,
        source="location_codes",
        help_text="Codes of the locations an associate acts at (at least one for an associate).",
        **kwargs,
    )


class StaffCreateInput(serializers.Serializer):
    """The keyword arguments of ``staff_create``."""

    username = StrictCharField(max_length=150, validators=[UnicodeUsernameValidator()])
    name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=StaffRole.choices)
    locations = _locations_field(required=False, default=list)


class StaffUpdateInput(serializers.Serializer):
    """Every field optional: only those given change."""

    name = StrictCharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=StaffRole.choices, required=False)
    locations = _locations_field(required=False)
    active = StrictBooleanField(
        required=False, help_text="False turns the token and admin login off at once; true back on."
    )

    def changes(self) -> StaffChanges:
        return StaffChanges(**self.validated_data)


def _before_after(child: serializers.Field) -> serializers.ListField:
    return serializers.ListField(child=child, min_length=2, max_length=2, required=False)


class StaffEventChangesOutput(serializers.Serializer):
    """Each field the change changed, as [before, after] (before is null on creation)."""

    name = _before_after(serializers.CharField(allow_null=True))
    email = _before_after(serializers.CharField(allow_null=True))
    role = _before_after(serializers.ChoiceField(choices=StaffRole.choices, allow_null=True))
    locations = _before_after(serializers.ListField(child=serializers.CharField(), allow_null=True))
    active = _before_after(serializers.BooleanField(allow_null=True))
    token_prefix = _before_after(serializers.CharField(allow_null=True))


class StaffEventOutput(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=StaffEventKind.choices)
    changes = StaffEventChangesOutput()

    class Meta:
        model = StaffEvent
        fields = ["id", "kind", "changes", "actor_type", "actor_name", "created_at"]
        read_only_fields = fields


class StaffOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    name = serializers.CharField(source="user.first_name")
    email = serializers.CharField(source="user.email")
    role = serializers.ChoiceField(choices=StaffRole.choices)
    locations = serializers.SerializerMethodField(help_text="Codes of the locations they act at.")
    active = serializers.BooleanField(source="user.is_active")
    token_prefix = serializers.CharField(help_text="The first characters of the current token.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_locations(self, profile: StaffProfile) -> list[str]:
        return sorted(loc.code for loc in profile.locations.all())


class StaffDetailOutput(StaffOutput):
    events = StaffEventOutput(many=True, help_text="The audit trail: every change, oldest first.")


class StaffTokenOutput(StaffDetailOutput):
    token = serializers.SerializerMethodField(
        help_text="The new API token (also the admin password): shown only now."
    )

    def get_token(self, profile: StaffProfile) -> str:
        return self.context["token"]
