import pytest
from django.core.management import call_command

from oms.models import ApiClient, StaffProfile, hash_key

pytestmark = pytest.mark.django_db


def test_missing_key_is_401_in_house_format(anon):
    response = anon.get("/api/v1/channels")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert set(response.json()) == {"code", "message", "extra"}


def test_bad_key_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer oms_not-a-real-key")
    response = anon.get("/api/v1/channels")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_keys_are_stored_hashed(web_client, manager):
    client = ApiClient.objects.get()
    assert client.key_hash == hash_key(web_client.key)
    assert web_client.key not in client.key_hash
    profile = StaffProfile.objects.get(user__username="manager")
    assert profile.token_hash == hash_key(manager.key)


def test_manager_creates_channel_channel_client_may_not(manager, web_client):
    body = {"code": "shopee", "name": "Shopee", "kind": "marketplace", "currency": "VND"}
    assert web_client.api.post("/api/v1/channels", body, format="json").status_code == 403
    created = manager.api.post("/api/v1/channels", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["kind"] == "marketplace"
    again = manager.api.post("/api/v1/channels", body, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "channel_exists"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": "x", "name": "X", "kind": "telepathy", "currency": "USD"}, "invalid_input"),
        ({"code": "x", "name": "X", "kind": "web", "currency": "ZZZ"}, "unknown_currency"),
        ({"code": "Bad Code!", "name": "X", "kind": "web", "currency": "USD"}, "invalid_input"),
        ({"name": "X"}, "invalid_input"),
    ],
)
def test_bad_channel_bodies_are_422(manager, body, code):
    response = manager.api.post("/api/v1/channels", body, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_malformed_json_is_400(manager):
    response = manager.api.post("/api/v1/channels", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_unknown_api_path_is_json_404(manager):
    response = manager.api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_create_api_client_prints_only_the_key(db, capsys):
    call_command("create_api_client", "--name", "storefront", "--channel", "web", "--kind", "web")
    out = capsys.readouterr().out.strip()
    assert out.startswith("oms_")
    assert "\n" not in out
    assert ApiClient.objects.get(name="storefront").key_hash == hash_key(out)


def test_create_staff_prints_only_the_token(db, capsys, store):
    call_command("create_staff", "--username", "lan", "--role", "associate", "--locations", store.code)
    token = capsys.readouterr().out.strip()
    profile = StaffProfile.objects.get(user__username="lan")
    assert profile.token_hash == hash_key(token)
    assert list(profile.locations.all()) == [store]
    assert profile.user.check_password(token)
