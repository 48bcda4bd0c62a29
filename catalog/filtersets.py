import django_filters
from django.db.models import Q

from catalog.models import CatalogModel, CatalogSource, DataSource, Namespace


def within_namespace(prefix, path):
    """Q for rows whose namespace `path` lookup is `path` or nested below it."""
    return Q(**{prefix: path}) | Q(**{f"{prefix}__startswith": path.rstrip("/") + "/"})


class NamespaceFilterSet(django_filters.FilterSet):
    path = django_filters.CharFilter()
    within = django_filters.CharFilter(method="filter_within", label="Namespace and below")
    q = django_filters.CharFilter(method="search", label="Search")
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(fields=["path", "create_at", "update_at"])

    class Meta:
        model = Namespace
        fields = []

    def filter_within(self, queryset, name, value):
        return queryset.filter(within_namespace("path", value))

    def search(self, queryset, name, value):
        return queryset.filter(Q(path__icontains=value) | Q(description__icontains=value))


class CatalogModelFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="namespace__path")
    within = django_filters.CharFilter(method="filter_within", label="Namespace and below")
    model_name = django_filters.CharFilter()
    owner = django_filters.CharFilter(lookup_expr="iexact")
    data_source = django_filters.CharFilter(field_name="data_sources__name", distinct=True)
    data_source_type = django_filters.CharFilter(field_name="data_sources__type", distinct=True)
    in_git = django_filters.BooleanFilter(label="Card in Git")
    git_repository = django_filters.CharFilter(label="Git repository of the card")
    q = django_filters.CharFilter(method="search", label="Search")
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=[("namespace__path", "namespace"), "model_name", "owner", "create_at", "update_at"]
    )

    class Meta:
        model = CatalogModel
        fields = []

    def filter_within(self, queryset, name, value):
        return queryset.filter(within_namespace("namespace__path", value))

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(model_name__icontains=value)
            | Q(description__icontains=value)
            | Q(owner__icontains=value)
            | Q(namespace__path__icontains=value)
        )


class DataSourceFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter()
    type = django_filters.CharFilter()
    owner = django_filters.CharFilter(lookup_expr="iexact")
    q = django_filters.CharFilter(method="search", label="Search")
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(fields=["name", "type", "create_at", "update_at"])

    class Meta:
        model = DataSource
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(description__icontains=value) | Q(owner__icontains=value)
        )


class CatalogSourceFilterSet(django_filters.FilterSet):
    repository = django_filters.CharFilter()
    ref = django_filters.CharFilter()
    q = django_filters.CharFilter(method="search", label="Search")
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=["repository", "last_synced_at", "create_at", "update_at"])

    class Meta:
        model = CatalogSource
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(Q(repository__icontains=value) | Q(subdirectory__icontains=value))
