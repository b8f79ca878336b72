"""Stateful property test of the stock ledger.

Random sequences of the real stock services (adjust, count, reserve, release, consume, safety
stock, and transfers between the two locations: create, ship, receive in part, cancel) run against
two locations and two products, with quantities that often must fail. After
every step: ``0 <= reserved <= on_hand`` on every row, ``on_hand`` and ``reserved`` equal the sums of
their ledger movements, every transfer's units in transit equal its shipped minus received units
(and its ``transfer_in`` rows the received ones), and a plain-Python model of the expected counters
equals the database. A refused call must change nothing at all: no counter, no ledger row, not
even a new stock row.

Each example runs inside a savepoint of the test's transaction (the ``db`` fixture) and is rolled
back in ``teardown``, so every example starts from an empty stock table. The services use plain
``transaction.atomic`` (not durable), so they nest inside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from hypothesis import HealthCheck, assume
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from inventory.choices import MovementKind, TransferStatus
from inventory.errors import CountBelowReserved, InsufficientStock, StockWouldGoNegative, TransferOverReceipt
from inventory.models import Location, Product, StockLevel, StockMovement, TransferLine, TransferOrder
from inventory.services import (
    StockLine,
    stock_adjust,
    stock_consume,
    stock_count,
    stock_release,
    stock_reserve,
    stock_safety_set,
)
from inventory.transfers.services import (
    TransferItem,
    transfer_cancel,
    transfer_create_for,
    transfer_receive,
    transfer_ship,
)
from oms.actors import Actor
from oms.errors import DomainError, InvalidInput, InvalidTransition
from tests.factories import LocationFactory, ProductFactory, StoreFactory

ACTOR = Actor.system("ledger-properties")
MAX = settings.OMS_MAX_QUANTITY
T = TypeVar("T")
KEYS = [(loc, sku) for loc in range(2) for sku in range(2)]  # (location index, product index)


def mostly(good: st.SearchStrategy[T], bad: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``good`` about nine times in ten, else ``bad`` (say, values the service must refuse).
    The pick is a middle value: Hypothesis favours the ends of a range, and shrinks towards 0."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda n: bad if n == 5 else good)


invalid_quantities = st.sampled_from([0, -1, MAX + 1])
# Small numbers, so that removals, counts and reservations run into on-hand and reserved limits.
deltas = mostly(
    st.integers(min_value=-25, max_value=30).filter(bool), st.sampled_from([0, MAX + 1, -MAX - 1])
)
counts = mostly(st.integers(min_value=0, max_value=40), st.sampled_from([-1, MAX + 1]))
safety_stocks = mostly(st.integers(min_value=0, max_value=10), st.sampled_from([-1, MAX + 1]))


@dataclass
class Row:
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    for_transfers: int = 0  # of ``reserved``: held by draft transfers (only they release or ship them)

    @property
    def for_orders(self) -> int:
        return self.reserved - self.for_transfers


@dataclass
class Transfer:
    """The model of one transfer order of one SKU: from location ``source`` to the other one."""

    pk: int
    source: int
    product: int
    quantity: int
    status: str = TransferStatus.DRAFT
    shipped: int = 0
    received: int = 0
    keys: set[str] = field(default_factory=set)  # idempotency keys of its receipts


# The durable services, inside the machine's transaction (which a durable block may not nest in).
_ship, _receive, _cancel = (
    transfer_ship.__wrapped__,
    transfer_receive.__wrapped__,
    transfer_cancel.__wrapped__,
)


class StockLedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.locations: list[Location] = [LocationFactory(code="wh-prop"), StoreFactory(code="store-prop")]
        self.products: list[Product] = [ProductFactory(sku="PROP-A"), ProductFactory(sku="PROP-B")]
        self.model: dict[tuple[int, int], Row] = {}
        self.ids: dict[tuple[int, int], int] = {}  # model key -> StockLevel pk
        self.movements = 0
        self.transfers: list[Transfer] = []

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers -------------------------------------------------------------------------------
    def _call(self, expected_error: type[DomainError] | None, service, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        """Run one service in its caller's transaction (rolled back if it raises). Returns True on
        success; a failure must be exactly the expected domain error."""
        error: DomainError | None = None
        try:
            with transaction.atomic():
                service(**kwargs)
        except DomainError as exc:
            error = exc
        if error is None:
            assert expected_error is None, f"{service.__name__} should have raised {expected_error.__name__}"
            return True
        assert expected_error is not None, f"{service.__name__} refused unexpectedly: {error.as_dict()}"
        assert isinstance(error, expected_error), (type(error), expected_error, error.as_dict())
        return False

    def _lines(self, picks: list[tuple[tuple[int, int], int]]) -> list[StockLine]:
        return [
            StockLine(
                stock_level_id=self.ids[key],
                product_id=self.products[key[1]].pk,
                location_id=self.locations[key[0]].pk,
                quantity=qty,
            )
            for key, qty in picks
        ]

    @staticmethod
    def _merged(picks: list[tuple[tuple[int, int], int]]) -> Counter:
        totals: Counter = Counter()
        for key, qty in picks:
            totals[key] += qty
        return totals

    def _picks(self, data: st.DataObject, bound: Callable[[Row], int]) -> list[tuple[tuple[int, int], int]]:
        """1-2 lines over existing rows; each quantity up to a little over ``bound(row)``, so that the
        call succeeds about as often as it fails, and now and then an invalid quantity."""
        keys = sorted(self.model)
        # Mostly rows where the call can succeed; sometimes any row (where it may not).
        useful = [key for key in keys if bound(self.model[key]) > 0] or keys
        lines = mostly(st.sampled_from(useful), st.sampled_from(keys)).flatmap(
            lambda key: st.tuples(
                st.just(key),
                mostly(
                    st.integers(min_value=1, max_value=max(1, bound(self.model[key]) + 1)),
                    invalid_quantities,
                ),
            )
        )
        return data.draw(st.lists(lines, min_size=1, max_size=2), label="lines")

    def _level_created(self, key: tuple[int, int]) -> None:
        if key not in self.ids:
            self.ids[key] = StockLevel.objects.get(
                location=self.locations[key[0]], product=self.products[key[1]]
            ).pk
            self.model[key] = Row()

    # --- rules ---------------------------------------------------------------------------------
    @rule(key=st.sampled_from(KEYS), delta=deltas)
    def adjust(self, key: tuple[int, int], delta: int) -> None:
        row = self.model.get(key, Row())
        if delta == 0 or abs(delta) > MAX:
            expected: type[DomainError] | None = InvalidInput
        elif row.on_hand + delta < row.reserved:
            expected = StockWouldGoNegative
        else:
            expected = None
        ok = self._call(
            expected,
            stock_adjust,
            product=self.products[key[1]],
            location=self.locations[key[0]],
            delta=delta,
            reason="property test",
            actor=ACTOR,
        )
        if ok:
            self._level_created(key)
            self.model[key].on_hand += delta
            self.movements += 1

    @rule(key=st.sampled_from(KEYS), on_hand=counts)
    def count(self, key: tuple[int, int], on_hand: int) -> None:
        row = self.model.get(key, Row())
        if on_hand < 0 or on_hand > MAX:
            expected: type[DomainError] | None = InvalidInput
        elif on_hand < row.reserved:
            expected = CountBelowReserved
        else:
            expected = None
        ok = self._call(
            expected,
            stock_count,
            product=self.products[key[1]],
            location=self.locations[key[0]],
            on_hand=on_hand,
            reason="cycle count",
            actor=ACTOR,
        )
        if ok:
            self._level_created(key)
            self.model[key].on_hand = on_hand
            self.movements += 1

    @precondition(lambda self: self.model)
    @rule(data=st.data(), respect_safety_stock=st.booleans())
    def reserve(self, data: st.DataObject, respect_safety_stock: bool) -> None:
        picks = self._picks(data, lambda row: row.on_hand - row.reserved)
        totals = self._merged(picks)
        if any(qty <= 0 for _, qty in picks):
            expected: type[DomainError] | None = InvalidInput
        elif any(
            self.model[key].reserved + qty + (self.model[key].safety_stock if respect_safety_stock else 0)
            > self.model[key].on_hand
            for key, qty in totals.items()
        ):
            expected = InsufficientStock
        else:
            expected = None
        ok = self._call(
            expected,
            stock_reserve,
            lines=self._lines(picks),
            actor=ACTOR,
            reference="order-prop",
            respect_safety_stock=respect_safety_stock,
        )
        if ok:
            for key, qty in totals.items():
                self.model[key].reserved += qty
            self.movements += len(totals)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        picks = self._picks(data, lambda row: row.for_orders)
        totals = self._merged(picks)
        # A release or a consumption names its own units: never those a transfer holds.
        assume(
            all(
                qty <= self.model[key].for_orders or qty > self.model[key].reserved
                for key, qty in totals.items()
            )
        )
        if any(qty <= 0 for _, qty in picks):
            expected: type[DomainError] | None = InvalidInput
        elif any(self.model[key].reserved < qty for key, qty in totals.items()):
            expected = StockWouldGoNegative
        else:
            expected = None
        ok = self._call(
            expected, stock_release, lines=self._lines(picks), actor=ACTOR, reference="order-prop"
        )
        if ok:
            for key, qty in totals.items():
                self.model[key].reserved -= qty
            self.movements += len(totals)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def consume(self, data: st.DataObject) -> None:
        picks = self._picks(data, lambda row: row.for_orders)
        totals = self._merged(picks)
        # A release or a consumption names its own units: never those a transfer holds.
        assume(
            all(
                qty <= self.model[key].for_orders or qty > self.model[key].reserved
                for key, qty in totals.items()
            )
        )
        if any(qty <= 0 for _, qty in picks):
            expected: type[DomainError] | None = InvalidInput
        elif any(self.model[key].reserved < qty for key, qty in totals.items()):
            expected = StockWouldGoNegative
        else:
            expected = None
        ok = self._call(
            expected, stock_consume, lines=self._lines(picks), actor=ACTOR, reference="order-prop"
        )
        if ok:
            for key, qty in totals.items():
                self.model[key].on_hand -= qty
                self.model[key].reserved -= qty
            self.movements += len(totals)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), safety_stock=safety_stocks)
    def safety_set(self, data: st.DataObject, safety_stock: int) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)), label="row")
        expected = InvalidInput if safety_stock < 0 or safety_stock > MAX else None
        ok = self._call(
            expected, stock_safety_set, stock_level_id=self.ids[key], safety_stock=safety_stock, actor=ACTOR
        )
        if ok:
            self.model[key].safety_stock = safety_stock  # not a counter: no ledger row

    # --- transfers (from one location to the other) ------------------------------------------------
    @rule(source=st.integers(0, 1), product=st.integers(0, 1), quantity=st.integers(1, 12))
    def transfer_create(self, source: int, product: int, quantity: int) -> None:
        key = (source, product)
        row = self.model.get(key)
        short = row is None or row.on_hand - row.reserved - row.safety_stock < quantity
        created: list[TransferOrder] = []

        def create() -> None:
            created.append(
                transfer_create_for(
                    source=self.locations[source],
                    destination=self.locations[1 - source],
                    items=[TransferItem(product=self.products[product], quantity=quantity)],
                    actor=ACTOR,
                )
            )

        create.__name__ = "transfer_create_for"
        if self._call(InsufficientStock if short else None, create):
            assert row is not None
            row.reserved += quantity
            row.for_transfers += quantity
            self.movements += 1
            self.transfers.append(Transfer(created[0].pk, source, product, quantity))

    def _transfer(self, data: st.DataObject) -> Transfer:
        return data.draw(st.sampled_from(self.transfers), label="transfer")

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def transfer_ship(self, data: st.DataObject) -> None:
        t = self._transfer(data)
        ok = self._call(
            None if t.status == TransferStatus.DRAFT else InvalidTransition,
            _ship,
            transfer_id=t.pk,
            actor=ACTOR,
        )
        if ok:
            row = self.model[(t.source, t.product)]
            row.on_hand -= t.quantity
            row.reserved -= t.quantity
            row.for_transfers -= t.quantity
            t.shipped, t.status = t.quantity, TransferStatus.SHIPPED
            self.movements += 1

    @precondition(lambda self: self.transfers)
    @rule(data=st.data(), part=st.integers(1, 12), key=st.sampled_from(["", "dock-1", "dock-2"]))
    def transfer_receive(self, data: st.DataObject, part: int, key: str) -> None:
        t = self._transfer(data)
        on_the_road = t.status in (TransferStatus.SHIPPED, TransferStatus.PARTIALLY_RECEIVED)
        repeat = bool(key) and key in t.keys
        expected: type[DomainError] | None = None
        if repeat:
            expected = None
        elif not on_the_road:
            expected = InvalidTransition
        elif part > t.shipped - t.received:
            expected = TransferOverReceipt
        items = [TransferItem(product=self.products[t.product], quantity=part)]
        ok = self._call(expected, _receive, transfer_id=t.pk, actor=ACTOR, items=items, idempotency_key=key)
        if ok and not repeat:
            dest = (1 - t.source, t.product)
            if dest not in self.ids:
                self._level_created(dest)
            self.model[dest].on_hand += part
            t.received += part
            t.status = (
                TransferStatus.RECEIVED if t.received == t.shipped else TransferStatus.PARTIALLY_RECEIVED
            )
            if key:
                t.keys.add(key)
            self.movements += 1

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def transfer_cancel(self, data: st.DataObject) -> None:
        t = self._transfer(data)
        expected = None if t.status == TransferStatus.DRAFT else InvalidTransition
        if self._call(expected, _cancel, transfer_id=t.pk, actor=ACTOR):
            row = self.model[(t.source, t.product)]
            row.reserved -= t.quantity
            row.for_transfers -= t.quantity
            t.status = TransferStatus.CANCELLED
            self.movements += 1

    @invariant()
    def in_transit_is_shipped_minus_received(self) -> None:
        lines = {line.transfer_id: line for line in TransferLine.objects.all()}
        assert set(lines) == {t.pk for t in self.transfers}, "a refused transfer left a row behind"
        for t in self.transfers:
            line = lines[t.pk]
            assert (line.shipped, line.received) == (t.shipped, t.received), t
            assert line.in_transit == t.shipped - t.received >= 0, t
            arrived = StockMovement.objects.filter(
                kind=MovementKind.TRANSFER_IN, reference=f"transfer:TR-{t.pk:06d}"
            ).aggregate(units=Coalesce(Sum("on_hand_delta"), 0))["units"]
            assert arrived == t.received, t
        assert TransferOrder.objects.filter(status__in=[TransferStatus.SHIPPED]).count() == sum(
            t.status == TransferStatus.SHIPPED for t in self.transfers
        )

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def counters_match_ledger_and_model(self) -> None:
        rows = StockLevel.objects.annotate(
            on_hand_sum=Coalesce(Sum("movements__on_hand_delta"), 0),
            reserved_sum=Coalesce(Sum("movements__reserved_delta"), 0),
            movement_count=Count("movements"),
        ).values("pk", "on_hand", "reserved", "safety_stock", "on_hand_sum", "reserved_sum", "movement_count")
        by_pk = {r["pk"]: r for r in rows}
        assert set(by_pk) == set(self.ids.values()), "a refused call left a stock row behind"
        for r in by_pk.values():
            assert 0 <= r["reserved"] <= r["on_hand"], r
            assert r["on_hand"] == r["on_hand_sum"], r
            assert r["reserved"] == r["reserved_sum"], r
            assert r["movement_count"] >= 1, r
        for key, pk in self.ids.items():
            expected = self.model[key]
            actual = by_pk[pk]
            assert (actual["on_hand"], actual["reserved"], actual["safety_stock"]) == (
                expected.on_hand,
                expected.reserved,
                expected.safety_stock,
            ), key
        assert StockMovement.objects.count() == self.movements, "a refused call wrote a ledger row"


def test_stock_ledger_state_machine(db):
    run_state_machine_as_test(
        StockLedgerMachine,
        settings=hypothesis_settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


@pytest.mark.parametrize("delta", [-1, 0])
def test_refused_adjust_on_a_new_row_leaves_no_row(db, delta):
    """The state machine's 'nothing changes' includes not creating the (product, location) row."""
    product, location = ProductFactory(sku="NEW"), LocationFactory(code="wh-new")
    with pytest.raises(DomainError):
        stock_adjust(product=product, location=location, delta=delta, reason="x", actor=ACTOR)
    assert not StockLevel.objects.exists()
    assert not StockMovement.objects.exists()
