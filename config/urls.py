from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from oms.api.error_views import api_not_found
from oms.kpi_admin import kpi_dashboard
from oms.landing import landing

# The admin index links the KPI dashboard (managers).
admin.site.index_template = "admin/oms/index.html"

api_v1 = [
    path("", include("oms.api.urls")),
    path("", include("inventory.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("fulfillment.api.urls")),
    path("", include("returns.api.urls")),
    path("", include("oms.api.kpi_urls")),
]

urlpatterns = [
    path("", landing, name="landing"),
    path("admin/kpis/", admin.site.admin_view(kpi_dashboard), name="admin-kpis"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    # Unknown API paths answer in the house error format, not with an HTML page.
    path("api/<path:rest>", api_not_found),
]

# Errors outside a DRF view (no route, CSRF, a crash) answer JSON under /api/, HTML elsewhere.
handler400 = "oms.api.error_views.bad_request"
handler403 = "oms.api.error_views.permission_denied"
handler404 = "oms.api.error_views.not_found"
handler500 = "oms.api.error_views.server_error"
