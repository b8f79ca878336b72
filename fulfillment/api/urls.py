from oms.api.routers import OptionalSlashRouter

from .views import FulfillmentOrderViewSet

router = OptionalSlashRouter()
router.register("fulfillment-orders", FulfillmentOrderViewSet, basename="fulfillment-order")

urlpatterns = router.urls
