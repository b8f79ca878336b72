from oms.api.routers import OptionalSlashRouter

from .views import ChannelViewSet, WebhookViewSet

router = OptionalSlashRouter()
router.register("channels", ChannelViewSet, basename="channel")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
