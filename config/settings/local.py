"""Local development and the demo: SQLite and eager Celery unless the environment says otherwise."""

from .base import *
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# SQLite has one writer: mark dispatched outbox rows in the request, not from a second thread.
OMS_OUTBOX_MARK_DELAY_SECONDS = env.float("OMS_OUTBOX_MARK_DELAY_SECONDS", default=0.0)
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
    "oms.api.renderers.JSONRenderer",
    "rest_framework.renderers.BrowsableAPIRenderer",
]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's database: a write-ahead log, synced at checkpoints rather than at every COMMIT
    # (safe if the process dies; a power cut may lose the last commits). On a slow disk each
    # COMMIT's fsync took ~30 ms and the demo's simulation spent most of its time in them.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
    )
