"""The per-process cache of API keys (``OMS_API_KEY_CACHE_SECONDS``): a hit saves the lookup; a
client or channel saved in this process is seen at once; a change the process is not told about
(another process, ``QuerySet.update``) is seen when the entry expires. Staff tokens are not cached."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from oms import authentication
from oms.authentication import api_key_cache_clear
from oms.models import ApiClient, Channel

pytestmark = pytest.mark.django_db

URL = "/api/v1/availability?sku=NOPE"  # any client may read it, in one statement


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    api_key_cache_clear()
    yield
    api_key_cache_clear()


class Clock:
    """Stands in for ``time.monotonic`` in oms.authentication."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(authentication.time, "monotonic", clock)
    return clock


def key_lookups(queries) -> int:  # type: ignore[no-untyped-def]
    return sum('FROM "oms_apiclient"' in q["sql"] for q in queries.captured_queries)


def test_a_cache_hit_skips_the_key_lookup(web_client, django_assert_num_queries):
    with django_assert_num_queries(3) as first:  # key, availability, last_used_at
        assert web_client.api.get(URL).status_code == 200
    with django_assert_num_queries(1) as again:  # availability
        assert web_client.api.get(URL).status_code == 200
    assert (key_lookups(first), key_lookups(again)) == (1, 0)


def test_the_cache_can_be_turned_off(web_client, settings, django_assert_num_queries):
    settings.OMS_API_KEY_CACHE_SECONDS = 0
    assert web_client.api.get(URL).status_code == 200
    with django_assert_num_queries(2) as again:  # key, availability
        assert web_client.api.get(URL).status_code == 200
    assert key_lookups(again) == 1


def test_an_entry_expires(web_client, settings, clock, django_assert_num_queries):
    settings.OMS_API_KEY_CACHE_SECONDS = 5
    assert web_client.api.get(URL).status_code == 200
    clock.now += 4.9
    with django_assert_num_queries(1):
        assert web_client.api.get(URL).status_code == 200
    clock.now += 0.2
    with django_assert_num_queries(2) as expired:
        assert web_client.api.get(URL).status_code == 200
    assert key_lookups(expired) == 1


def test_a_client_deactivated_in_this_process_is_refused_at_once(web_client):
    assert web_client.api.get(URL).status_code == 200
    client = ApiClient.objects.get()
    client.active = False
    client.save()
    response = web_client.api.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_client_deactivated_in_the_admin_is_refused_at_once(web_client, manager):
    assert web_client.api.get(URL).status_code == 200
    admin = Client()
    admin.force_login(get_user_model().objects.get(username="manager"))
    client = ApiClient.objects.get()
    response = admin.post(f"/admin/oms/apiclient/{client.pk}/change/", {"name": client.name, "active": ""})
    assert response.status_code == 302
    assert web_client.api.get(URL).status_code == 401


def test_a_deleted_client_is_refused_at_once(web_client):
    assert web_client.api.get(URL).status_code == 200
    ApiClient.objects.get().delete()
    assert web_client.api.get(URL).status_code == 401


def test_a_revocation_this_process_is_not_told_of_holds_until_expiry(web_client, settings, clock):
    """What another process sees of a revocation: the key works for at most the cache's seconds."""
    settings.OMS_API_KEY_CACHE_SECONDS = 5
    assert web_client.api.get(URL).status_code == 200
    ApiClient.objects.update(active=False)  # no signal: as if done by another process
    clock.now += 4
    assert web_client.api.get(URL).status_code == 200
    clock.now += 1.5
    assert web_client.api.get(URL).status_code == 401


def test_a_channel_change_is_seen_at_once(web_client):
    assert web_client.api.get(URL).status_code == 200
    channel = Channel.objects.get(code="web")
    channel.ship_from_stores = False
    channel.save()
    assert authentication._client_cache == {}
    assert web_client.api.get(URL).status_code == 200
    [(_, user, _)] = authentication._client_cache.values()
    assert user.api_client.channel.ship_from_stores is False


def test_last_used_at_is_written_at_most_once_a_minute(web_client, settings, clock, monkeypatch):
    settings.OMS_API_KEY_CACHE_SECONDS = 5
    assert web_client.api.get(URL).status_code == 200
    first = ApiClient.objects.get().last_used_at
    assert first is not None
    later = first + timedelta(seconds=30)
    monkeypatch.setattr(authentication.timezone, "now", lambda: later)
    clock.now += 10  # the entry expired: looked up again, but not written
    assert web_client.api.get(URL).status_code == 200
    assert ApiClient.objects.get().last_used_at == first
    much_later = first + timedelta(seconds=61)
    monkeypatch.setattr(authentication.timezone, "now", lambda: much_later)
    assert web_client.api.get(URL).status_code == 200  # a cache hit still records the use
    assert ApiClient.objects.get().last_used_at == much_later


def test_staff_tokens_are_not_cached(manager, django_assert_num_queries):
    assert manager.api.get(URL).status_code == 200
    user = get_user_model().objects.get(username="manager")
    user.is_active = False
    user.save()
    assert manager.api.get(URL).status_code == 401
    assert authentication._client_cache == {}


def test_a_bad_key_is_never_cached(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer oms_not-a-real-key")
    assert anon.get(URL).status_code == 401
    assert anon.get(URL).status_code == 401
    assert authentication._client_cache == {}
