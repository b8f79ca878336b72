from oms.api.routers import OptionalSlashRouter

from .change_requests import OrderChangeRequestViewSet
from .views import CustomerViewSet, OrderViewSet

router = OptionalSlashRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("customers", CustomerViewSet, basename="customer")
router.register("order-change-requests", OrderChangeRequestViewSet, basename="order-change-request")

urlpatterns = router.urls
