from django.urls import include, path

from mlportal.api import views

urlpatterns = [
    path("auth/token/", views.ObtainTokenView.as_view(), name="api-token"),
    path("", include("catalog.api.urls")),
    path("", include("registry.api.urls")),
    path("", include("deployments.api.urls")),
]
