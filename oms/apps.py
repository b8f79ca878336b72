import gc

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


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "Customers, channels and staff"

    def ready(self) -> None:
        from . import subscribers

        subscribers.connect()
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
