"""schemathesis hooks for scripts/fuzz (``SCHEMATHESIS_HOOKS``): what an integrator's requests have
that a generator cannot know from the schema alone.

* Each POST gets its own Idempotency-Key, as a real client sends one per logical request. One fixed
  key for every POST made the second order body a 422 idempotency_key_reused: the harness's doing,
  not the API's.
* A schema-valid ("positive") request names rows that exist: the SKUs, location and channel codes
  of the demo network (``OMS_FUZZ_DEMO``, written by scripts/fuzz), the lines of the order or
  return in its path or body (read through the API with the run's own key), a point with a radius,
  a KPI period of at most 366 days ending before 9999, and no ``associate`` from a staff token
  (that field is for in-person channel keys). An integrator sends ids it was given, not random
  ones; these are the rules the schema cannot state (OpenAPI 3.0 has no references to data or
  dependencies between query parameters, docs/api-fuzzing.md). Negative cases are left as
  generated, so "invalid request accepted" still sees every mutation.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import requests
import schemathesis

_POINT = {"latitude": 10.7769, "longitude": 106.7009}  # District 1, Ho Chi Minh City
_MAX_DAYS = 366  # oms.kpis.MAX_DAYS


@cache
def _demo() -> dict[str, Any]:
    path = os.environ.get("OMS_FUZZ_DEMO")
    if not path:
        return {"skus": [], "locations": [], "channels": []}
    with open(path, encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def _is_staff() -> bool:
    return os.environ.get("OMS_FUZZ_CALLER", "manager") != "channel"


_SENDING = threading.local()  # the phase of the case this worker thread is about to send
_PATIENCE = {"examples": 3}  # tries: an example's order may be in the other worker's POST /orders


def _get(path: str) -> dict[str, Any] | None:
    """GET an API object with the run's key (None unless 200)."""
    base, key = os.environ.get("OMS_FUZZ_BASE"), os.environ.get("OMS_FUZZ_KEY")
    if not base or not key:
        return None
    for attempt in range(_PATIENCE.get(getattr(_SENDING, "phase", ""), 1)):
        if attempt:
            time.sleep(1)
        response = requests.get(f"{base}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        if response.status_code == 200:
            found: dict[str, Any] = response.json()
            return found
    return None


def _lines_of(obj: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    lines = (obj or {}).get("lines", [])
    return {line["id"]: line for line in lines if isinstance(line, dict) and "id" in line}


def _line_ids(obj: dict[str, Any] | None) -> list[int]:
    return list(_lines_of(obj))


def _active(line: dict[str, Any]) -> int:
    return int(line.get("quantity", 0)) - int(line.get("quantity_cancelled", 0))


def _open(line: dict[str, Any]) -> int:
    """Units neither cancelled nor fulfilled: what a cancel may take."""
    return _active(line) - int(line.get("quantity_fulfilled", 0))


def _codes(**wanted: Any) -> list[str]:
    return [
        loc["code"]
        for loc in _demo()["locations"]
        if loc["active"] and all(loc.get(k) == v for k, v in wanted.items())
    ]


def _sku(value: Any, index: int) -> Any:
    skus = _demo()["skus"]
    return skus[index % len(skus)] if skus and value not in skus else value


def _lines(lines: Any, ids: list[int], key: str) -> Any:
    """The body's lines naming distinct lines of the object (at most one item per line); without
    the object's lines, the items de-duplicated by ``key`` (422 duplicate_... is checked first)."""
    if not isinstance(lines, list):
        return lines
    items = [item for item in lines if isinstance(item, dict)]
    if not ids:
        unique = {item.get(key): item for item in reversed(items)}
        return [item for item in items if unique.get(item.get(key)) is item] or lines[:1]
    items = items[: len(ids)] or lines[:1]
    for item, line_id in zip(items, ids, strict=False):
        if isinstance(item, dict):
            item[key] = line_id
    return items


def _availability(query: dict[str, Any]) -> None:
    if any(name in query for name in ("radius_km", "latitude", "longitude")):
        for name, value in _POINT.items():
            query.setdefault(name, value)


def _kpis(query: dict[str, Any]) -> None:
    def parse(name: str) -> date | None:
        try:
            return date.fromisoformat(str(query[name])) if name in query else None
        except ValueError:
            return None

    # the server counts in its own time zone: its today is UTC's or the day after
    utc_today = datetime.now(UTC).date()
    end = min(parse("to") or utc_today, date(9998, 12, 31))
    latest = end if "to" in query else utc_today + timedelta(days=1)
    start = parse("from") or end - timedelta(days=min(29, (end - date.min).days))
    if "to" in query:
        query["to"] = end.isoformat()
    too_long = start > end or (latest - start).days + 1 > _MAX_DAYS
    if too_long or ("from" not in query and (end - date.min).days < 29):
        query["from"] = end.isoformat()


def _order(body: dict[str, Any]) -> None:
    if _is_staff():
        channels = _demo()["channels"]
        if channels and body.get("channel") not in {c["code"] for c in channels}:
            body["channel"] = channels[0]["code"]
    if body.get("currency"):
        body["currency"] = ""  # the channel's
    for i, line in enumerate(body.get("lines") or []):
        if isinstance(line, dict):
            line["sku"] = _sku(line.get("sku"), i)
    stores = _codes(pickup=True)
    if body.get("pickup_location") and stores and body["pickup_location"] not in stores:
        body["pickup_location"] = stores[0]


def _return(body: dict[str, Any]) -> None:
    order = _get(f"/api/v1/orders/{body.get('order')}/") if body.get("order") else None
    body["lines"] = _lines(body.get("lines"), _line_ids(order), "order_line")
    if body.get("method") == "in_store":
        codes = _codes(accepts_returns=True, kind="store")
    else:
        codes = _codes(accepts_returns=True)
    if codes and body.get("location") not in codes:
        body["location"] = codes[0]
    if _is_staff() and body.get("channel"):
        body["channel"] = ""  # the order's
    for i, line in enumerate(body.get("exchange_lines") or []):
        if isinstance(line, dict):
            line["sku"] = _sku(line.get("sku"), i)


def _changes(order_id: Any, body: dict[str, Any]) -> None:
    lines = _lines_of(_get(f"/api/v1/orders/{order_id}/"))
    stores = _codes(pickup=True)
    used: set[int] = set()
    for i, op in enumerate(body.get("operations") or []):
        if not isinstance(op, dict):
            continue
        if "order_line" in op and lines:
            free = [line for line in lines if line not in used] or list(lines)
            op["order_line"] = free[0]
            used.add(free[0])
            line = lines[free[0]]
            if op.get("op") == "change_quantity" and op.get("quantity") == _active(line):
                op["quantity"] = _active(line) + 1  # 422 quantity_unchanged
            elif op.get("op") == "cancel_units" and isinstance(op.get("quantity"), int):
                op["quantity"] = max(1, min(op["quantity"], _open(line)))  # 422 quantity_exceeds_open
        if "sku" in op:
            op["sku"] = _sku(op["sku"], i)
        if op.get("pickup_location") and stores and op["pickup_location"] not in stores:
            op["pickup_location"] = stores[0]


def _cancel(order_id: Any, body: dict[str, Any]) -> None:
    lines = _lines_of(_get(f"/api/v1/orders/{order_id}/"))
    if not isinstance(body.get("lines"), list) or not lines:
        if isinstance(body.get("lines"), list):
            body["lines"] = _lines(body["lines"], [], "order_line")
        return
    cancellable = {line_id: _open(line) for line_id, line in lines.items() if _open(line) > 0}
    if not cancellable:
        del body["lines"]  # nothing open: the whole order (409 once everything has shipped)
        return
    body["lines"] = _lines(body["lines"], list(cancellable), "order_line")
    for item in body["lines"]:
        if isinstance(item, dict) and isinstance(item.get("quantity"), int):
            item["quantity"] = max(1, min(item["quantity"], cancellable[item["order_line"]]))


def _codes_list(body: dict[str, Any]) -> None:
    codes = _codes()
    if isinstance(body.get("locations"), list) and codes:
        body["locations"] = list(dict.fromkeys(c if c in codes else codes[0] for c in body["locations"]))


def _refer_to_demo(method: str, path: str, case: Any) -> None:
    body = case.body if isinstance(case.body, dict) else None
    query = case.query if isinstance(case.query, dict) else None
    if path == "/api/v1/availability/" and query is not None:
        _availability(query)
    elif path == "/api/v1/kpis/" and query is not None:
        _kpis(query)
    if body is None or method not in ("POST", "PATCH"):
        return
    if path in ("/api/v1/inventory/adjustments/", "/api/v1/inventory/snapshots/"):
        locations = _codes()
        if locations and body.get("location") not in locations:
            body["location"] = locations[0]
        if "sku" in body:
            body["sku"] = _sku(body["sku"], 0)
        items = [item for item in body.get("items") or [] if isinstance(item, dict)]
        for i, item in enumerate(items[: len(_demo()["skus"]) or None]):
            item["sku"] = _demo()["skus"][i] if _demo()["skus"] else item.get("sku")
    elif path == "/api/v1/orders/" and method == "POST":
        _order(body)
    elif path == "/api/v1/returns/" and method == "POST":
        _return(body)
    elif path.startswith("/api/v1/orders/{id}/changes/"):
        _changes(case.path_parameters.get("id"), body)
    elif path == "/api/v1/orders/{id}/cancel/":
        _cancel(case.path_parameters.get("id"), body)
    elif path.startswith("/api/v1/staff/"):
        _codes_list(body)
    elif path == "/api/v1/returns/{id}/receive/":
        the_return = _get(f"/api/v1/returns/{case.path_parameters.get('id')}/")
        body["lines"] = _lines(body.get("lines"), _line_ids(the_return), "return_line")
    if path in ("/api/v1/returns/{id}/receive/", "/api/v1/returns/{id}/refund/") and _is_staff():
        body.pop("associate", None)  # staff act as themselves (422 associate_not_expected)


@schemathesis.hook("map_headers")
def idempotency_key_per_request(ctx: Any, headers: dict[str, str] | None) -> dict[str, str]:
    headers = dict(headers or {})
    if ctx.operation.method.upper() == "POST":
        headers["Idempotency-Key"] = uuid.uuid4().hex
    return headers


@schemathesis.hook("map_case")
def idempotency_key_in_examples(ctx: Any, case: Any) -> Any:
    if case.operation.method.upper() == "POST":  # the examples phase does not go through map_headers
        case.headers = {**(case.headers or {})}
        case.headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
    return case


@schemathesis.hook("before_call")
def refer_to_demo_data(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Just before the request, so the rows it names (an order placed by an earlier request) exist."""
    mode = getattr(getattr(case.meta, "generation", None), "mode", None)
    if mode is not None and getattr(mode, "is_positive", False):
        _SENDING.phase = str(getattr(getattr(case.meta, "phase", None), "name", ""))
        _refer_to_demo(case.operation.method.upper(), case.operation.path, case)
        if case.operation.method.upper() == "POST":  # the body may have changed: a key of its own
            case.headers = {**(case.headers or {}), "Idempotency-Key": uuid.uuid4().hex}
