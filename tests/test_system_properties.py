"""A Hypothesis state machine over the whole order flow: place (ship, pickup, backorder), route,
work fulfilment orders (accept, pick, pack, ship, ready, hand over), reject, expire, cancel,
receive stock, return units (in store or by mail), receive returns (restock or damaged) and
refund. After every step:

- every stock row has ``0 <= reserved <= on_hand``, and its counters equal its ledger sums;
- every stock row's ``reserved`` equals the units its live reservations hold;
- every unit of every order line is accounted for exactly once:
  ``quantity == cancelled + fulfilled + backordered + held``;
- every routed reservation sits in exactly one fulfilment order line of the same quantity;
- refunds never exceed what was paid for the order.

Services run inside the test's transaction (the ``db`` fixture); after-commit work (routing on
``order.created``, backorders on ``stock.changed``) is run by the rules themselves."""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fulfillment import services as fs
from fulfillment.models import FulfillmentOrder, FulfillmentOrderLine, RoutingExclusion
from inventory.models import LocationDailyLoad, StockLevel, StockMovement
from inventory.services import stock_adjust
from oms.actors import Actor
from oms.errors import DomainError
from orders.choices import ReservationStatus
from orders.models import Order, OrderLine, Reservation
from orders.services import CustomerInput, LineInput, OrderInput, order_cancel, order_place
from returns.models import Receipt, Refund, Return, ReturnLine
from returns.services import ReceiveLineInput, ReturnLineInput, return_create, return_receive, return_refund
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

ACTOR = Actor.system("system-properties")
SKUS = ["A", "B", "C"]
STORES = ["st-1", "st-2"]


