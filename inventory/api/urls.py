from django.urls import re_path

from oms.api.routers import OptionalSlashRouter

from .transfers import TransferViewSet
from .views import (
    AvailabilityView,
    LocationViewSet,
    ProductViewSet,
    StockAdjustmentViewSet,
    StockLevelViewSet,
    StockSnapshotViewSet,
)

router = OptionalSlashRouter()
router.register("locations", LocationViewSet, basename="location")
router.register("products", ProductViewSet, basename="product")
# Before "inventory", whose detail route would otherwise see "adjustments" as an id.
router.register("inventory/adjustments", StockAdjustmentViewSet, basename="stock-adjustment")
router.register("inventory/snapshots", StockSnapshotViewSet, basename="stock-snapshot")
router.register("inventory", StockLevelViewSet, basename="stock-level")
router.register("transfers", TransferViewSet, basename="transfer")

urlpatterns = [
    re_path(r"^availability/?$", AvailabilityView.as_view(), name="availability"),
    *router.urls,
]
