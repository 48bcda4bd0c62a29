from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The auditors' pages: search, a model, a data source, an endpoint, the change log.

    They import the apps (catalog, registry, deployments) and the framework (mlportal);
    nothing imports them.
    """

    name = "mlportal.pages"
    label = "pages"
    verbose_name = "Pages"
