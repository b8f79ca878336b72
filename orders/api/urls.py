from oms.api.routers import OptionalSlashRouter

from .views import CustomerViewSet, OrderViewSet

router = OptionalSlashRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = router.urls
