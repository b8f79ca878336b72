"""Settings shared by every environment.

Every value that differs between machines is read from the environment with django-environ,
using the names fixed in design.md (DATABASE_URL, CELERY_*, DJANGO_*, EMAIL_BACKEND, OMS_*).
"""

from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer may keep variables in a .env file at the root; the real environment wins.
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me-for-anything-real")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "oms.apps.OmsAdminConfig",  # django.contrib.admin with the store staff's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oms",
    "inventory",
    "orders",
    "fulfillment",
    "returns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# Under /api/ a CSRF failure answers in the house error format (oms/api/error_views.py).
CSRF_FAILURE_VIEW = "oms.api.error_views.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------


def prepare_threshold(raw: str) -> int | None:
    """psycopg's ``prepare_threshold`` from the environment: a count, or None (never prepare) for
    ``off`` / ``none`` / empty."""
    value = raw.strip().lower()
    if value in ("", "off", "none", "false"):
        return None
    threshold = int(value)
    if threshold < 0:
        raise ValueError("DATABASE_PREPARE_THRESHOLD must be 0 or more, or off")
    return threshold


# SQLite is the embedded default for the demo; DATABASE_URL=postgres://... is the real thing.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions (style.md)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    if env.bool("DATABASE_POOL", default=True):
        # psycopg 3 connection pool (Django >= 5.1): no reconnect per request.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
            "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server, and each statement prepared (parsed and planned once per
    # connection) after DATABASE_PREPARE_THRESHOLD runs: the hot paths repeat the same few dozen
    # statements, and planning them again each time was a third of PostgreSQL's CPU per order
    # (docs/performance.md). Behind a pooler in transaction mode without prepared-statement
    # support, set DATABASE_PREPARE_THRESHOLD=off; DATABASE_SERVER_SIDE_BINDING=false goes back to
    # Django's default (client-side binding, nothing prepared).
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = prepare_threshold(
            env.str("DATABASE_PREPARE_THRESHOLD", default="5")
        )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the writer lock instead of failing at once when the demo server and a worker share it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("vi", "Tiếng Việt")]
# The times the admin shows (stored in UTC whatever it is): the network's zone, e.g. Asia/Ho_Chi_Minh
# (the demo sets it); each location also has its own ``timezone`` for its start page.
TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Customer e-mails are translated (locale/vi/LC_MESSAGES/django.po, compiled .mo committed).
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oms.authentication.BearerKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["oms.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["oms.api.parsers.SizeLimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "oms.api.pagination.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "oms.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "oms.api.exception_handler.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["oms.api.throttling.ApiClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_client": env("OMS_API_THROTTLE_RATE", default="50/second")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Unified OMS API",
    "DESCRIPTION": "REST API contract v1: orders from every channel, one inventory, routing to warehouses "
    "and stores, cross-channel returns.",
    "VERSION": "1.0.0",
    # 3.1: the document lists the events the OMS POSTs to webhook endpoints in ``webhooks``.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "oms.api.schema.add_error_responses",
        "oms.api.schema_webhooks.add_webhooks",
        "oms.api.schema_webhooks.oas31_nullable",
    ],
    "ENUM_NAME_OVERRIDES": {
        # Several choice sets share a field name ("kind", "status"): name each enum after its class.
        "ChannelKindEnum": "oms.choices.ChannelKind",
        "LocationKindEnum": "inventory.choices.LocationKind",
        "MovementKindEnum": "inventory.choices.MovementKind",
        "OrderStatusEnum": "orders.choices.OrderStatus",
        "FulfillmentStatusEnum": "fulfillment.choices.FulfillmentStatus",
        "ReservationStatusEnum": "orders.choices.ReservationStatus",
        "TransferStatusEnum": "inventory.choices.TransferStatus",
        "FulfillmentMethodEnum": "orders.choices.FulfillmentMethod",
        "HoldReasonEnum": "orders.choices.HoldReason",
        "OrderChangeKindEnum": "orders.choices.OrderChangeKind",
        "ReturnStatusEnum": "returns.choices.ReturnStatus",
        "ReturnMethodEnum": "returns.choices.ReturnMethod",
        "ReturnReasonEnum": "returns.choices.ReturnReason",
        "DispositionEnum": "returns.choices.Disposition",
        "RefundMethodEnum": "returns.choices.RefundMethod",
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default="redis://127.0.0.1:6379/1")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
# A worker child keeps its database connections (its psycopg pool) across tasks, as a web process
# does across requests, instead of Celery's default of closing them (and the pool) after every
# task: that cost each task a new PostgreSQL backend. Stale or broken connections are still
# dropped before and after each task (config/celery_app.py); the pool is recycled every N tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="orders@oms.example")

