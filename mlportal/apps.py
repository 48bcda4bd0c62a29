from django.apps import AppConfig


class MlportalConfig(AppConfig):
    name = "mlportal"
    verbose_name = "Portal"

    def ready(self):
        from mlportal import audit

        audit.connect_signals()
