"""``oms.batch``: a service's rows are written once, at the end, in one statement on PostgreSQL
and one per table elsewhere, and rows that others point to have their keys at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oms.batch import OrmBatch, StatementBatch, WriteBatch
from oms.models import Channel, OutboxEvent


def _channel(code: str) -> Channel:
    return Channel(code=code, name=code.title(), kind="web", currency="VND")


@pytest.mark.django_db
def test_the_batch_matches_the_database():
    expected = StatementBatch if connection.vendor == "postgresql" else OrmBatch
    assert type(WriteBatch.for_connection()) is expected


@pytest.mark.django_db
def test_nothing_is_written_before_write_and_everything_after():
    existing = Channel.objects.create(code="web", name="Web", kind="web", currency="VND")
    batch = WriteBatch.for_connection()
    batch.add(_channel("app"), _channel("pos"))
    existing.name = "Storefront"
    batch.change(existing, ["name"])
    batch.change(existing, ["updated_at"])  # fields of one row merge into one UPDATE
    batch.publish("channel.changed", {"code": "web"})
    assert Channel.objects.count() == 1
    assert not OutboxEvent.objects.filter(topic="channel.changed").exists()

    with CaptureQueriesContext(connection) as ctx:
        batch.write()

    assert sorted(Channel.objects.values_list("code", flat=True)) == ["app", "pos", "web"]
    assert Channel.objects.get(code="web").name == "Storefront"
    assert OutboxEvent.objects.filter(topic="channel.changed", payload={"code": "web"}).count() == 1
    writes = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    if connection.vendor == "postgresql":
        assert len(writes) == 1, writes  # the inserts, the update and the outbox: one statement
    else:
        assert [sql.split()[0] for sql in writes] == ["INSERT", "UPDATE", "INSERT"]


@pytest.mark.django_db
def test_keyed_rows_have_their_keys_at_once():
    batch = WriteBatch.for_connection()
    batch.reserve_keys(Channel, 2)
    first, second = _channel("app"), _channel("pos")
    batch.keyed([first])
    batch.keyed([second])
    assert first.pk is not None
    assert second.pk is not None
    assert first.pk < second.pk
    batch.write()
    assert set(Channel.objects.values_list("pk", flat=True)) == {first.pk, second.pk}


@pytest.mark.django_db
def test_then_statements_run_with_the_rows():
    Channel.objects.create(code="web", name="Web", kind="web", currency="VND")
    batch = WriteBatch.for_connection()
    batch.add(_channel("app"))
    table = connection.ops.quote_name(Channel._meta.db_table)
    batch.then(None)  # nothing to add
    batch.then((f"UPDATE {table} SET name = %s WHERE code = %s", ["Storefront", "web"]))  # noqa: S608
    batch.write()
    assert dict(Channel.objects.values_list("code", "name")) == {"app": "App", "web": "Storefront"}
