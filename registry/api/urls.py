from django.urls import re_path
from rest_framework.routers import SimpleRouter

from registry.api import views

router = SimpleRouter()
# /versions/ is routed by deployments.api.urls: its version document adds where each
# version is deployed, and deployments build on the registry, never the other way round.
router.register("aliases", views.AliasViewSet)
router.register("model-tags", views.ModelTagViewSet)

ARTIFACT = r"^versions/(?P<version_pk>[0-9]+)/artifacts/(?P<name>[A-Za-z0-9_.-]{1,100})/"

urlpatterns = [
    *router.urls,
    re_path(r"^versions/(?P<version_pk>[0-9]+)/artifacts/$",
            views.ArtifactViewSet.as_view({"get": "list", "post": "create"}),
            name="artifact-list"),
    re_path(ARTIFACT + "$", views.ArtifactViewSet.as_view({"get": "retrieve"}),
            name="artifact-detail"),
    re_path(ARTIFACT + "download/$", views.ArtifactViewSet.as_view({"get": "download"}),
            name="artifact-download"),
]