# --- Domain settings ------------------------------------------------------------------------
# Screens write money in the currency's own locale (oms/display.py), e.g. "VND=vi_VN;USD=en_US";
# a currency not listed is written in the active language.
OMS_MONEY_LOCALES = env.dict("OMS_MONEY_LOCALES", default={"VND": "vi_VN"})
OMS_PICKUP_HOLD_DAYS = env.int("OMS_PICKUP_HOLD_DAYS", default=3)
# Days a transfer takes between two locations, unless the source location says (transfer_lead_days).
OMS_TRANSFER_LEAD_DAYS = env.int("OMS_TRANSFER_LEAD_DAYS", default=2)
# Pickup codes (docs/store-day.md): wrong codes before a pickup's code locks, and whether the API's
# picked-up needs one (the admin always does; false keeps API v1 clients that send none working).
OMS_PICKUP_CODE_MAX_ATTEMPTS = env.int("OMS_PICKUP_CODE_MAX_ATTEMPTS", default=5)
OMS_API_PICKUP_CODE_REQUIRED = env.bool("OMS_API_PICKUP_CODE_REQUIRED", default=False)
# The store's service levels (the start page's "late" work): a pickup ready, a parcel shipped,
# within these hours of its fulfilment order's creation.
OMS_SLA_PICKUP_READY_HOURS = env.int("OMS_SLA_PICKUP_READY_HOURS", default=2)
OMS_SLA_SHIP_HOURS = env.int("OMS_SLA_SHIP_HOURS", default=24)
# A pickup the store cannot supply: its 409 lists the other stores within this many km
OMS_NEARBY_STORES_RADIUS_KM = env.float("OMS_NEARBY_STORES_RADIUS_KM", default=50.0)
# Payments (docs/payments.md): the gateway adapter, the fake gateway's decline limit, and the
# retries of a capture / void / refund that failed transiently (backoff base, doubling, and count).
OMS_PAYMENT_GATEWAY = env("OMS_PAYMENT_GATEWAY", default="fake")
OMS_FAKE_GATEWAY_DECLINE_ABOVE = env("OMS_FAKE_GATEWAY_DECLINE_ABOVE", default="10000.00")
OMS_FAKE_GATEWAY_SLOW_SECONDS = env.float("OMS_FAKE_GATEWAY_SLOW_SECONDS", default=2.0)
OMS_PAYMENT_RETRY_SECONDS = env.float("OMS_PAYMENT_RETRY_SECONDS", default=1.0)
OMS_PAYMENT_MAX_RETRIES = env.int("OMS_PAYMENT_MAX_RETRIES", default=5)
OMS_RETURN_WINDOW_DAYS = env.int("OMS_RETURN_WINDOW_DAYS", default=30)
# Per-channel return windows, e.g. OMS_RETURN_WINDOW_DAYS_BY_CHANNEL="marketplace=14;pos=60"
OMS_RETURN_WINDOW_DAYS_BY_CHANNEL = env.dict(
    "OMS_RETURN_WINDOW_DAYS_BY_CHANNEL", cast={"value": int}, default={}
)
OMS_IDEMPOTENCY_TTL_HOURS = env.int("OMS_IDEMPOTENCY_TTL_HOURS", default=24)
# Price lists (docs/carts.md): an order line below the channel's listed price minus this many per
# cent is 422 price_mismatch (0: exactly the listed price or more); OMS_PRICE_CHECK=false turns the
# check off. Which channels have a price list is kept this many seconds per process (0: asked
# every time); saving a price list drops it at once in this process.
OMS_PRICE_CHECK = env.bool("OMS_PRICE_CHECK", default=True)
OMS_PRICE_TOLERANCE_PERCENT = env.float("OMS_PRICE_TOLERANCE_PERCENT", default=0.0)
OMS_PRICE_LIST_CACHE_SECONDS = env.float("OMS_PRICE_LIST_CACHE_SECONDS", default=5.0)
# Carts (docs/carts.md): the longest hold a cart may place, and the default of POST /carts/{id}/hold.
OMS_CART_HOLD_MAX_MINUTES = env.int("OMS_CART_HOLD_MAX_MINUTES", default=24 * 60)
OMS_CART_HOLD_DEFAULT_MINUTES = env.int("OMS_CART_HOLD_DEFAULT_MINUTES", default=30)
OMS_SWEEPER_STUCK_SECONDS = env.int("OMS_SWEEPER_STUCK_SECONDS", default=60)
# The routing inbox (oms/inbox.py, fulfillment/tasks.py): orders to route wait in a Redis list that
# ``route_waiting`` tasks drain, a batch routed in one transaction, instead of one task message per
# order. Used when tasks are not eager and the broker is Redis. At most DRAINS run at once; each
# takes BATCH orders at a time, and another starts only when more than BATCH wait per running
# drain; a drain hands over to a new task after DRAIN_SECONDS (a warm shutdown never waits long).
OMS_ROUTING_INBOX = env.bool("OMS_ROUTING_INBOX", default=True)
OMS_ROUTING_DRAINS = env.int("OMS_ROUTING_DRAINS", default=2)
OMS_ROUTING_BATCH = env.int("OMS_ROUTING_BATCH", default=20)
OMS_ROUTING_DRAIN_SECONDS = env.float("OMS_ROUTING_DRAIN_SECONDS", default=2.0)
# Outbox: the relay re-dispatches events not dispatched this long after they were written, and
# forgets dispatched events after the retention period.
OMS_OUTBOX_RELAY_AFTER_SECONDS = env.int("OMS_OUTBOX_RELAY_AFTER_SECONDS", default=30)
OMS_OUTBOX_RETENTION_DAYS = env.int("OMS_OUTBOX_RETENTION_DAYS", default=7)
# Dispatched events are marked by a background thread in batches at most this many seconds later
# (0: one UPDATE right after each dispatch, in the request). Keep it far below RELAY_AFTER.
OMS_OUTBOX_MARK_DELAY_SECONDS = env.float("OMS_OUTBOX_MARK_DELAY_SECONDS", default=1.0)
# Webhooks: attempts per delivery (1 + retries with backoff 2, 4, ... 2**n s), consecutive failures
# that disable an endpoint, the HTTP timeout, and how long a process reuses its list of endpoints.
OMS_WEBHOOK_MAX_RETRIES = env.int("OMS_WEBHOOK_MAX_RETRIES", default=8)
OMS_WEBHOOK_MAX_FAILURES = env.int("OMS_WEBHOOK_MAX_FAILURES", default=10)
OMS_WEBHOOK_TIMEOUT_SECONDS = env.float("OMS_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
OMS_WEBHOOK_ENDPOINT_CACHE_SECONDS = env.float("OMS_WEBHOOK_ENDPOINT_CACHE_SECONDS", default=5.0)
# After a secret rotation the replaced secret keeps signing (a second webhook-signature) this long.
OMS_WEBHOOK_SECRET_GRACE_HOURS = env.float("OMS_WEBHOOK_SECRET_GRACE_HOURS", default=24.0)
# CloudEvents ``source`` of every event: this URI-reference and the subject's REST collection
# (``/oms/orders``); set it per installation (``/oms/acme-vn``, ``https://oms.acme.example``).
OMS_EVENT_SOURCE = env("OMS_EVENT_SOURCE", default="/oms")
# Loyalty: how long a process reuses the channels' earning rules (read on every capture and completion).
OMS_LOYALTY_RULE_CACHE_SECONDS = env.float("OMS_LOYALTY_RULE_CACHE_SECONDS", default=30.0)
# Notifications: a claim on an e-mail older than this (a worker died while sending) may be retaken.
OMS_NOTIFICATION_CLAIM_SECONDS = env.int("OMS_NOTIFICATION_CLAIM_SECONDS", default=600)
# A channel API key's client and channel are kept in each process this long (0: read every request).
OMS_API_KEY_CACHE_SECONDS = env.float("OMS_API_KEY_CACHE_SECONDS", default=5.0)
# Python's cyclic garbage collector runs a generation-0 pass every 700 allocations by default: a
# request or task that builds thousands of objects (sourcing over 1,000 locations, a big order
# page) pays several passes, and a full one now and then shows as a latency tail. Thresholds
# "gen0,gen1,gen2" applied in every process at start (oms.apps); empty keeps Python's defaults.
OMS_GC_THRESHOLDS = env("OMS_GC_THRESHOLDS", default="50000,20,100")
# Largest quantity or stock delta one request may carry: bigger numbers are refused as invalid.
OMS_MAX_QUANTITY = 1_000_000

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # one INFO line per task is noise when tasks run eagerly in the web process (the demo)
        "celery.app.trace": {"level": env("CELERY_TRACE_LOG_LEVEL", default="WARNING")},
    },
}

# Throttle counters (and any cache): per-process memory by default, Redis in production via CACHE_URL.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://oms")}
