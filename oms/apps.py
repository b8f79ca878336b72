import gc
from importlib import import_module

from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps
from django.core.exceptions import ImproperlyConfigured


def gc_thresholds(value: str) -> tuple[int, ...] | None:
    """``OMS_GC_THRESHOLDS`` ("gen0,gen1,gen2", e.g. "50000,20,100") as ints; None when empty."""
    if not value.strip():
        return None
    try:
        thresholds = tuple(int(part) for part in value.split(","))
    except ValueError:
        thresholds = ()
    if len(thresholds) != 3 or any(t < 0 for t in thresholds):
        raise ImproperlyConfigured(f"OMS_GC_THRESHOLDS must be three integers >= 0, got {value!r}")
    return thresholds


class ConnectsReceivers:
    """An app config that, once the app is loaded, connects its receiver modules: each one named in
    ``receivers`` (``subscribers``: the oms events it reacts to; ``notifications``: its customer
    e-mails) has a ``connect()``, called in that order. A mixin, not an AppConfig: Django takes an
    app's config from the one AppConfig subclass its ``apps.py`` holds."""

    name: str
    receivers: tuple[str, ...] = ()

    def ready(self) -> None:
        for module in self.receivers:
            import_module(f"{self.name}.{module}").connect()


class OmsConfig(ConnectsReceivers, AppConfig):
    name = "oms"
    verbose_name = "Customers, channels and staff"
    receivers = ("subscribers", "loyalty.subscribers")

    def ready(self) -> None:
        super().ready()
        thresholds = gc_thresholds(settings.OMS_GC_THRESHOLDS)
        if thresholds is not None:
            # Fewer collector passes on allocation-heavy requests: the p99 of sourcing over 1,000
            # locations fell from ~100-130 ms to ~50 ms (docs/performance.md).
            gc.set_threshold(*thresholds)


class OmsAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the store staff's site (``oms.admin_site.OmsAdminSite``);
    named in INSTALLED_APPS, never this module's default (that is ``OmsConfig``)."""

    default = False

    default_site = "oms.admin_site.OmsAdminSite"
