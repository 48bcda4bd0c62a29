import django_filters

from deployments.choices import DeploymentMethod, DeploymentStatus, DriftKind, RollingStrategy
from deployments.models import ACTIVE, CloudAccount, Deployment, DriftFinding
from mlportal.filters import (
    MomentFilter,
    NumberFilter,
    PortalFilterSet,
    TextSearchFilter,
    WithinNamespaceFilter,
    moment_range,
)


class DeploymentFilterSet(PortalFilterSet):
    namespace = django_filters.CharFilter(field_name="catalog_model__namespace__path")
    within = WithinNamespaceFilter(field_name="catalog_model__namespace__path")
    model_name = django_filters.CharFilter(field_name="catalog_model__model_name")
    model_version = NumberFilter(field_name="model_version__model_version")
    deployment_id = NumberFilter()
    endpoint = django_filters.CharFilter()
    environment = django_filters.CharFilter()
    deployment_method = django_filters.ChoiceFilter(choices=DeploymentMethod.choices)
    resource = django_filters.CharFilter()
    rolling_strategy = django_filters.ChoiceFilter(choices=RollingStrategy.choices)
    status = django_filters.ChoiceFilter(choices=DeploymentStatus.choices)
    # A choice rather than a BooleanFilter, which ignores a value it does not know.
    active = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_active", label="Runs now"
    )
    active_at = MomentFilter(
        method="filter_active_at", label="Ran at this time (ISO 8601)"
    )
    q = TextSearchFilter(search_fields=[
        "endpoint", "environment", "catalog_model__model_name", "catalog_model__namespace__path",
    ])
    ordering = django_filters.OrderingFilter(
        fields=["create_at", "deployment_id", "endpoint", "environment", "status",
                "active_from", "active_until", "update_at"]
    )
    update_at_after = update_at_before = None  # not filtered by update time

    class Meta:
        model = Deployment
        fields = []


    def filter_active(self, queryset, name, value):
        return queryset.filter(ACTIVE if value == "true" else ~ACTIVE)

    def filter_active_at(self, queryset, name, value):
        return queryset.active_at(value)



class CloudAccountFilterSet(PortalFilterSet):
    name = django_filters.CharFilter()
    account_id = django_filters.CharFilter()
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = CloudAccount
        fields = []


class DriftFindingFilterSet(PortalFilterSet):
    """?namespace=/abc_corp/claim (and below), ?endpoint=..., ?kind=..., ?state=open|resolved,
    ?account=<id>, ?deployment=<id>, ?resource=<ARN>, ?model_name=..."""

    namespace = WithinNamespaceFilter(field_name="deployment__catalog_model__namespace__path",
                                      label="Namespace and below")
    model_name = django_filters.CharFilter(field_name="deployment__catalog_model__model_name")
    endpoint = django_filters.CharFilter(field_name="deployment__endpoint")
    deployment = django_filters.NumberFilter(field_name="deployment_id")
    account = django_filters.NumberFilter(field_name="account_id")
    resource = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=DriftKind.choices)
    state = django_filters.ChoiceFilter(
        choices=[("open", "open"), ("resolved", "resolved")], method="filter_state",
        label="Open or resolved")
    opened_at_after, opened_at_before = moment_range("opened_at")
    # A finding is opened and resolved, not created and updated.
    create_at_after = create_at_before = None
    update_at_after = update_at_before = None
    ordering = django_filters.OrderingFilter(fields=["opened_at", "resolved_at", "kind"])

    class Meta:
        model = DriftFinding
        fields = []

    def filter_state(self, queryset, name, value):
        return queryset.open() if value == "open" else queryset.resolved()
