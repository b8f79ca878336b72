"""Idempotency-Key on POST /orders: replay, mismatch, required, concurrent duplicates."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inventory.models import StockLevel
from orders.models import IdempotencyRecord, Order

from .conftest import post_order, ship_body


def test_same_key_same_body_replays_the_first_response(network, web_client):
    body = ship_body(("SHIRT", 2))
    first = post_order(web_client, body, key="abc")
    again = post_order(web_client, {**body}, key="abc")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert sum(StockLevel.objects.filter(product=network.shirt).values_list("reserved", flat=True)) == 2


def test_key_order_of_the_json_does_not_matter(network, web_client):
    body = ship_body(("SHIRT", 1))
    reordered = dict(reversed(list(body.items())))
    assert post_order(web_client, body, key="k").status_code == 201
    assert post_order(web_client, reordered, key="k").status_code == 201
    assert Order.objects.count() == 1


def test_same_key_other_body_is_422(network, web_client):
    assert post_order(web_client, ship_body(("SHIRT", 1)), key="dup").status_code == 201
    other = post_order(web_client, ship_body(("SHIRT", 2)), key="dup")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_keys_are_scoped_per_client(network, make_channel_client):
    a = make_channel_client("web")
    b = make_channel_client("app")
    assert post_order(a, ship_body(("SHIRT", 1)), key="same").status_code == 201
    assert post_order(b, ship_body(("SHIRT", 1)), key="same").status_code == 201
    assert Order.objects.count() == 2


def test_channel_clients_must_send_a_key(network, web_client):
    response = post_order(web_client, ship_body(("SHIRT", 1)), key=None)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not Order.objects.exists()


def test_a_failed_request_does_not_burn_the_key(network, web_client):
    assert post_order(web_client, ship_body(("JEANS", 9)), key="retry").status_code == 409
    assert not IdempotencyRecord.objects.exists()
    assert post_order(web_client, ship_body(("JEANS", 2)), key="retry").status_code == 201


def test_keys_expire_after_their_ttl(network, web_client):
    assert post_order(web_client, ship_body(("SHIRT", 1)), key="old").status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post_order(web_client, ship_body(("SHIRT", 3)), key="old")
    assert again.status_code == 201
    assert Order.objects.count() == 2


def test_the_record_is_written_with_the_order(network, web_client):
    response = post_order(web_client, ship_body(("SHIRT", 1)), key="rec")
    record = IdempotencyRecord.objects.get(key="rec")
    assert record.order_id == response.json()["id"]
    assert record.response == response.json()
    ttl = record.expires_at - record.created_at
    assert timedelta(hours=23, minutes=59) < ttl <= timedelta(hours=24, seconds=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_make_one_order(network, web_client):
    """Eight threads send the same request with the same key at once: one order, one hold, and
    every answer is the first response (or 409 request_in_progress)."""
    body = ship_body(("SHIRT", 2))
    barrier = threading.Barrier(8)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            barrier.wait()
            response = post_order(web_client, body, key="race")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Order.objects.count() == 1
    order_id = Order.objects.get().pk
    assert sum(StockLevel.objects.filter(product=network.shirt).values_list("reserved", flat=True)) == 2
    for status, data in answers:
        assert (status == 201 and data["id"] == order_id) or (
            status == 409 and data["code"] == "request_in_progress"
        ), (status, data)
