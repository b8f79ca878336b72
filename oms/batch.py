"""A write batch: the rows a service decides on, written once at the end of its transaction.

A service that writes several tables (routing: fulfilment orders and their lines, the order's
status, timeline events, the outbox) adds what it decides to a ``WriteBatch`` instead of writing as
it goes; the top-level service that opened the transaction writes the batch once. Functions down
the call tree take the batch as a parameter and always add to it: there is no "write now" mode.

Two writers with one interface, chosen by ``WriteBatch.for_connection()``:

- ``StatementBatch`` (PostgreSQL) writes everything in ONE statement, each table a data-modifying
  CTE built by ``oms.sql`` (Django's own SQL and values), the outbox's ``INSERT`` last. Rows that
  other rows point to (``keyed``) get their primary keys from their sequence beforehand.
- ``OrmBatch`` (other databases: SQLite for the demo) writes one statement per table through the
  ORM, and ``keyed`` rows at once, to learn their keys.

Order of the writes: new rows by model in the order their first row was added (a row pointing to
another comes after it), then the changed fields of existing rows, then the outbox and the
``then`` statements (on PostgreSQL the ``then`` statements come before the outbox's CTE)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

from . import events
from .sql import insert_sql, mark_saved, next_ids, update_sql

Statement = tuple[str, Sequence[Any]]


class WriteBatch:
    """Rows decided and not yet written: new rows, changed fields of existing rows, outbox events
    and statements to run after them. ``write()`` writes them all, once."""

    def __init__(self) -> None:
        self.created: list[Model] = []
        self.changed: dict[int, tuple[Model, set[str]]] = {}  # by id() of the instance
        self.outbox: list[tuple[str, dict[str, Any]]] = []
        self.statements: list[Statement] = []

    @staticmethod
    def for_connection() -> WriteBatch:
        """The batch that writes best on the current database."""
        return StatementBatch() if connection.vendor == "postgresql" else OrmBatch()

    def add(self, *objs: Model) -> None:
        """New rows, written by ``write()``."""
        self.created.extend(objs)

    def keyed(self, objs: Sequence[Model]) -> None:
        """New rows that others must point to now: they have their primary keys on return."""
        raise NotImplementedError

    def reserve_keys(self, model: type[Model], count: int) -> None:
        """Draw ``count`` keys of ``model`` at once for the ``keyed`` calls that follow (a batch of
        routings draws them for every order in one statement); a no-op where keys come on insert."""

    def given_keys(self, model: type[Model], keys: Sequence[int]) -> None:
        """Keys of ``model`` drawn elsewhere (in a read the caller ran anyway) for the ``keyed``
        calls that follow; a no-op where keys come on insert."""

    def change(self, obj: Model, fields: Iterable[str]) -> None:
        """Fields of an existing row to write (as ``save(update_fields=...)`` would)."""
        self.changed.setdefault(id(obj), (obj, set()))[1].update(fields)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """An outbox event, recorded with the rows (``oms.events.publish_many``)."""
        self.outbox.append((topic, payload))

    def then(self, statement: Statement | None) -> None:
        """A statement of the caller's own to run with the rows, after them (None: nothing)."""
        if statement is not None:
            self.statements.append(statement)

    def write(self) -> None:
        """Write everything the batch holds, once."""
        raise NotImplementedError

    def _created_by_model(self) -> dict[type[Model], list[Model]]:
        by_model: dict[type[Model], list[Model]] = defaultdict(list)
        for obj in self.created:
            by_model[type(obj)].append(obj)
        return by_model

    def _changes(self) -> list[tuple[Model, list[str]]]:
        return [(obj, sorted(fields)) for obj, fields in self.changed.values() if fields]


class StatementBatch(WriteBatch):
    """PostgreSQL: the whole batch in one statement; keys drawn from the sequences beforehand."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[type[Model], Iterator[int]] = {}

    def reserve_keys(self, model: type[Model], count: int) -> None:
        self._keys[model] = iter(next_ids(model, count))

    def given_keys(self, model: type[Model], keys: Sequence[int]) -> None:
        self._keys[model] = iter(keys)

    def keyed(self, objs: Sequence[Model]) -> None:
        if not objs:
            return
        model = type(objs[0])
        reserved = self._keys.get(model)
        keys = [next(reserved) for _ in objs] if reserved is not None else next_ids(model, len(objs))
        for obj, pk in zip(objs, keys, strict=True):
            obj.pk = pk
        self.add(*objs)

    def write(self) -> None:
        writes: list[Statement] = [
            insert_sql(model, objs) for model, objs in self._created_by_model().items()
        ]
        writes += [update_sql(obj, fields) for obj, fields in self._changes()]
        writes += self.statements
        events.publish_many_with(writes, self.outbox)
        mark_saved(self.created)


class OrmBatch(WriteBatch):
    """Other databases: one statement per table through the ORM; keyed rows inserted at once."""

    def keyed(self, objs: Sequence[Model]) -> None:
        if objs:
            type(objs[0])._default_manager.bulk_create(objs)

    def write(self) -> None:
        for model, objs in self._created_by_model().items():
            model._default_manager.bulk_create(objs)
        for obj, fields in self._changes():
            obj.save(update_fields=fields)
        events.publish_many(self.outbox)
        for sql, params in self.statements:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
