from django.apps import AppConfig


class RegistryConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'registry'

    def ready(self):
        # Events show registry objects as the API does (mlportal.events).
        from mlportal import events
        from registry.api import views
        from registry.api.serializers import with_documents
        from registry.models import Alias, ModelVersion

        # The fresh copy in one query on PostgreSQL, as the API reads it.
        events.register_document(ModelVersion, views.ModelVersionViewSet.serializer_class,
                                 with_documents(views.ModelVersionViewSet.queryset))
        events.register_document(Alias, views.AliasViewSet.serializer_class,
                                 views.AliasViewSet.queryset)
