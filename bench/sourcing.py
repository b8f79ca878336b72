"""Sourcing and routing for one order with 10 / 100 / 1,000 candidate locations (in process).

* figure: ``load_candidates`` + ``plan_sourcing`` for a 3-line ship order whose SKUs are stocked at
  ``size`` locations; "split" SKUs hold 1 to 4 units a row and the order wants 5 a line, so no
  location can take it whole and the engine searches for the fewest locations (the hard case);
  "single" SKUs hold hundreds (one location can: the easy case);
* reference: the SQL that ``load_candidates`` issues (captured once), run alone over psycopg with
  ``fetchall`` (no ORM, no Python on the rows);
* routing: ``fulfillment.services.route_order`` on orders placed beforehand (3 lines of "single"
  SKUs, delivery points across the country), p50/p99 and the SQL statements of one call;
* engine on random instances (``engine_random``): ``plan_sourcing`` alone on 600 seeded orders of
  ``random_instance`` (the optimality tests' generator), p50/p99/max (issue 25's goal: p99 <= 20 ms).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from .harness import count_statements, psycopg_connect, summary_ms
from .seed import CITY, COUNTRY_BOX, SOURCING_SIZES, SPLIT_QTY, sourcing_skus

# --- random orders for the engine alone (the optimality tests use the same instances) ----------

INSTANCE_SIZES = (5, 20, 100, 1000)  # candidate locations
INSTANCE_REGIMES = ("scarce", "plentiful", "fragmented")
EUROPE = ((38.0, 58.0), (-8.0, 28.0))  # latitude, longitude ranges of the cluster centres


@dataclass
class SourcingInstance:
    """One random ship order and its network, as ``plan_sourcing`` takes them."""

    seed: int
    size: int
    regime: str
    needs: list[Any]  # Need
    stock: list[Any]  # CandidateStock
    locations: dict[int, Any]  # CandidateLocation
    request: Any  # SourcingRequest

    def plan(self) -> Any:
        from inventory.sourcing import plan_sourcing

        return plan_sourcing(
            needs=self.needs, stock=self.stock, locations=self.locations, request=self.request
        )


def _holdings(rng: random.Random, regime: str, size: int, products: list[int]) -> list[tuple[int, int]]:
    """(product, units) held by one location under a stock regime."""
    if regime == "fragmented":  # one or two products, one or two units each
        return [(p, rng.randint(1, 2)) for p in rng.sample(products, min(len(products), rng.randint(1, 2)))]
    if regime == "plentiful":
        return [(p, rng.randint(1, 8)) for p in products if rng.random() < 0.6]
    chance = min(0.5, 4 / size + 0.05)  # scarce: a few holders per product, a few units each
    return [(p, rng.randint(1, 3)) for p in products if rng.random() < chance]


def random_instance(seed: int, *, size: int, regime: str) -> SourcingInstance:
    """A seeded order of 1-8 lines of 1-5 units over ``size`` locations in a few clusters (some
    sharing a building, so distances tie), delivered near a cluster or anywhere in the box."""
    from inventory.sourcing import SHIP, CandidateLocation, CandidateStock, Need, SourcingRequest

    rng = random.Random(seed)
    (lat0, lat1), (lon0, lon1) = EUROPE
    centres = [(rng.uniform(lat0, lat1), rng.uniform(lon0, lon1)) for _ in range(rng.randint(2, 6))]
    spread = rng.choice((0.2, 0.8, 2.0))
    prioritised = rng.random() < 0.3
    locations: dict[int, CandidateLocation] = {}
    points: list[tuple[float, float]] = []
    for location_id in rng.sample(range(1, 3 * size + 1), size):
        if points and rng.random() < 0.05:
            lat, lon = rng.choice(points)
        else:
            lat0c, lon0c = rng.choice(centres)
            lat, lon = round(rng.gauss(lat0c, spread), 4), round(rng.gauss(lon0c, spread), 4)
        points.append((lat, lon))
        locations[location_id] = CandidateLocation(
            id=location_id,
            code=f"L{location_id}",
            kind="warehouse",
            latitude=lat,
            longitude=lon,
            priority=rng.randint(0, 3) if prioritised else 0,
            ships=True,
        )
    products = list(range(1, rng.randint(1, 8) + 1))
    lines = [*products, *(rng.choice(products) for _ in range(rng.random() < 0.15))]
    needs = [Need(key=k, product_id=p, sku=f"P{p}", quantity=rng.randint(1, 5)) for k, p in enumerate(lines)]
    stock = [
        CandidateStock(stock_level_id=0, product_id=p, sku=f"P{p}", location_id=location_id, available=units)
        for location_id in locations
        for p, units in _holdings(rng, regime, size, products)
    ]
    stock = [row._replace(stock_level_id=pk) for pk, row in enumerate(rng.sample(stock, len(stock)), 1)]
    centre = rng.choice(centres)
    origin = (
        (rng.gauss(centre[0], 1.0), rng.gauss(centre[1], 1.0))
        if rng.random() < 0.5
        else (rng.uniform(lat0, lat1), rng.uniform(lon0, lon1))
    )
    request = SourcingRequest(method=SHIP, origin=origin)
    return SourcingInstance(seed, size, regime, needs, stock, locations, request)


def random_instances(count: int, *, first_seed: int = 0) -> list[SourcingInstance]:
    """``count`` instances cycling through the sizes and the stock regimes."""
    out = []
    for n in range(count):
        size = INSTANCE_SIZES[n % len(INSTANCE_SIZES)]
        regime = INSTANCE_REGIMES[(n // len(INSTANCE_SIZES)) % len(INSTANCE_REGIMES)]
        out.append(random_instance(first_seed + n, size=size, regime=regime))
    return out


def _needs(skus: list[str], quantity: int):  # type: ignore[no-untyped-def]
    from inventory.models import Product
    from inventory.sourcing import Need

    ids = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    return [Need(key=i, product_id=ids[sku], sku=sku, quantity=quantity) for i, sku in enumerate(skus)]


def sourcing_case(*, db_url: str, size: int, kind: str, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory.sourcing import SourcingRequest, load_candidates, plan_sourcing

    quantity = SPLIT_QTY if kind == "S" else 2
    needs = _needs(sourcing_skus(size, kind), quantity)
    product_ids = {n.product_id for n in needs}
    request = SourcingRequest(method="ship", origin=CITY)

    def figure() -> Any:
        stock, locations = load_candidates(product_ids=product_ids)
        return plan_sourcing(needs=needs, stock=stock, locations=locations, request=request), len(locations)

    with CaptureQueriesContext(connection) as ctx:
        plan, candidates = figure()
    # The reference replays exactly what load_candidates sent (one query today).
    statements = [q["sql"] for q in ctx.captured_queries if q["sql"].split(None, 1)[0].upper() == "SELECT"]

    raw = psycopg_connect(db_url)
    raw.autocommit = True
    try:
        with raw.cursor() as cur:

            def reference() -> None:
                for sql in statements:
                    cur.execute(sql)
                    cur.fetchall()

            for _ in range(10):
                reference()
                figure()
            fig: list[float] = []
            ref: list[float] = []
            load_only: list[float] = []
            for _ in range(repeat):  # interleaved, so drift hits both alike
                t0 = time.perf_counter()
                reference()
                t1 = time.perf_counter()
                stock, locations = load_candidates(product_ids=product_ids)
                t2 = time.perf_counter()
                plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)
                t3 = time.perf_counter()
                ref.append(t1 - t0)
                load_only.append(t2 - t1)
                fig.append(t3 - t1)
    finally:
        raw.close()
    return {
        "size": size,
        "case": "split" if kind == "S" else "single",
        "candidates": candidates,
        "candidate_queries": len(statements),
        "locations_used": len(plan.location_ids),
        "shortages": sum(plan.shortages.values()),
        "reason": plan.reason,
        "figure": summary_ms(fig),
        "load_candidates": summary_ms(load_only),
        "plan_sourcing_p50_ms": round(
            summary_ms([f - lo for f, lo in zip(fig, load_only, strict=True)])["p50_ms"], 3
        ),
        "reference": summary_ms(ref),
        "ratio_p99": round(summary_ms(fig)["p99_ms"] / summary_ms(ref)["p99_ms"], 2),
    }


def _place_orders(*, size: int, count: int, rng: random.Random) -> list[int]:
    from decimal import Decimal

    from oms.actors import Actor
    from oms.models import Channel
    from orders.services import LineInput, OrderInput, order_place

    channel = Channel.objects.get(code="web")
    actor = Actor.system("bench")
    skus = sourcing_skus(size, "R")
    (lat0, lat1), (lon0, lon1) = COUNTRY_BOX
    ids = []
    for _ in range(count):
        result = order_place(
            data=OrderInput(
                channel=channel,
                method="ship",
                lines=[LineInput(sku=sku, quantity=1, unit_price=Decimal("10.00")) for sku in skus],
                shipping_address={"line1": "1 Bench Street", "city": "Somewhere", "country": "VN"},
                latitude=Decimal(f"{rng.uniform(lat0, lat1):.6f}"),
                longitude=Decimal(f"{rng.uniform(lon0, lon1):.6f}"),
            ),
            actor=actor,
        )
        ids.append(result.order.pk)
    return ids


def routing_case(*, size: int, orders: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fulfillment.services import route_order

    ids = _place_orders(size=size, count=orders + 3, rng=random.Random(size))
    counted: list[dict[str, Any]] = []
    for order_id in ids[:3]:  # counted (not timed): the capture itself costs a little
        with CaptureQueriesContext(connection) as ctx:
            result = route_order(order_id=order_id)
        assert result.created, f"order {order_id} was not routed: {result}"
        counted.append(count_statements(ctx.captured_queries))
    durations = []
    moved = 0
    for order_id in ids[3:]:
        started = time.perf_counter()
        result = route_order(order_id=order_id)
        durations.append(time.perf_counter() - started)
        assert result.created, f"order {order_id} was not routed: {result}"
        moved += result.moved_units
    return {
        "size": size,
        "orders": len(durations),
        "statements": max(c["total"] for c in counted),
        "statements_detail": counted[-1],
        "moved_units": moved,
        **summary_ms(durations),
    }


def engine_case(*, count: int = 600) -> dict[str, Any]:
    """``plan_sourcing`` alone (no database) on ``count`` seeded random instances: p50 / p99 / max
    over all and per size, and how many plans hit the search's step limit (issue 25: p99 <= 20 ms)."""
    instances = random_instances(count)
    for instance in instances[:20]:  # warm up
        instance.plan()
    durations, bounded = [], 0
    for instance in instances:
        started = time.perf_counter()
        plan = instance.plan()
        durations.append(time.perf_counter() - started)
        bounded += "step limit" in plan.reason
    sized = list(zip(durations, instances, strict=True))
    return {
        "instances": count,
        "step_limit_reached": bounded,
        **summary_ms(durations),
        "by_size": {size: summary_ms([d for d, i in sized if i.size == size]) for size in INSTANCE_SIZES},
    }


def run(*, db_url: str, repeat: int, routed_orders: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sourcing": [], "routing": [], "engine_random": engine_case()}
    for size in SOURCING_SIZES:
        for kind in ("S", "R"):
            out["sourcing"].append(sourcing_case(db_url=db_url, size=size, kind=kind, repeat=repeat))
        out["routing"].append(routing_case(size=size, orders=routed_orders))
    return out
