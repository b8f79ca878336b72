"""/api/v1/staff: a manager lists, creates, updates, deactivates and re-keys staff; each change leaves
one audit row with who made it; tokens are shown once and the former one stops working."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from oms.models import StaffEvent, StaffProfile
from tests.factories import LocationFactory, StoreFactory

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def stores(db):
    return StoreFactory(code="st-1"), StoreFactory(code="st-2"), LocationFactory(code="wh-1")


def create(manager, **body):  # type: ignore[no-untyped-def]
    return manager.api.post("/api/v1/staff", body, format="json")


def test_a_manager_creates_an_associate_whose_token_works_once_shown(manager, stores):
    response = create(manager, username="ann", name="Ann Le", role="associate", locations=["st-1"])
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["username"], body["name"], body["role"], body["locations"], body["active"]) == (
        "ann",
        "Ann Le",
        "associate",
        ["st-1"],
        True,
    )
    assert body["token"].startswith("omsstaff_")
    assert body["token_prefix"] == body["token"][:12]
    assert [(e["kind"], e["actor_type"], e["actor_name"]) for e in body["events"]] == [
        ("created", "staff", "manager")
    ]
    # The token works as the associate, and is never shown again.
    ann = bearer(body["token"])
    assert ann.get("/api/v1/fulfillment-orders").status_code == 200
    assert ann.get("/api/v1/staff").status_code == 403
    detail = manager.api.get(f"/api/v1/staff/{body['id']}").json()
    assert "token" not in detail
    assert detail["events"][0]["changes"] == {
        "name": [None, "Ann Le"],
        "email": [None, ""],
        "role": [None, "associate"],
        "locations": [None, ["st-1"]],
        "active": [None, True],
        "token_prefix": [None, body["token_prefix"]],
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "bob", "role": "associate"}, 422, "locations_required"),
        ({"username": "bob", "role": "associate", "locations": ["nowhere"]}, 404, "unknown_location"),
        ({"username": "bob", "role": "owner"}, 422, "invalid_input"),
        ({"username": "bad name!", "role": "manager"}, 422, "invalid_input"),
        ({"role": "manager"}, 422, "invalid_input"),
        ({"username": "bob", "role": "manager", "email": "a" * 250 + "@x.io"}, 422, "invalid_input"),
        ({"username": "manager", "role": "manager"}, 409, "staff_exists"),
    ],
)
def test_bad_creations_are_refused_in_the_house_format(manager, stores, body, status, code):
    response = manager.api.post("/api/v1/staff", body, format="json")
    assert response.status_code == status, response.content
    error = response.json()
    assert set(error) == {"code", "message", "extra"}
    assert error["code"] == code
    assert StaffProfile.objects.count() == 1  # the manager only


def test_list_filters_by_role_location_username_and_active(manager, stores):
    create(manager, username="ann", role="associate", locations=["st-1"])
    create(manager, username="bob", role="associate", locations=["st-2", "wh-1"])
    create(manager, username="cat", role="manager")
    names = lambda **q: [s["username"] for s in manager.api.get("/api/v1/staff", q).json()["results"]]  # noqa: E731
    assert names() == ["manager", "ann", "bob", "cat"]
    assert names(role="associate") == ["ann", "bob"]
    assert names(location="wh-1") == ["bob"]
    assert names(username="cat") == ["cat"]
    assert names(active="false") == []
    assert manager.api.get("/api/v1/staff", {"role": "owner"}).status_code == 422
    assert manager.api.get("/api/v1/staff/999999").json()["code"] == "staff_not_found"
    assert manager.api.get("/api/v1/staff/abc").status_code == 404
    assert manager.api.get("/api/v1/staff/99999999999999999999999").status_code == 404


def test_update_changes_only_what_is_given_and_audits_before_and_after(manager, stores):
    staff_id = create(manager, username="ann", role="associate", locations=["st-1"]).json()["id"]
    url = f"/api/v1/staff/{staff_id}"
    response = manager.api.patch(url, {"name": "Ann", "locations": ["st-2", "st-1"]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["locations"], body["role"]) == ("Ann", ["st-1", "st-2"], "associate")
    event = body["events"][-1]
    assert event["kind"] == "updated"
    assert event["changes"] == {"name": ["", "Ann"], "locations": [["st-1"], ["st-1", "st-2"]]}
    # Promoted: a manager acts anywhere (and is a superuser in the admin).
    promoted = manager.api.patch(url, {"role": "manager"}, format="json").json()
    assert promoted["role"] == "manager"
    assert StaffProfile.objects.get(pk=staff_id).user.is_superuser
    # A change that changes nothing writes nothing.
    before = StaffEvent.objects.count()
    assert manager.api.patch(url, {"name": "Ann"}, format="json").status_code == 200
    assert StaffEvent.objects.count() == before
    # Demoted without locations: refused, nothing written.
    assert manager.api.patch(url, {"role": "associate", "locations": []}, format="json").status_code == 422
    assert manager.api.patch(url, {"locations": ["gone"]}, format="json").status_code == 404
    assert manager.api.patch(url, {"active": "maybe"}, format="json").status_code == 422
    assert StaffProfile.objects.get(pk=staff_id).role == "manager"
    assert manager.api.patch("/api/v1/staff/424242", {"name": "x"}, format="json").status_code == 404


def test_deactivate_stops_the_token_and_reactivation_restores_it(manager, stores):
    created = create(manager, username="ann", role="associate", locations=["st-1"]).json()
    ann = bearer(created["token"])
    response = manager.api.post(f"/api/v1/staff/{created['id']}/deactivate", {}, format="json")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["events"][-1]["kind"] == "deactivated"
    assert ann.get("/api/v1/fulfillment-orders").status_code == 401
    back = manager.api.patch(f"/api/v1/staff/{created['id']}", {"active": True}, format="json").json()
    assert back["events"][-1]["kind"] == "reactivated"
    assert ann.get("/api/v1/fulfillment-orders").status_code == 200


def test_rotate_token_returns_it_once_and_revokes_the_former(manager, stores):
    created = create(manager, username="ann", role="associate", locations=["st-1"]).json()
    response = manager.api.post(f"/api/v1/staff/{created['id']}/rotate-token", format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token != created["token"]
    assert bearer(created["token"]).get("/api/v1/fulfillment-orders").status_code == 401
    assert bearer(token).get("/api/v1/fulfillment-orders").status_code == 200
    event = StaffEvent.objects.filter(staff_id=created["id"]).last()
    assert event is not None
    assert (event.kind, event.actor_name, event.changes) == (
        "token_rotated",
        "manager",
        {"token_prefix": [created["token_prefix"], token[:12]]},
    )
    # The former token no longer opens the admin either: the password went with it.
    user = StaffProfile.objects.get(pk=created["id"]).user
    assert user.check_password(token)
    assert not user.check_password(created["token"])


def test_a_manager_cannot_lock_themselves_out(manager):
    me = manager.api.get("/api/v1/staff", {"username": "manager"}).json()["results"][0]["id"]
    for response in (
        manager.api.post(f"/api/v1/staff/{me}/deactivate", {}, format="json"),
        manager.api.patch(f"/api/v1/staff/{me}", {"active": False}, format="json"),
        manager.api.patch(f"/api/v1/staff/{me}", {"role": "associate", "locations": []}, format="json"),
    ):
        assert response.status_code in (409, 422), response.content
    response = manager.api.post(f"/api/v1/staff/{me}/deactivate", {}, format="json")
    assert response.json()["code"] == "staff_self_lockout"
    assert manager.api.get("/api/v1/staff").status_code == 200


def test_only_managers_reach_staff(manager, stores, make_associate, web_client, anon):
    ann = make_associate("ann", stores[0])
    for authed in (ann, web_client):
        assert authed.api.get("/api/v1/staff").status_code == 403
        assert (
            authed.api.post("/api/v1/staff", {"username": "x", "role": "manager"}, format="json").status_code
            == 403
        )
    assert anon.get("/api/v1/staff").status_code == 401
