from django.apps import AppConfig
from django.apps import apps as installed_apps
from django.db.models.signals import post_migrate


def refresh_mlflow_names(sender, using, apps=installed_apps, **kwargs):
    """After every migrate (and flush): the stored MLflow names follow a changed
    MLPORTAL_MLFLOW_DEFAULT_NAMESPACE (one UPDATE, of the rows out of date)."""
    from catalog.models import refresh_mlflow_names

    model = apps.get_model("catalog", "CatalogModel")
    if any(field.name == "mlflow_name" for field in model._meta.fields):  # not before 0008
        refresh_mlflow_names(model._base_manager.using(using))


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
        post_migrate.connect(refresh_mlflow_names, sender=self)
