"""The KPI endpoint, mounted under ``/api/v1/`` by ``config/urls.py``."""

from django.urls import re_path

from .kpis import KpiView

urlpatterns = [
    re_path(r"^kpis/?$", KpiView.as_view(), name="kpis"),
]
