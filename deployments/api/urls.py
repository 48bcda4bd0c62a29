from rest_framework.routers import SimpleRouter

from deployments.api import views

router = SimpleRouter()
router.register("deployments", views.DeploymentViewSet)
# The registry's versions, each with where it is deployed (see registry.api.urls).
router.register("versions", views.DeployedVersionViewSet)

urlpatterns = router.urls
