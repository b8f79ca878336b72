"""Photograph the store staff's admin screens, the same ones each time, so a change can be seen.

    python scripts/admin_screens.py --label before        # with the project's python (its venv)

What it does, from the worktree this file lives in:
1. builds a fresh demo database in a temporary SQLite file (``migrate``, ``seed_demo``,
   ``simulate --orders N``, ``refresh_product_affinity`` for the suggestions), or uses
   ``--database-url`` as it is (a seeded test database);
2. makes (or re-keys) two logins with a known password: ``manager`` and ``associate`` (of
   ``st-hcm-d1``, the store the demo associate works at);
3. picks the rows to show with the ORM in a ``manage.py shell`` (the customer with the most orders,
   one of their orders with a return, a fulfilment order of the associate's store, a return);
4. starts ``runserver`` on a free port and, with Playwright driving /usr/bin/chromium at 1400 px,
   logs in as each user and saves full-page PNGs to ``artifacts/screens/<label>/``, with an
   ``index.md`` naming each file, its URL and the HTTP status the page answered.

Nothing here depends on how a page looks: it only visits URLs, so it runs the same on an older or
a newer checkout (a page that does not exist yet is photographed as what the server answers).
Environment: ``OMS_CHROMIUM`` (default /usr/bin/chromium)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("OMS_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "screens-Pass-2026"  # noqa: S105 - a throwaway demo database's login
ASSOCIATE_STORE = "st-hcm-d1"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]

# What step 3 prints: the ids of the rows to photograph (empty when the data has none).
PICK = """
import json
from django.db.models import Count
from fulfillment.models import FulfillmentOrder
from orders.models import Order
from oms.models import Customer
from returns.models import Return

customer = (
    Customer.objects.annotate(n=Count("orders", distinct=True), r=Count("orders__returns", distinct=True))
    .order_by("-n", "-r", "pk").first()
)
with_return = Order.objects.filter(returns__isnull=False)
order = (
    with_return.filter(customer=customer).first() if customer else None
) or with_return.order_by("pk").first() or Order.objects.order_by("pk").first()
rma = Return.objects.filter(order=order).first() or Return.objects.order_by("pk").first()
store = FulfillmentOrder.objects.filter(location__code=%(store)r)
fo = store.filter(status__in=["pending", "accepted", "picked", "ready_for_pickup"]).order_by("pk").first()
fo = fo or store.order_by("pk").first()
print(json.dumps({
    "customer": customer.pk if customer else None,
    "customer_phone": customer.phone if customer else None,
    "order": order.pk if order else None,
    "return": rma.pk if rma else None,
    "fulfillment_order": fo.pk if fo else None,
    "fulfillment_order_order": fo.order_id if fo else None,
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", required=True, help="folder under artifacts/screens/ (before, after, ...)")
    parser.add_argument("--orders", type=int, default=120, help="orders to simulate (as ./scripts/demo)")
    parser.add_argument("--database-url", default="", help="use this database as it is (no seeding)")
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()

    out = ROOT / "artifacts" / "screens" / args.label
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="oms-screens-") as tmp:
        env = _environment(args.database_url or f"sqlite:///{Path(tmp) / 'demo.sqlite3'}")
        if not args.database_url:
            _prepare(env, args.orders)
        _logins(env)
        ids = json.loads(
            _manage(env, "shell", "-c", PICK % {"store": ASSOCIATE_STORE}).strip().splitlines()[-1]
        )
        print(f"rows to photograph: {ids}")
        with _server(env, Path(tmp)) as base:
            rows = _photograph(base, ids, out, width=args.width)
    index = [
        "# Admin screens: " + args.label,
        "",
        "| file | user | URL | HTTP |",
        "| --- | --- | --- | --- |",
    ]
    index += [f"| {name} | {user} | {url} | {status} |" for name, user, url, status in rows]
    (out / "index.md").write_text("\n".join(index) + "\n")
    print(f"{len(rows)} screens in {out.relative_to(ROOT)}/")
    return 0


def _environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "OMS_TEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=database_url,
        CELERY_TASK_ALWAYS_EAGER="true",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",  # no e-mails on the terminal
        PYTHONUNBUFFERED="1",
        # The fake gateway declines above 10,000 by default: demo prices are in VND (millions), and
        # every simulated order would wait on a payment hold with no fulfilment order to show.
        OMS_FAKE_GATEWAY_DECLINE_ABOVE=os.environ.get("OMS_FAKE_GATEWAY_DECLINE_ABOVE", "1000000000"),
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own manage.py with our own arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"manage.py {args[0]} failed ({done.returncode})")
    return done.stdout


def _prepare(env: dict[str, str], orders: int) -> None:
    started = time.monotonic()
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "seed_demo")
    _manage(env, "simulate", "--orders", str(orders), "--days", "14")
    _manage(env, "refresh_product_affinity")  # what beat does hourly: the customer page's suggestions
    print(f"demo data ready in {time.monotonic() - started:.0f} s")


