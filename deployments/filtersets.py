import django_filters
from django.db.models import Q

from catalog.filtersets import within_namespace
from deployments.choices import DeploymentMethod, DeploymentStatus, RollingStrategy
from deployments.models import ACTIVE, Deployment


class DeploymentFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="catalog_model__namespace__path")
    within = django_filters.CharFilter(method="filter_within", label="Namespace and below")
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
    q = django_filters.CharFilter(method="search", label="Search")
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=["create_at", "deployment_id", "endpoint", "environment", "status",
                "active_from", "active_until", "update_at"]
    )

    class Meta:
        model = Deployment
        fields = []

    def filter_within(self, queryset, name, value):
        return queryset.filter(within_namespace("catalog_model__namespace__path", value))

    def filter_active(self, queryset, name, value):
        return queryset.filter(ACTIVE if value == "true" else ~ACTIVE)

    def filter_active_at(self, queryset, name, value):
        return queryset.active_at(value)

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(endpoint__icontains=value)
            | Q(environment__icontains=value)
            | Q(catalog_model__model_name__icontains=value)
            | Q(catalog_model__namespace__path__icontains=value)
        )
