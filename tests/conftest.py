"""Shared fixtures: API clients authenticated as a manager, an associate and channel clients.

Tests marked ``postgres`` need the real PostgreSQL (CI sets DATABASE_URL); on SQLite they are
skipped with that reason."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools
from rest_framework.test import APIClient

from inventory.models import Location, Product, StockLevel
from inventory.services import stock_adjust
from oms.actors import Actor
from oms.choices import ChannelKind
from oms.loyalty.rules import loyalty_rules_cache_clear
from oms.models import Channel
from oms.services import api_client_create
from oms.staff import staff_create

from .factories import ChannelFactory, LocationFactory, ProductFactory, StoreFactory

SYSTEM = Actor.system("tests")


@pytest.fixture(autouse=True)
def _price_lists_forgotten():
    """Each test starts without the per-process cache of which channels have a price list (a
    rolled-back test's lists would otherwise be remembered)."""
    from orders.pricing import price_list_cache_clear

    price_list_cache_clear()


@pytest.fixture(autouse=True)
def _fresh_loyalty_rules():
    """Each test reads the loyalty rules of its own database (the process caches them)."""
    loyalty_rules_cache_clear()
    yield
    loyalty_rules_cache_clear()


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks, real concurrency, COPY): set DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@dataclass
class Authed:
    """An APIClient with a bearer key, and what the key belongs to."""

    api: APIClient
    key: str
    channel: Channel | None = None
    locations: list[Location] | None = None


def _client(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


@pytest.fixture
def make_channel_client(db):
    def make(code: str = "web", kind: str = ChannelKind.WEB, name: str | None = None) -> Authed:
        channel = ChannelFactory(code=code, kind=kind)
        _, key = api_client_create(name=name or f"{code}-client-{Channel.objects.count()}", channel_code=code)
        return Authed(api=_client(key), key=key, channel=channel)

    return make


@pytest.fixture
def web_client(make_channel_client) -> Authed:
    return make_channel_client("web", ChannelKind.WEB)


@pytest.fixture
def manager(db) -> Authed:
    _, key = staff_create(username="manager", role="manager")
    return Authed(api=_client(key), key=key)


@pytest.fixture
def make_associate(db):
    def make(username: str, *locations: Location) -> Authed:
        _, key = staff_create(
            username=username, role="associate", location_codes=[loc.code for loc in locations]
        )
        return Authed(api=_client(key), key=key, locations=list(locations))

    return make


@pytest.fixture
def warehouse(db) -> Location:
    return LocationFactory(code="wh-central")


@pytest.fixture
def store(db) -> Location:
    return StoreFactory(code="store-downtown")


@pytest.fixture
def product(db) -> Product:
    return ProductFactory(sku="TSHIRT-M")


def stock_put(
    product: Product, location: Location, quantity: int, *, reason: str = "test receipt"
) -> StockLevel:
    """Receive units through the service, so on_hand and the ledger agree."""
    return stock_adjust(
        product=product, location=location, delta=quantity, reason=reason, actor=SYSTEM, kind="receipt"
    )


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def _reset_connections(app) -> None:
    """Drop pooled broker connections so the next send uses the current broker URL."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu_pools.reset()  # the global producer pools would hand out the closed connections again
    app.backend.__dict__.pop("client", None)
    app.__dict__.pop("backend", None)


@pytest.fixture
def celery_broker(monkeypatch):
    """Send ``.delay()`` to the real Redis test broker instead of running tasks eagerly.

    Celery reads ``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND`` from the environment before its
    own configuration (CI exports them), so the environment is pointed at the test broker too."""
    from config.celery_app import app

    from .worker import purge_queues, redis_url

    monkeypatch.setenv("CELERY_BROKER_URL", redis_url())
    monkeypatch.setenv("CELERY_RESULT_BACKEND", redis_url())
    # Celery looks a key up by its Django name (CELERY_TASK_ALWAYS_EAGER) before its own name
    # (task_always_eager) in every layer, so ``app.conf.task_always_eager = False`` alone loses to
    # the test settings' True: the Django setting itself is turned off for the test.
    saved = (app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend)
    monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    app.conf.task_always_eager = False
    app.conf.broker_url = redis_url()
    app.conf.result_backend = redis_url()
    _reset_connections(app)
    purge_queues()
    yield app
    app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = saved
    _reset_connections(app)


@pytest.fixture
def celery_worker(celery_broker, transactional_db):
    """A real Celery worker process on the test PostgreSQL database and the Redis test broker."""
    if connection.vendor != "postgresql":
        pytest.skip("a real worker needs PostgreSQL (SQLite's test database is in memory)")
    from .worker import WorkerProcess

    worker = WorkerProcess(name=f"w{os.getpid()}").start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def session_worker(django_db_setup, django_db_blocker):
    """One real Celery worker (2 processes) for the whole session, on the test PostgreSQL database
    and the Redis test broker; None on SQLite (tasks then run eagerly, in process)."""
    if connection.vendor != "postgresql":
        yield None
        return
    from config.celery_app import app

    from .worker import WorkerProcess, purge_queues, redis_url, shutdown_strays

    names = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    saved_env = {name: os.environ.get(name) for name in names}
    saved_conf = (app.conf.broker_url, app.conf.result_backend)
    for name in names:
        os.environ[name] = redis_url()
    app.conf.broker_url = app.conf.result_backend = redis_url()
    _reset_connections(app)
    shutdown_strays()
    purge_queues()
    worker = WorkerProcess(name=f"s{os.getpid()}", concurrency=2).start()
    yield worker
    worker.stop()
    for name, value in saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    app.conf.broker_url, app.conf.result_backend = saved_conf
    _reset_connections(app)
