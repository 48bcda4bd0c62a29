from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'catalog'

    def ready(self):
        # Events show catalog objects as the API does (mlportal.events).
        from catalog.api import views
        from catalog.api.serializers import CatalogSyncSerializer
        from catalog.models import CatalogModel, CatalogSync
        from mlportal import events

        events.register_document(CatalogModel, views.CatalogModelViewSet.serializer_class,
                                 views.CatalogModelViewSet.queryset)
        events.register_document(CatalogSync, CatalogSyncSerializer,
                                 CatalogSync.objects.select_related("source"))
