"""Production: secure defaults; everything that differs per deployment comes from the environment."""

from .base import *
from .base import LOGGING as BASE_LOGGING
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# base's logging, as JSON lines
LOGGING = {
    **BASE_LOGGING,
    "formatters": {"json": {"()": "oms.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        **BASE_LOGGING["loggers"],
        # a line per task run ("Task ... succeeded in ...s") at INFO; WARNING keeps only failures
        # and retries, and saves a worker a quarter of a no-op task's CPU (docs/performance.md)
        "celery.app.trace": {"level": env("CELERY_TRACE_LOG_LEVEL", default="INFO")},
    },
}
