from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MlportalConfig(AppConfig):
    name = "mlportal"
    verbose_name = "Portal"
    default = True

    def ready(self):
        from mlportal import access, audit

        audit.connect_signals()
        access.connect_guard()


class PortalAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the portal's site (see mlportal.sites)."""

    default = False
    default_site = "mlportal.sites.PortalAdminSite"
