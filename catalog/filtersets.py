import django_filters

from catalog.models import (
    CatalogModel,
    CatalogSource,
    CatalogSync,
    DataSource,
    Namespace,
    SyncStatus,
)
from mlportal.choices import Role
from mlportal.filters import PortalFilterSet, TextSearchFilter, WithinNamespaceFilter
from mlportal.models import Grant


class NamespaceFilterSet(PortalFilterSet):
    path = django_filters.CharFilter()
    within = WithinNamespaceFilter(field_name="path")
    q = TextSearchFilter(search_fields=["path", "description"])
    ordering = django_filters.OrderingFilter(fields=["path", "create_at", "update_at"])

    class Meta:
        model = Namespace
        fields = []




class CatalogModelFilterSet(PortalFilterSet):
    namespace = django_filters.CharFilter(field_name="namespace__path")
    within = WithinNamespaceFilter(field_name="namespace__path")
    model_name = django_filters.CharFilter()
    owner = django_filters.CharFilter(lookup_expr="iexact")
    data_source = django_filters.CharFilter(field_name="data_sources__name", distinct=True)
    data_source_type = django_filters.CharFilter(field_name="data_sources__type", distinct=True)
    in_git = django_filters.BooleanFilter(label="Card in Git")
    git_repository = django_filters.CharFilter(label="Git repository of the card")
    q = TextSearchFilter(search_fields=["model_name", "description", "owner", "namespace__path"])
    ordering = django_filters.OrderingFilter(
        fields=[("namespace__path", "namespace"), "model_name", "owner", "create_at", "update_at"]
    )

    class Meta:
        model = CatalogModel
        fields = []




class DataSourceFilterSet(PortalFilterSet):
    name = django_filters.CharFilter()
    type = django_filters.CharFilter()
    owner = django_filters.CharFilter(lookup_expr="iexact")
    q = TextSearchFilter(search_fields=["name", "description", "owner"])
    ordering = django_filters.OrderingFilter(fields=["name", "type", "create_at", "update_at"])

    class Meta:
        model = DataSource
        fields = []



class CatalogSourceFilterSet(PortalFilterSet):
    repository = django_filters.CharFilter()
    ref = django_filters.CharFilter()
    q = TextSearchFilter(search_fields=["repository", "subdirectory"])
    ordering = django_filters.OrderingFilter(
        fields=["repository", "last_synced_at", "create_at", "update_at"])

    class Meta:
        model = CatalogSource
        fields = []


class GrantFilterSet(PortalFilterSet):
    namespace = django_filters.CharFilter(field_name="namespace__path")
    within = WithinNamespaceFilter(field_name="namespace__path")
    user = django_filters.CharFilter(field_name="user__username")
    group = django_filters.CharFilter(field_name="group__name")
    role = django_filters.ChoiceFilter(choices=Role.choices)
    ordering = django_filters.OrderingFilter(
        fields=[("namespace__path", "namespace"), ("user__username", "user"),
                ("group__name", "group"), "role", "create_at", "update_at"]
    )

    class Meta:
        model = Grant
        fields = []


class CatalogSyncFilterSet(django_filters.FilterSet):
    source = django_filters.NumberFilter(field_name="source_id")
    status = django_filters.ChoiceFilter(choices=SyncStatus.choices)
    trigger = django_filters.CharFilter()
    queued_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(fields=["queued_at", "started_at", "finished_at"])

    class Meta:
        model = CatalogSync
        fields = []
