from django.urls import include, path
from rest_framework.routers import SimpleRouter

from mlportal.api import views

router = SimpleRouter()
router.register("tokens", views.TokenViewSet)
router.register("changes", views.ObjectChangeViewSet)
router.register("webhooks", views.WebhookSubscriptionViewSet)

urlpatterns = [
    path("", views.APIRootView.as_view(), name="api-root"),
    path("auth/token/", views.ObtainTokenView.as_view(), name="api-token"),
    path("auth/whoami/", views.WhoAmIView.as_view(), name="api-whoami"),
    path("", include("catalog.api.urls")),
    path("", include("registry.api.urls")),
    path("", include("deployments.api.urls")),
    path("", include(router.urls)),
]
