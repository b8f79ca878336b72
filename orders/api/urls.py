from oms.api.routers import OptionalSlashRouter

from .carts import CartViewSet
from .change_requests import OrderChangeRequestViewSet
from .price_lists import PriceListViewSet
from .views import CustomerViewSet, OrderViewSet

router = OptionalSlashRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("customers", CustomerViewSet, basename="customer")
router.register("order-change-requests", OrderChangeRequestViewSet, basename="order-change-request")
router.register("carts", CartViewSet, basename="cart")
router.register("price-lists", PriceListViewSet, basename="price-list")

urlpatterns = router.urls
