from rest_framework.routers import SimpleRouter

from catalog.api import views

router = SimpleRouter()
router.register("namespaces", views.NamespaceViewSet)
router.register("models", views.CatalogModelViewSet)
router.register("data-sources", views.DataSourceViewSet)
router.register("catalog-sources", views.CatalogSourceViewSet)
# Grants on namespaces (the Grant model is mlportal's, read by mlportal.access).
router.register("grants", views.GrantViewSet)
router.register("catalog-syncs", views.CatalogSyncViewSet)

urlpatterns = router.urls
