"""Drive a realistic stream of work through the same services the API and the admin call: orders
from every channel (ship and pickup), routing, associates accepting, rejecting, picking, packing,
shipping and handing over, pickups left to expire, returns at stores and by mail with refunds, and
receipts that refill stock (and fill backorders).

Used by ``python manage.py simulate --orders N --days D``. Each simulated day's rows are dated back
to that day (order and fulfilment timestamps), so the KPIs show a history. It lives in the returns
app because it uses every app below it."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from fulfillment import services as fs
from fulfillment.models import FulfillmentOrder
from inventory.models import Location, Product, StockLevel
from inventory.services import stock_adjust
from oms.actors import Actor
from oms.customers import CustomerInput
from oms.errors import DomainError
from oms.models import Channel
from orders.models import Order, OrderLine
from orders.services import LineInput, OrderInput, order_cancel, order_place

from .choices import Disposition, RefundMethod, ReturnMethod, ReturnReason
from .services import ReceiveLineInput, ReturnLineInput, return_create, return_receive, return_refund

CITIES = {
    "Ho Chi Minh City": (10.7769, 106.7009),
    "Hanoi": (21.0285, 105.8542),
}
FIRST = ["An", "Binh", "Chi", "Dung", "Giang", "Hoa", "Khanh", "Lan", "Minh", "Nam", "Phuong", "Quang"]
LAST = ["Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Bui"]


@dataclass
class SimulationSummary:
    counts: Counter = field(default_factory=Counter)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n


def _backdate(order: Order, when: datetime, rng: random.Random) -> None:
    """Move an order and its fulfilment orders to the simulated day, keeping their order in time."""
    shift = timezone.now() - when
    Order.objects.filter(pk=order.pk).update(created_at=F("created_at") - shift)
    Order.objects.filter(pk=order.pk, allocated_at__isnull=False).update(
        allocated_at=F("allocated_at") - shift + timedelta(seconds=rng.randint(1, 90))
    )
    Order.objects.filter(pk=order.pk, completed_at__isnull=False).update(
        completed_at=F("completed_at") - shift + timedelta(hours=rng.randint(4, 48))
    )
    fos = FulfillmentOrder.objects.filter(order=order)
    fos.update(created_at=F("created_at") - shift)
    fos.filter(accepted_at__isnull=False).update(
        accepted_at=F("accepted_at") - shift + timedelta(minutes=rng.randint(5, 120))
    )
    fos.filter(ready_at__isnull=False).update(
        ready_at=F("ready_at") - shift + timedelta(hours=rng.randint(1, 6))
    )
    fos.filter(completed_at__isnull=False).update(
        completed_at=F("completed_at") - shift + timedelta(hours=rng.randint(6, 48))
    )


class Simulation:
    def __init__(self, *, seed: int = 11) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - simulated behaviour, not secrets
        self.channels = list(Channel.objects.filter(active=True).order_by("code"))
        self.stores = list(Location.objects.filter(kind="store", active=True, pickup=True).order_by("code"))
        self.return_points = list(Location.objects.filter(active=True, accepts_returns=True).order_by("code"))
        self.products = list(Product.objects.filter(active=True).order_by("pk"))
        self.summary = SimulationSummary()
        if not (self.channels and self.stores and self.products):
            raise DomainError("Load the demo network first: python manage.py seed_demo", code="no_network")

    def associate(self, location_id: int) -> Actor:
        return Actor.system(f"associate@{location_id}")

    def _customer(self) -> CustomerInput:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        n = self.rng.randint(1, 400)  # a returning customer now and then: one customer across channels
        return CustomerInput(
            email=f"{first.lower()}.{last.lower()}{n}@example.vn",
            name=f"{last} {first}",
            phone=f"+8490{n:07d}",
            language=self.rng.choice(["vi", "vi", "en"]),
        )

    def place_one(self) -> Order | None:
        channel = self.rng.choice(self.channels)
        products = self.rng.sample(self.products, self.rng.choice([1, 1, 1, 2, 2, 3]))
        lines = [
            LineInput(sku=p.sku, quantity=self.rng.choice([1, 1, 1, 2]), unit_price=p.price) for p in products
        ]
        pickup = channel.kind in ("pos", "call_center") or self.rng.random() < 0.3
        city, (lat, lon) = self.rng.choice(list(CITIES.items()))
        data = OrderInput(
            channel=channel,
            method="pickup" if pickup else "ship",
            lines=lines,
            currency=channel.currency,
            customer=self._customer(),
            pickup_location=self.rng.choice(self.stores).code if pickup else "",
            shipping_address={} if pickup else {"line1": "1 Le Loi", "city": city, "country": "VN"},
            latitude=None if pickup else Decimal(str(round(lat + self.rng.uniform(-0.1, 0.1), 6))),
            longitude=None if pickup else Decimal(str(round(lon + self.rng.uniform(-0.1, 0.1), 6))),
            allow_backorder=self.rng.random() < 0.2,
        )
        try:
            order = order_place(data=data, actor=Actor.system(f"channel:{channel.code}")).order
        except DomainError as exc:
            self.summary.add(f"refused: {exc.code}")
            return None
        self.summary.add("orders placed")
        self.summary.add(f"channel {channel.code}")
        fs.route_order(order_id=order.pk)
        return order

    def work(self, order: Order) -> None:
        """Associates work every open fulfilment order of the order."""
        for fo in FulfillmentOrder.objects.filter(order=order, status="pending").order_by("pk"):
            actor = self.associate(fo.location_id)
            if self.rng.random() < 0.06:
                fs.fulfillment_order_reject(
                    fulfillment_order_id=fo.pk, reason="not on the shelf", actor=actor
                )
                fs.route_order(order_id=order.pk)
                self.summary.add("rejections (re-routed)")
                continue
            fs.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=actor)
        for fo in FulfillmentOrder.objects.filter(order=order, status="pending").order_by("pk"):
            fs.fulfillment_order_accept(fulfillment_order_id=fo.pk, actor=self.associate(fo.location_id))
        for fo in FulfillmentOrder.objects.filter(order=order, status="accepted").order_by("pk"):
            actor = self.associate(fo.location_id)
            if fo.method == "ship":
                fs.fulfillment_order_pick(fulfillment_order_id=fo.pk, actor=actor)
                fs.fulfillment_order_pack(fulfillment_order_id=fo.pk, actor=actor)
                carrier = self.rng.choice(["GHN", "GHTK", "VNPost", "Viettel Post"])
                fs.fulfillment_order_ship(
                    fulfillment_order_id=fo.pk,
                    carrier=carrier,
                    tracking_number=f"{carrier[:3].upper()}{self.rng.randint(10**8, 10**9)}",
                    actor=actor,
                )
                self.summary.add("shipped")
            else:
                fs.fulfillment_order_ready_for_pickup(fulfillment_order_id=fo.pk, actor=actor)
                if self.rng.random() < 0.12:  # never collected
                    FulfillmentOrder.objects.filter(pk=fo.pk).update(
                        pickup_expires_at=timezone.now() - timedelta(seconds=1)
                    )
                    fs.fulfillment_order_expire(fulfillment_order_id=fo.pk)
                    self.summary.add("pickups expired")
                else:
                    fs.fulfillment_order_picked_up(fulfillment_order_id=fo.pk, actor=actor)
                    self.summary.add("picked up")

    def maybe_return(self, order: Order) -> None:
        lines = list(OrderLine.objects.filter(order=order, quantity_fulfilled__gt=0))
        if not lines or self.rng.random() > 0.1:
            return
        line = self.rng.choice(lines)
        where = self.rng.choice(self.return_points)
        method = ReturnMethod.IN_STORE if where.kind == "store" else ReturnMethod.MAIL
        actor = Actor.system("returns desk")
        try:
            created = return_create(
                order_id=order.pk,
                method=method,
                location_code=where.code,
                lines=[
                    ReturnLineInput(
                        order_line_id=line.pk, quantity=1, reason=self.rng.choice(ReturnReason.values)
                    )
                ],
                actor=actor,
            )
            rma = created.rma
            return_line = rma.lines.get()
            disposition = Disposition.DAMAGED if self.rng.random() < 0.2 else Disposition.RESTOCK
            return_receive(
                return_id=rma.pk,
                lines=[ReceiveLineInput(return_line_id=return_line.pk, quantity=1, disposition=disposition)],
                actor=actor,
            )
            return_refund(
                return_id=rma.pk,
                amount=line.unit_price,
                method=self.rng.choice(RefundMethod.values),
                actor=actor,
            )
        except DomainError as exc:
            self.summary.add(f"return refused: {exc.code}")
            return
        self.summary.add("returns received and refunded")

    def maybe_cancel(self, order: Order) -> bool:
        if self.rng.random() < 0.03:
            try:
                order_cancel(
                    order_id=order.pk, reason="customer changed their mind", actor=Actor.system("service")
                )
            except DomainError:
                return False
            self.summary.add("orders cancelled")
            return True
        return False

    def replenish(self) -> None:
        """A delivery to a warehouse: its lowest rows get stock (waiting backorders are filled)."""
        warehouse = self.rng.choice(list(Location.objects.filter(kind="warehouse", active=True)))
        low = StockLevel.objects.filter(location=warehouse).order_by("on_hand", "pk")[:15]
        product_ids = []
        for row in low:
            stock_adjust(
                product=row.product,
                location=warehouse,
                delta=self.rng.randint(20, 60),
                reason="supplier delivery",
                actor=Actor.system("receiving"),
                kind="receipt",
            )
            product_ids.append(row.product_id)
        fs.backorders_allocate(product_ids=product_ids)
        self.summary.add("deliveries")

    def run(
        self, *, orders: int, days: int, advance: Callable[[int], None] | None = None
    ) -> SimulationSummary:
        per_day = max(1, orders // max(1, days))
        placed = 0
        for day in range(days):
            when = timezone.now() - timedelta(days=days - day)
            target = per_day if day < days - 1 else orders - placed
            for _ in range(target):
                order = self.place_one()
                placed += 1
                if order is not None:
                    if not self.maybe_cancel(order):
                        self.work(order)
                        self.maybe_return(order)
                    _backdate(order, when + timedelta(minutes=self.rng.randint(0, 60 * 14)), self.rng)
                if advance is not None:
                    advance(1)
            if day % 2 == 1:
                self.replenish()
        return self.summary
