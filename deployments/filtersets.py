import django_filters

from deployments.choices import DeploymentMethod, DeploymentStatus, RollingStrategy
from deployments.models import ACTIVE, Deployment
from mlportal.filters import PortalFilterSet, TextSearchFilter, WithinNamespaceFilter


class DeploymentFilterSet(PortalFilterSet):
    namespace = django_filters.CharFilter(field_name="catalog_model__namespace__path")
    within = WithinNamespaceFilter(field_name="catalog_model__namespace__path")
    model_name = django_filters.CharFilter(field_name="catalog_model__model_name")
    model_version = django_filters.NumberFilter(field_name="model_version__model_version")
    deployment_id = django_filters.NumberFilter()
    endpoint = django_filters.CharFilter()
    environment = django_filters.CharFilter()
    deployment_method = django_filters.ChoiceFilter(choices=DeploymentMethod.choices)
    rolling_strategy = django_filters.ChoiceFilter(choices=RollingStrategy.choices)
    status = django_filters.ChoiceFilter(choices=DeploymentStatus.choices)
    # A choice rather than a BooleanFilter, which ignores a value it does not know.
    active = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_active", label="Runs now"
    )
    active_at = django_filters.IsoDateTimeFilter(
        method="filter_active_at", label="Ran at this time (ISO 8601)"
    )
    q = TextSearchFilter(search_fields=[
        "endpoint", "environment", "catalog_model__model_name", "catalog_model__namespace__path",
    ])
    ordering = django_filters.OrderingFilter(
        fields=["create_at", "deployment_id", "endpoint", "environment", "status",
                "active_from", "active_until", "update_at"]
    )
    update_at = None  # not filtered by update time

    class Meta:
        model = Deployment
        fields = []


    def filter_active(self, queryset, name, value):
        return queryset.filter(ACTIVE if value == "true" else ~ACTIVE)

    def filter_active_at(self, queryset, name, value):
        return queryset.active_at(value)

