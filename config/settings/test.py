"""Test settings: SQLite by default, PostgreSQL when DATABASE_URL is set (CI always sets it)."""

from .base import *
from .base import DATABASES, env

DEBUG = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Mark dispatched outbox rows at once, so a test sees them marked (tests of the batched marking
# turn it on themselves).
OMS_OUTBOX_MARK_DELAY_SECONDS = env.float("OMS_OUTBOX_MARK_DELAY_SECONDS", default=0.0)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Threads in concurrency tests each need their own connection: plain connections, no pool.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = 0
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "api_client": env("OMS_API_THROTTLE_RATE", default="10000/second")
}
LOGGING["root"]["level"] = "WARNING"
# Which channels have a price list: kept for the whole test (tests/conftest.py forgets it before
# each test), so a slow run does not see it expire between two statement counts.
OMS_PRICE_LIST_CACHE_SECONDS = env.float("OMS_PRICE_LIST_CACHE_SECONDS", default=3600.0)
