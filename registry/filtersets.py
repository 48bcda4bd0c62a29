import django_filters
from django.db.models import Q

from mlportal.filters import PortalFilterSet, TextSearchFilter, WithinNamespaceFilter
from registry.choices import VersionStatus
from registry.models import Alias, Artifact, ModelTag, ModelVersion


class ModelVersionFilterSet(PortalFilterSet):
    namespace = django_filters.CharFilter(field_name="catalog_model__namespace__path")
    within = WithinNamespaceFilter(field_name="catalog_model__namespace__path")
    model_name = django_filters.CharFilter(field_name="catalog_model__model_name")
    model_version = django_filters.NumberFilter()
    created_by = django_filters.CharFilter()
    registered_by = django_filters.CharFilter(field_name="registered_by__username")
    alias = django_filters.CharFilter(field_name="aliases__name", distinct=True)
    status = django_filters.ChoiceFilter(choices=VersionStatus.choices)
    tag = django_filters.CharFilter(method="filter_tag", label="Tag key, or key=value")
    q = TextSearchFilter(search_fields=[
        "description", "created_by", "catalog_model__model_name", "catalog_model__namespace__path",
    ])
    ordering = django_filters.OrderingFilter(fields=[
        ("catalog_model__namespace__path", "namespace"),
        ("catalog_model__model_name", "model_name"),
        "model_version", "create_at", "update_at",
    ])

    class Meta:
        model = ModelVersion
        fields = []


    def filter_tag(self, queryset, name, value):
        key, has_value, tag_value = value.partition("=")
        tags = Q(tags__key=key) & (Q(tags__value=tag_value) if has_value else Q())
        return queryset.filter(tags).distinct()



class ArtifactFilterSet(PortalFilterSet):
    name = django_filters.CharFilter()
    stored = django_filters.BooleanFilter(method="filter_stored", label="Uploaded (not linked)")
    sha256 = django_filters.CharFilter(lookup_expr="iexact")
    q = TextSearchFilter(search_fields=["name", "uri"])
    ordering = django_filters.OrderingFilter(fields=["name", "size", "create_at"])
    update_at = None  # not filtered by update time

    class Meta:
        model = Artifact
        fields = []

    def filter_stored(self, queryset, name, value):
        return queryset.exclude(storage_key="") if value else queryset.filter(storage_key="")



class AliasFilterSet(PortalFilterSet):
    namespace = django_filters.CharFilter(field_name="catalog_model__namespace__path")
    model_name = django_filters.CharFilter(field_name="catalog_model__model_name")
    alias = django_filters.CharFilter(field_name="name")
    model_version = django_filters.NumberFilter(field_name="version__model_version")
    q = TextSearchFilter(search_fields=[
        "name", "catalog_model__model_name", "catalog_model__namespace__path",
    ])
    ordering = django_filters.OrderingFilter(fields=[
        ("catalog_model__namespace__path", "namespace"),
        ("catalog_model__model_name", "model_name"),
        ("name", "alias"), "update_at",
    ])

    class Meta:
        model = Alias
        fields = []



class ModelTagFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="catalog_model__namespace__path")
    within = WithinNamespaceFilter(field_name="catalog_model__namespace__path")
    model_name = django_filters.CharFilter(field_name="catalog_model__model_name")
    key = django_filters.CharFilter()
    value = django_filters.CharFilter()
    q = TextSearchFilter(search_fields=["key", "value", "catalog_model__model_name"])
    ordering = django_filters.OrderingFilter(fields=[
        ("catalog_model__namespace__path", "namespace"),
        ("catalog_model__model_name", "model_name"), "key",
    ])

    class Meta:
        model = ModelTag
        fields = []
