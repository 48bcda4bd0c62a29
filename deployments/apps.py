from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'deployments'

    def ready(self):
        # Events show deployments as the API does (mlportal.events).
        from deployments.api import views
        from deployments.models import Deployment
        from mlportal import events

        events.register_document(Deployment, views.DeploymentViewSet.serializer_class,
                                 views.DeploymentViewSet.queryset)
