"""OMS_GC_THRESHOLDS: the garbage collector's thresholds, set in every process at start."""

from __future__ import annotations

import gc

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from oms.apps import gc_thresholds


def test_every_process_runs_with_the_configured_thresholds(settings):
    assert gc.get_threshold() == gc_thresholds(settings.OMS_GC_THRESHOLDS)


def test_parsing():
    assert gc_thresholds("50000,20,100") == (50000, 20, 100)
    assert gc_thresholds(" 700, 10 ,10") == (700, 10, 10)
    assert gc_thresholds("") is None
    for bad in ("50000", "a,b,c", "1,2,-3", "1,2,3,4"):
        with pytest.raises(ImproperlyConfigured):
            gc_thresholds(bad)


def test_an_empty_setting_keeps_pythons_thresholds(settings):
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        settings.OMS_GC_THRESHOLDS = ""
        apps.get_app_config("oms").ready()
        assert gc.get_threshold() == (700, 10, 10)
        settings.OMS_GC_THRESHOLDS = "1000,15,15"
        apps.get_app_config("oms").ready()
        assert gc.get_threshold() == (1000, 15, 15)
    finally:
        gc.set_threshold(*before)
