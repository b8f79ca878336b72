from oms.api.routers import OptionalSlashRouter

from .views import ReturnViewSet

router = OptionalSlashRouter()
router.register("returns", ReturnViewSet, basename="return")

urlpatterns = router.urls
