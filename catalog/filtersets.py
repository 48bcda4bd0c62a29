import django_filters

from catalog.models import (
    CatalogModel,
    CatalogSource,
    CatalogSync,
    DataSource,
    Namespace,
    SyncStatus,
)
from mlportal.filters import TextSearchFilter, WithinNamespaceFilter


class NamespaceFilterSet(django_filters.FilterSet):
    path = django_filters.CharFilter()
    within = WithinNamespaceFilter(field_name="path")
    q = TextSearchFilter(search_fields=["path", "description"])
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(fields=["path", "create_at", "update_at"])

    class Meta:
        model = Namespace
        fields = []




class CatalogModelFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="namespace__path")
    within = WithinNamespaceFilter(field_name="namespace__path")
    model_name = django_filters.CharFilter()
    owner = django_filters.CharFilter(lookup_expr="iexact")
    data_source = django_filters.CharFilter(field_name="data_sources__name", distinct=True)
    data_source_type = django_filters.CharFilter(field_name="data_sources__type", distinct=True)
    in_git = django_filters.BooleanFilter(label="Card in Git")
    git_repository = django_filters.CharFilter(label="Git repository of the card")
    q = TextSearchFilter(search_fields=["model_name", "description", "owner", "namespace__path"])
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=[("namespace__path", "namespace"), "model_name", "owner", "create_at", "update_at"]
    )

    class Meta:
        model = CatalogModel
        fields = []




class DataSourceFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter()
    type = django_filters.CharFilter()
    owner = django_filters.CharFilter(lookup_expr="iexact")
    q = TextSearchFilter(search_fields=["name", "description", "owner"])
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(fields=["name", "type", "create_at", "update_at"])

    class Meta:
        model = DataSource
        fields = []



class CatalogSourceFilterSet(django_filters.FilterSet):
    repository = django_filters.CharFilter()
    ref = django_filters.CharFilter()
    q = TextSearchFilter(search_fields=["repository", "subdirectory"])
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=["repository", "last_synced_at", "create_at", "update_at"])

    class Meta:
        model = CatalogSource
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
