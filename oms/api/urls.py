from oms.api.routers import OptionalSlashRouter

from .loyalty import LoyaltyRuleViewSet
from .staff_views import StaffViewSet
from .views import ChannelViewSet, WebhookViewSet

router = OptionalSlashRouter()
router.register("channels", ChannelViewSet, basename="channel")
router.register("loyalty-rules", LoyaltyRuleViewSet, basename="loyalty-rule")
router.register("staff", StaffViewSet, basename="staff")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
