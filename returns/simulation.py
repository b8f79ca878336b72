"""Drive a realistic stream of work through the same services the API and the admin call: orders
from every channel (ship and pickup), routing, associates accepting, rejecting, picking, packing,
shipping and handing over, pickups left to expire, returns at stores and by mail with refunds, and
receipts that refill stock (and fill backorders).

Used by ``python manage.py simulate --orders N --days D``. Each simulated day's rows are dated back
to that day (order and fulfilment timestamps), so the KPIs show a history. A few regular customers
(``REGULARS``) come back across channels: the first three order on the web, in the app and at a
store till, and return something, so the admin has unified histories to show; a third of the other
orders come from a regular too. Half of the ship orders send an address without coordinates, which
the offline geocoder places (``inventory.geocoding``). It lives in the returns app because it uses
every app below it."""

from __future__ import annotations

import random
from collections import Counter, deque
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
# how customers write the two cities when they send no coordinates (the geocoder knows them all)
SPELLINGS = {
    "Ho Chi Minh City": ["HCMC", "TP. Hồ Chí Minh", "Saigon"],
    "Hanoi": ["Hà Nội", "Ha Noi", "Hanoi"],
}
# (name, e-mail, phone, language): customers who come back, on every channel
REGULARS = [
    ("Nguyen Lan", "lan.nguyen@example.vn", "+84901000001", "vi"),
    ("Tran Minh", "minh.tran@example.vn", "+84901000002", "vi"),
    ("Le Hoa", "hoa.le@example.vn", "+84901000003", "en"),
    ("Pham Quang", "quang.pham@example.vn", "+84901000004", "vi"),
    ("Vu Chi", "chi.vu@example.vn", "+84901000005", "en"),
]
SHOWCASE_CHANNELS = ("web", "app", "pos")  # the first regulars order on each, and return one order
SHOWCASE_CUSTOMERS = 3
FIRST = ["An", "Binh", "Chi", "Dung", "Giang", "Hoa", "Khanh", "Lan", "Minh", "Nam", "Phuong", "Quang"]
LAST = ["Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Bui"]


@dataclass
class SimulationSummary:
    counts: Counter = field(default_factory=Counter)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n


