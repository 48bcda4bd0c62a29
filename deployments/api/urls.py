from rest_framework.routers import SimpleRouter

from deployments.api import views

router = SimpleRouter()
router.register("deployments", views.DeploymentViewSet)
router.register("cloud-accounts", views.CloudAccountViewSet)
router.register("drift", views.DriftFindingViewSet)

urlpatterns = router.urls