def _logins(env: dict[str, str]) -> None:
    for username, role, locations in (
        ("manager", "manager", ""),
        ("associate", "associate", ASSOCIATE_STORE),
    ):
        base = ["create_staff", "--username", username, "--role", role, "--password", PASSWORD]
        if locations:
            base += ["--locations", locations]
        try:
            _manage(env, *base)
        except SystemExit:  # exists already (a given database): re-key it with our password
            _manage(env, *base, "--rotate")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(env: dict[str, str], tmp: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/admin/login/", timeout=2)  # noqa: S310 - our own server
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    log_text = (tmp / "server.log").read_text()[-2000:]
                    raise SystemExit("the server did not start: " + log_text) from None
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _pages(ids: dict[str, int | str | None]) -> list[tuple[str, str, str]]:
    """(file name, user, path) of every screen, in the order they are shown."""

    def change(app_model: str, key: str) -> str | None:
        return f"/admin/{app_model}/{ids[key]}/change/" if ids.get(key) else None

    pages = [
        ("01-landing", "anonymous", "/"),
        ("02-admin-index-manager", "manager", "/admin/"),
        ("03-order-manager", "manager", change("orders/order", "order")),
        ("04-customer-manager", "manager", change("oms/customer", "customer")),
        ("05-return-manager", "manager", change("returns/return", "return")),
        ("06-kpis-manager", "manager", "/admin/kpis/"),
        ("07-fulfillment-queue-manager", "manager", "/admin/fulfillment/fulfillmentorder/"),
        ("10-admin-index-associate", "associate", "/admin/"),
        ("11-fulfillment-queue-associate", "associate", "/admin/fulfillment/fulfillmentorder/"),
        (
            "12-fulfillment-order-associate",
            "associate",
            change("fulfillment/fulfillmentorder", "fulfillment_order"),
        ),
        (
            "13-order-of-fulfillment-order-associate",
            "associate",
            change("orders/order", "fulfillment_order_order"),
        ),
        ("14-customer-associate", "associate", change("oms/customer", "customer")),
        ("15-orders-list-associate", "associate", "/admin/orders/order/"),
        # the associate's view of the customer (issue 22): found by phone, and the reserve form
        (
            "16-customer-search-by-phone-associate",
            "associate",
            "/admin/oms/customer/?" + urlencode({"q": ids["customer_phone"]})
            if ids.get("customer_phone")
            else None,
        ),
        (
            "17-customer-reserve-in-store-associate",
            "associate",
            f"/admin/oms/customer/{ids['customer']}/reserve-in-store/" if ids.get("customer") else None,
        ),
    ]
    return [(name, user, path) for name, user, path in pages if path is not None]


def _photograph(
    base: str, ids: dict[str, int | str | None], out: Path, *, width: int
) -> list[tuple[str, ...]]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        raise SystemExit(f"no chromium at {CHROMIUM} (apt-get install chromium, or set OMS_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, ...]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        contexts: dict[str, object] = {}
        for name, user, path in _pages(ids):
            if user not in contexts:
                contexts[user] = _logged_in(browser, base, user, width)
            page = contexts[user].new_page()  # type: ignore[attr-defined]
            response = page.goto(base + path, wait_until="networkidle")
            status = response.status if response else "?"
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            page.close()
            rows.append((f"{name}.png", user, path, str(status)))
            print(f"  {name}.png  {user:9}  {status}  {path}")
        browser.close()
    return rows


def _logged_in(browser, base: str, user: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    if user != "anonymous":
        page = context.new_page()
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", user)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state("networkidle")
        if "/login/" in page.url:
            raise SystemExit(f"could not log in as {user}")
        page.close()
    return context


if __name__ == "__main__":
    raise SystemExit(main())
