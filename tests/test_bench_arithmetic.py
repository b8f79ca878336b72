"""The arithmetic the benchmarks print (no benchmark runs here: they live in bench/, not in CI)."""

from __future__ import annotations

import pytest

from bench.run import background_share


def test_background_against_intake_cpu_per_order():
    routing = {"web": 9.89, "routing_worker": 7.45, "other_worker": 5.6, "redis": 0.41, "postgres": 3.93}
    split = background_share(routing, {"postgres_ms": 1.51})
    # intake: web + its PostgreSQL; background: both workers, Redis, the rest of PostgreSQL
    assert split == {"intake_ms": 11.4, "background_ms": 15.88, "ratio": 1.39}


def test_intake_postgres_never_exceeds_what_the_routing_row_saw():
    routing = {"web": 10.0, "routing_worker": 5.0, "other_worker": 5.0, "redis": 0.0, "postgres": 1.0}
    split = background_share(routing, {"postgres_ms": 3.0})
    assert split["intake_ms"] == 11.0
    assert split["background_ms"] == pytest.approx(10.0)


def test_nothing_without_the_intake_row():
    assert background_share({"web": 1.0}, None) == {}
