"""Django project configuration: settings, Celery app, URLs, WSGI/ASGI entry points."""

from .celery_app import app as celery_app

__all__ = ("celery_app",)
