"""Where the time goes: pyinstrument profiles of the hot paths, in process, on a scratch database.

    pip install pyinstrument        # a profiling tool, not a dependency of the project
    python -m bench.profile [--only intake,availability,routing,sourcing] [--repeat 200]

Each scenario runs ``--repeat`` times after a warm-up, through Django's test client for the HTTP
endpoints (authentication, parsing, serializers and rendering included; no gunicorn), and writes a
text profile to ``artifacts/profile-<scenario>.txt``, plus the wall time per call and the share of
it spent waiting for PostgreSQL (time inside the database cursor's ``execute``/``fetch``).
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import harness

SCENARIOS = ("intake", "availability", "routing", "sourcing")


class DbTimer:
    """Django ``execute_wrapper``: total seconds spent in the database driver."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1


def _profile(name: str, call: Callable[[], Any], *, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from pyinstrument import Profiler

    for _ in range(max(10, repeat // 10)):
        call()
    timer = DbTimer()
    with connection.execute_wrapper(timer):
        started = time.perf_counter()
        for _ in range(repeat):
            call()
        wall = time.perf_counter() - started
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(repeat):
        call()
    profiler.stop()
    harness.ARTIFACTS.mkdir(exist_ok=True)
    path = harness.ARTIFACTS / f"profile-{name}.txt"
    path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    return {
        "scenario": name,
        "calls": repeat,
        "wall_ms_per_call": round(wall / repeat * 1000, 2),
        "db_ms_per_call": round(timer.seconds / repeat * 1000, 2),
        "python_ms_per_call": round((wall - timer.seconds) / repeat * 1000, 2),
        "statements_per_call": round(timer.statements / repeat, 1),
        "profile": str(path.relative_to(harness.ROOT)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    try:
        import pyinstrument  # noqa: F401 - a tool for this command only, not a project dependency
    except ImportError:
        raise SystemExit(
            "python -m bench.profile needs pyinstrument: .venv/bin/pip install pyinstrument"
        ) from None

    harness.setup_django()
    from django.test import Client

    from .availability import SKUS_PER_QUERY
    from .intake import order_body
    from .seed import CITY, seed
    from .sourcing import _needs, _place_orders, sourcing_skus

    results = []
    harness.redis_flush()
    try:
        with harness.scratch_database("oms_bench_profile"):
            seeded = seed(intake_skus=5_000, flash_stock=100)
            harness.vacuum_analyze()
            http = Client(HTTP_AUTHORIZATION=f"Bearer {seeded.key}")
            rng = random.Random(1)

            if "intake" in only:

                def place() -> None:
                    body = order_body([rng.choice(seeded.intake_skus)], rng)
                    response = http.post(
                        "/api/v1/orders",
                        data=json.dumps(body),
                        content_type="application/json",
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
                    assert response.status_code == 201, response.content[:300]

                results.append(_profile("intake", place, repeat=args.repeat))

            if "availability" in only:

                def availability() -> None:
                    query: dict[str, Any] = {"sku": rng.sample(seeded.intake_skus, SKUS_PER_QUERY)}
                    query.update(latitude=CITY[0], longitude=CITY[1], radius_km=50)
                    response = http.get("/api/v1/availability", query)
                    assert response.status_code == 200, response.content[:300]

                results.append(_profile("availability", availability, repeat=args.repeat))

            if "routing" in only:
                from fulfillment.services import route_order

                # the warm-up, the timed run and the profiled run each route their own orders
                count = args.repeat * 2 + max(10, args.repeat // 10)
                ids = iter(_place_orders(size=10, count=count, rng=random.Random(2)))
                results.append(
                    _profile("routing", lambda: route_order(order_id=next(ids)), repeat=args.repeat)
                )

            if "sourcing" in only:
                from inventory.sourcing import SourcingRequest, load_candidates, plan_sourcing

                for kind in ("S", "R"):
                    needs = _needs(sourcing_skus(1000, kind), 5 if kind == "S" else 2)
                    product_ids = {n.product_id for n in needs}
                    request = SourcingRequest(method="ship", origin=CITY)

                    def source(needs=needs, product_ids=product_ids, request=request) -> None:  # type: ignore[no-untyped-def]
                        stock, locations = load_candidates(product_ids=product_ids)
                        plan_sourcing(needs=needs, stock=stock, locations=locations, request=request)

                    results.append(
                        _profile(f"sourcing-1000-{kind}", source, repeat=max(20, args.repeat // 4))
                    )
    finally:
        harness.redis_flush()
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
