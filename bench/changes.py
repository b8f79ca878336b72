"""Order changes over HTTP beside placement (issue 19): each client thread places a 2-unit ship
order (``POST /api/v1/orders``), then changes it (``POST /api/v1/orders/{id}/changes``: the line
down to 1 unit and a line of another SKU added), back to back through gunicorn. Both requests run
under the same load, so their latencies compare directly; the goal is a change costing at most
1.5 x a placement."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from .harness import HttpClient, closed_loop, summary_ms
from .intake import ORDERS_PATH, _idempotency, order_body


def http_changes(
    *, port: int, key: str, skus: list[str], concurrency: int, duration: float, warmup: float
) -> dict[str, Any]:
    """Place-then-change in ``concurrency`` threads for ``warmup + duration`` seconds; the latencies
    of the placements and of the changes that started after the warm-up."""
    placed: list[float] = []
    changed: list[float] = []
    lock = threading.Lock()
    counted_from = time.perf_counter() + warmup

    def operation(client: HttpClient, rng: random.Random) -> str:
        sku, other = rng.sample(skus, 2)
        started = time.perf_counter()
        status, order = client.request(
            "POST", ORDERS_PATH, order_body([sku], rng, quantity=2), _idempotency()
        )
        placing = time.perf_counter() - started
        if status != 201:
            return f"place_http_{status}"
        operations = [
            {"op": "change_quantity", "order_line": order["lines"][0]["id"], "quantity": 1},
            {"op": "add_line", "sku": other, "quantity": 1, "unit_price": "10.00"},
        ]
        begun = time.perf_counter()
        status, answer = client.request(
            "POST", f"{ORDERS_PATH}/{order['id']}/changes", {"operations": operations}, _idempotency()
        )
        changing = time.perf_counter() - begun
        if started >= counted_from:
            with lock:
                placed.append(placing)
                changed.append(changing)
        if status != 201:
            return f"change_http_{status}:{answer.get('code') if isinstance(answer, dict) else ''}"
        return "ok"

    result = closed_loop(
        operation=operation,
        make_state=lambda i: HttpClient(port, key),
        close_state=lambda client: client.close(),
        workers=concurrency,
        duration=duration,
        warmup=warmup,
        seed=19,
    )
    placement, change = summary_ms(placed), summary_ms(changed)
    return {
        "placement": placement,
        "change": change,
        "ratio_p50": round(change["p50_ms"] / placement["p50_ms"], 3) if placement["p50_ms"] else None,
        "ratio_p99": round(change["p99_ms"] / placement["p99_ms"], 3) if placement["p99_ms"] else None,
        "outcomes": dict(result.outcomes),
    }
