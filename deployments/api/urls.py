from rest_framework.routers import SimpleRouter

from deployments.api import views

router = SimpleRouter()
router.register("deployments", views.DeploymentViewSet)

urlpatterns = router.urls
