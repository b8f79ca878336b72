"""oms.staff: the audit trail of every change, and who a POS acts as (the associate it names)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from oms.actors import Actor
from oms.choices import ChannelKind
from oms.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from oms.models import StaffEvent, StaffProfile
from oms.staff import (
    StaffChanges,
    staff_actor_for_associate,
    staff_create,
    staff_get,
    staff_token_rotate,
    staff_update,
)
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

BOSS = Actor(type="staff", name="boss", role="manager", user_id=None)
POS = Actor(type="channel", name="till-1", api_client_id=1, channel_id=1, channel_kind=ChannelKind.POS)
WEB = Actor(type="channel", name="shop", api_client_id=2, channel_id=2, channel_kind=ChannelKind.WEB)


def test_the_shell_command_is_audited_as_the_system(capsys):
    StoreFactory(code="st-1")
    call_command("create_staff", username="ann", role="associate", locations="st-1")
    call_command("create_staff", username="ann", role="associate", locations="st-1", rotate=True)
    events = StaffEvent.objects.filter(staff__user__username="ann").order_by("pk")
    assert [(e.kind, e.actor_type, e.actor_name) for e in events] == [
        ("created", "system", "create_staff"),
        ("token_rotated", "system", "create_staff"),
    ]


def test_update_records_each_changed_field_and_a_failed_one_writes_nothing():
    store, other = StoreFactory(code="st-1"), StoreFactory(code="st-2")
    profile, _ = staff_create(username="ann", role="associate", location_codes=[store.code], actor=BOSS)
    staff_update(staff_id=profile.pk, changes=StaffChanges(location_codes=["st-2"], name="Ann"), actor=BOSS)
    event = StaffEvent.objects.filter(staff=profile).last()
    assert event is not None
    assert (event.kind, event.changes) == (
        "updated",
        {"name": ["", "Ann"], "locations": [["st-1"], ["st-2"]]},
    )
    assert list(staff_get(staff_id=profile.pk).locations.all()) == [other]
    with pytest.raises(InvalidInput):
        staff_update(staff_id=profile.pk, changes=StaffChanges(location_codes=[]), actor=BOSS)
    with pytest.raises(InvalidInput):
        staff_update(staff_id=profile.pk, changes=StaffChanges(role="owner"), actor=BOSS)
    assert StaffEvent.objects.filter(staff=profile).count() == 2
    with pytest.raises(NotFound):
        staff_get(staff_id="-1")


def test_a_manager_may_not_lock_themselves_out():
    profile, _ = staff_create(username="boss", role="manager")
    me = Actor.for_user(profile.user)
    with pytest.raises(Conflict):
        staff_update(staff_id=profile.pk, changes=StaffChanges(active=False), actor=me)
    staff_update(staff_id=profile.pk, changes=StaffChanges(name="The Boss"), actor=me)
    _, token = staff_token_rotate(staff_id=profile.pk, actor=me)
    assert StaffProfile.objects.get(pk=profile.pk).token_prefix == token[:12]


def test_a_pos_acts_as_the_active_associate_it_names():
    store = StoreFactory(code="st-1")
    profile, _ = staff_create(username="clerk", role="associate", location_codes=[store.code])
    acting = staff_actor_for_associate(actor=POS, associate=" clerk ")
    assert (acting.type, acting.name, acting.role, acting.via) == ("staff", "clerk", "associate", "till-1")
    assert acting.may_act_at(store.pk)
    assert not acting.is_channel
    for name, code in (("", "associate_required"), ("ghost", "associate_unknown")):
        with pytest.raises(PermissionDenied) as refused:
            staff_actor_for_associate(actor=POS, associate=name)
        assert refused.value.code == code
    staff_update(staff_id=profile.pk, changes=StaffChanges(active=False), actor=BOSS)
    with pytest.raises(PermissionDenied):
        staff_actor_for_associate(actor=POS, associate="clerk")


def test_other_callers_act_as_themselves():
    assert staff_actor_for_associate(actor=BOSS, associate="") is BOSS
    assert staff_actor_for_associate(actor=WEB, associate="") is WEB  # the service then refuses it
    with pytest.raises(InvalidInput) as refused:
        staff_actor_for_associate(actor=BOSS, associate="clerk")
    assert refused.value.code == "associate_not_expected"