@dataclass(frozen=True)
class Showcase:
    """An order the simulation places for sure: a regular customer on a given channel."""

    channel: Channel
    customer: CustomerInput
    returns: bool  # and returns a unit of it


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
        self.location_codes = dict(Location.objects.values_list("pk", "code"))
        self.products = list(Product.objects.filter(active=True).order_by("pk"))
        self.summary = SimulationSummary()
        if not (self.channels and self.stores and self.products):
            raise DomainError("Load the demo network first: python manage.py seed_demo", code="no_network")

    def associate(self, location_id: int) -> Actor:
        """The simulated store associate at a location, named by its code (never its id)."""
        return Actor.system(f"associate at {self.location_codes.get(location_id, location_id)}")

    def _customer(self) -> CustomerInput:
        if self.rng.random() < 0.3:
            return self._regular(self.rng.randrange(len(REGULARS)))
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        n = self.rng.randint(1, 400)  # a returning customer now and then: one customer across channels
        return CustomerInput(
            email=f"{first.lower()}.{last.lower()}{n}@example.vn",
            name=f"{last} {first}",
            phone=f"+8490{n:07d}",
            language=self.rng.choice(["vi", "vi", "en"]),
        )

    @staticmethod
    def _regular(index: int) -> CustomerInput:
        name, email, phone, language = REGULARS[index]
        return CustomerInput(email=email, name=name, phone=phone, language=language)

    def showcase(self) -> list[Showcase]:
        """The orders that give the first regulars a history on the web, the app and a till, with
        a return each (of the last channel's order, the till purchase)."""
        by_code = {channel.code: channel for channel in self.channels}
        codes = [code for code in SHOWCASE_CHANNELS if code in by_code]
        return [
            Showcase(channel=by_code[code], customer=self._regular(index), returns=code == codes[-1])
            for index in range(SHOWCASE_CUSTOMERS)
            for code in codes
        ]

    def _address(self) -> tuple[dict, Decimal | None, Decimal | None]:
        """A delivery address in one of the cities: half with coordinates, half with the city only."""
        city, (lat, lon) = self.rng.choice(list(CITIES.items()))
        if self.rng.random() < 0.5:
            return (
                {"line1": "1 Le Loi", "city": self.rng.choice(SPELLINGS[city]), "country": "VN"},
                None,
                None,
            )
        latitude = Decimal(str(round(lat + self.rng.uniform(-0.1, 0.1), 6)))
        longitude = Decimal(str(round(lon + self.rng.uniform(-0.1, 0.1), 6)))
        return {"line1": "1 Le Loi", "city": city, "country": "VN"}, latitude, longitude

    def place_one(self, showcase: Showcase | None = None) -> Order | None:
        channel = showcase.channel if showcase else self.rng.choice(self.channels)
        products = self.rng.sample(self.products, self.rng.choice([1, 1, 1, 2, 2, 3]))
        lines = [
            LineInput(sku=p.sku, quantity=self.rng.choice([1, 1, 1, 2]), unit_price=p.price) for p in products
        ]
        pickup = channel.kind in ("pos", "call_center") or self.rng.random() < 0.3
        address, latitude, longitude = ({}, None, None) if pickup else self._address()
        data = OrderInput(
            channel=channel,
            method="pickup" if pickup else "ship",
            lines=lines,
            currency=channel.currency,
            customer=showcase.customer if showcase else self._customer(),
            pickup_location=self.rng.choice(self.stores).code if pickup else "",
            shipping_address=address,
            latitude=latitude,
            longitude=longitude,
            allow_backorder=showcase is None and self.rng.random() < 0.2,
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

    def work(self, order: Order, *, smooth: bool = False) -> None:
        """Associates work every open fulfilment order of the order (``smooth``: no rejection, and
        every pickup is collected)."""
        for fo in FulfillmentOrder.objects.filter(order=order, status="pending").order_by("pk"):
            actor = self.associate(fo.location_id)
            if not smooth and self.rng.random() < 0.06:
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
                if not smooth and self.rng.random() < 0.12:  # never collected
                    FulfillmentOrder.objects.filter(pk=fo.pk).update(
                        pickup_expires_at=timezone.now() - timedelta(seconds=1)
                    )
                    fs.fulfillment_order_expire(fulfillment_order_id=fo.pk)
                    self.summary.add("pickups expired")
                else:
                    fs.fulfillment_order_picked_up(fulfillment_order_id=fo.pk, actor=actor)
                    self.summary.add("picked up")

    def maybe_return(self, order: Order, *, surely: bool = False) -> None:
        lines = list(OrderLine.objects.filter(order=order, quantity_fulfilled__gt=0))
        if not lines or (not surely and self.rng.random() > 0.1):
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
        showcase = self.showcase()  # spread over the run: the regulars come back day after day
        due = deque((k * orders // len(showcase), entry) for k, entry in enumerate(showcase))
        placed = 0
        for day in range(days):
            when = timezone.now() - timedelta(days=days - day)
            target = per_day if day < days - 1 else orders - placed
            for _ in range(target):
                entry = due[0][1] if due and due[0][0] <= placed else None
                order = self.place_one(entry)
                placed += 1
                if entry is not None and order is not None:
                    due.popleft()  # a refused one (no stock at that store) is tried again next
                if order is not None:
                    if entry is not None:
                        self.work(order, smooth=True)
                        self.maybe_return(order, surely=entry.returns)
                    elif not self.maybe_cancel(order):
                        self.work(order)
                        self.maybe_return(order)
                    _backdate(order, when + timedelta(minutes=self.rng.randint(0, 60 * 14)), self.rng)
                if advance is not None:
                    advance(1)
            if day % 2 == 1:
                self.replenish()
        return self.summary