class OrderFlow(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        for model in (Refund, Receipt, ReturnLine, Return):
            model.objects.all().delete()
        for model in (FulfillmentOrderLine, FulfillmentOrder, RoutingExclusion, Reservation, OrderLine):
            model.objects.all().delete()
        Order.objects.all().delete()
        StockMovement.objects.all().delete()
        StockLevel.objects.all().delete()
        LocationDailyLoad.objects.all().delete()
        self.channel = ChannelFactory(code="web", currency="USD")
        self.locations = {
            "wh": LocationFactory(code="wh", latitude=Decimal("10.80"), longitude=Decimal("106.70")),
            "st-1": StoreFactory(code="st-1", latitude=Decimal("10.77"), longitude=Decimal("106.70")),
            "st-2": StoreFactory(code="st-2", latitude=Decimal("10.90"), longitude=Decimal("106.80")),
        }
        self.products = {sku: ProductFactory(sku=sku) for sku in SKUS}
        for location in self.locations.values():
            for product in self.products.values():
                stock_adjust(product=product, location=location, delta=3, reason="opening", actor=ACTOR)

    # --- helpers ---------------------------------------------------------------------------------

    def _open_fos(self, *statuses: str) -> list[FulfillmentOrder]:
        qs = FulfillmentOrder.objects.filter(status__in=statuses) if statuses else FulfillmentOrder.objects
        return list(qs.order_by("pk"))

    # --- rules -------------------------------------------------------------------------------------

    @rule(
        lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 4)), min_size=1, max_size=3),
        pickup=st.one_of(st.none(), st.sampled_from(STORES)),
        backorder=st.booleans(),
    )
    def place(self, lines, pickup, backorder):
        data = OrderInput(
            channel=self.channel,
            method="pickup" if pickup else "ship",
            lines=[LineInput(sku=sku, quantity=q, unit_price=Decimal("5")) for sku, q in lines],
            currency="USD",
            customer=CustomerInput(email="p@example.com"),
            pickup_location=pickup or "",
            shipping_address={} if pickup else {"line1": "1", "city": "HCMC", "country": "VN"},
            latitude=None if pickup else Decimal("10.78"),
            longitude=None if pickup else Decimal("106.70"),
            allow_backorder=backorder,
        )
        try:
            order = order_place(data=data, actor=ACTOR).order
        except DomainError:
            return
        fs.route_order(order_id=order.pk)

    @precondition(lambda self: FulfillmentOrder.objects.exists())
    @rule(pick=st.integers(0, 50))
    def advance(self, pick):
        fos = self._open_fos("pending", "accepted", "picked", "packed", "ready_for_pickup")
        if not fos:
            return
        fo = fos[pick % len(fos)]
        step = {
            ("ship", "pending"): fs.fulfillment_order_accept,
            ("ship", "accepted"): fs.fulfillment_order_pick,
            ("ship", "picked"): fs.fulfillment_order_pack,
            ("pickup", "pending"): fs.fulfillment_order_accept,
            ("pickup", "accepted"): fs.fulfillment_order_ready_for_pickup,
            ("pickup", "ready_for_pickup"): fs.fulfillment_order_picked_up,
        }.get((fo.method, fo.status))
        if step is not None:
            step(fulfillment_order_id=fo.pk, actor=ACTOR)
        elif fo.status == "packed":
            fs.fulfillment_order_ship(
                fulfillment_order_id=fo.pk, carrier="GHN", tracking_number="1", actor=ACTOR
            )

    @precondition(lambda self: FulfillmentOrder.objects.exists())
    @rule(pick=st.integers(0, 50))
    def reject(self, pick):
        fos = self._open_fos("pending", "accepted", "picked", "packed")
        if not fos:
            return
        fo = fos[pick % len(fos)]
        fs.fulfillment_order_reject(fulfillment_order_id=fo.pk, reason="cannot", actor=ACTOR)
        fs.route_order(order_id=fo.order_id)  # what the worker does after commit

    @precondition(lambda self: FulfillmentOrder.objects.filter(status="ready_for_pickup").exists())
    @rule(pick=st.integers(0, 50))
    def expire(self, pick):
        fos = self._open_fos("ready_for_pickup")
        fo = fos[pick % len(fos)]
        FulfillmentOrder.objects.filter(pk=fo.pk).update(
            pickup_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert fs.fulfillment_order_expire(fulfillment_order_id=fo.pk)

    @precondition(lambda self: Order.objects.exists())
    @rule(pick=st.integers(0, 50))
    def cancel(self, pick):
        orders = list(Order.objects.order_by("pk"))
        order = orders[pick % len(orders)]
        try:
            order_cancel(order_id=order.pk, reason="changed mind", actor=ACTOR)
        except DomainError:
            assert OrderLine.objects.filter(order=order, quantity_fulfilled__gt=0).exists() or (
                order.status in ("completed", "partially_cancelled")
            )

    @rule(
        location=st.sampled_from(["wh", "st-1", "st-2"]),
        sku=st.sampled_from(SKUS),
        quantity=st.integers(1, 6),
    )
    def receive(self, location, sku, quantity):
        stock_adjust(
            product=self.products[sku],
            location=self.locations[location],
            delta=quantity,
            reason="receipt",
            actor=ACTOR,
            kind="receipt",
        )
        fs.backorders_allocate(product_ids=[self.products[sku].pk])  # the stock.changed task

    @precondition(lambda self: OrderLine.objects.filter(quantity_fulfilled__gt=0).exists())
    @rule(pick=st.integers(0, 50), quantity=st.integers(1, 3), where=st.sampled_from(["wh", "st-1", "st-2"]))
    def return_units(self, pick, quantity, where):
        lines = list(OrderLine.objects.filter(quantity_fulfilled__gt=0).order_by("pk"))
        line = lines[pick % len(lines)]
        try:
            return_create(
                order_id=line.order_id,
                method="in_store" if where != "wh" else "mail",
                location_code=where,
                lines=[ReturnLineInput(order_line_id=line.pk, quantity=quantity, reason="changed_mind")],
                actor=ACTOR,
            )
        except DomainError:
            return

    @precondition(lambda self: Return.objects.exists())
    @rule(pick=st.integers(0, 50), damaged=st.booleans())
    def receive_return(self, pick, damaged):
        rmas = list(Return.objects.order_by("pk"))
        rma = rmas[pick % len(rmas)]
        lines = [
            ReceiveLineInput(
                return_line_id=line.pk,
                quantity=line.quantity_outstanding,
                disposition="damaged" if damaged else "restock",
            )
            for line in rma.lines.all()
            if line.quantity_outstanding > 0
        ]
        if not lines:
            return
        try:
            return_receive(return_id=rma.pk, lines=lines, actor=ACTOR)
        except DomainError:
            return
        for line in rma.lines.all():
            fs.backorders_allocate(
                product_ids=[line.order_line.product_id]
            )  # restock: the stock.changed task

    @precondition(lambda self: Return.objects.exists())
    @rule(
        pick=st.integers(0, 50),
        amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60"), places=2),
    )
    def refund(self, pick, amount):
        rmas = list(Return.objects.order_by("pk"))
        try:
            return_refund(return_id=rmas[pick % len(rmas)].pk, amount=amount, actor=ACTOR)
        except DomainError:
            return

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def refunds_never_exceed_what_was_paid(self):
        for order in Order.objects.filter(pk__in=Refund.objects.values("order_id")):
            refunded = Refund.objects.filter(order=order).aggregate(total=Sum("amount"))["total"] or 0
            assert refunded <= order.total, (order, refunded)

    @invariant()
    def stock_rows_match_ledger_and_reservations(self):
        held = defaultdict(int)
        for row_id, quantity in Reservation.objects.filter(status=ReservationStatus.ACTIVE).values_list(
            "stock_level_id", "quantity"
        ):
            held[row_id] += quantity
        sums = {
            row["stock_level_id"]: (row["on_hand"], row["reserved"])
            for row in StockMovement.objects.values("stock_level_id").annotate(
                on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
            )
        }
        for row in StockLevel.objects.all():
            assert 0 <= row.reserved <= row.on_hand, row
            assert sums.get(row.pk, (0, 0)) == (row.on_hand, row.reserved), row
            assert row.reserved == held[row.pk], (row, held[row.pk])

    @invariant()
    def every_unit_accounted_for_once(self):
        held = defaultdict(int)
        for line_id, quantity in Reservation.objects.filter(status=ReservationStatus.ACTIVE).values_list(
            "line_id", "quantity"
        ):
            held[line_id] += quantity
        for line in OrderLine.objects.all():
            total = (
                line.quantity_cancelled + line.quantity_fulfilled + line.quantity_backordered + held[line.pk]
            )
            assert total == line.quantity, (line, total)

    @invariant()
    def routed_units_sit_in_one_fulfilment_line(self):
        for reservation in Reservation.objects.filter(status=ReservationStatus.ACTIVE):
            lines = list(FulfillmentOrderLine.objects.filter(reservation=reservation))
            assert len(lines) == 1, reservation  # every order is routed in the same rule
            assert lines[0].quantity == reservation.quantity
            assert lines[0].fulfillment_order.status in (
                "pending",
                "accepted",
                "picked",
                "packed",
                "ready_for_pickup",
            )


def test_order_flow_state_machine(db):
    run_state_machine_as_test(
        OrderFlow,
        settings=hypothesis_settings(
            max_examples=int(os.environ.get("OMS_PROPERTY_EXAMPLES", "40")),
            stateful_step_count=30,  # 40 x 30 = 1,200 steps in CI
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
