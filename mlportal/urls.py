from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mlportal.throttling import ThrottledLoginView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="pages:search", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mlportal.api.urls")),
    # The MLflow client's registry API (registry.mlflow): MLflow's shapes and errors, not ours.
    path("api/2.0/mlflow/", include("registry.mlflow.urls")),
    path("api/2.0/preview/mlflow/", include("registry.mlflow.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Sign-in for the pages: any active user; throttled like the admin's (mlportal.throttling).
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("mlportal.pages.urls")),
]
