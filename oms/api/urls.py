from oms.api.routers import OptionalSlashRouter

from .views import ChannelViewSet

router = OptionalSlashRouter()
router.register("channels", ChannelViewSet, basename="channel")

urlpatterns = router.urls
