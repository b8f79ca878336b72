"""The Celery application: named queues, JSON only, late acks so a killed worker's task is redelivered."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="celery",
    task_queues=[
        Queue("celery"),
        Queue("routing"),
        Queue("notifications"),
        Queue("webhooks"),
        Queue("sync"),
    ],
    task_routes={
        "fulfillment.tasks.*": {"queue": "routing"},
        "orders.tasks.*": {"queue": "routing"},
        "oms.tasks.notification_*": {"queue": "notifications"},
        "oms.tasks.webhook_*": {"queue": "webhooks"},
        "inventory.tasks.*": {"queue": "sync"},
    },
    broker_connection_retry_on_startup=True,
    # Redis visibility: a task not acked within this window is redelivered to another worker.
    broker_transport_options={"visibility_timeout": 300},
    result_expires=3600,
    timezone="UTC",
)
app.autodiscover_tasks()
