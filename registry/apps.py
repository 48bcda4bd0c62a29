from django.apps import AppConfig


class RegistryConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'registry'

    def ready(self):
        # Events show registry objects as the API does (mlportal.events).
        from mlportal import events
        from registry.api import views
        from registry.models import Alias, ModelVersion

        events.register_document(ModelVersion, views.ModelVersionViewSet.serializer_class,
                                 views.ModelVersionViewSet.queryset)
        events.register_document(Alias, views.AliasViewSet.serializer_class,
                                 views.AliasViewSet.queryset)
