import django_filters

from mlportal.access import within_q
from mlportal.choices import Role
from mlportal.models import Grant, Token


class GrantFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="namespace__path")
    within = django_filters.CharFilter(method="filter_within", label="Namespace and below")
    user = django_filters.CharFilter(field_name="user__username")
    group = django_filters.CharFilter(field_name="group__name")
    role = django_filters.ChoiceFilter(choices=Role.choices)
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=[("namespace__path", "namespace"), ("user__username", "user"),
                ("group__name", "group"), "role", "create_at", "update_at"]
    )

    class Meta:
        model = Grant
        fields = []

    def filter_within(self, queryset, name, value):
        return queryset.filter(within_q("namespace__path", [value.rstrip("/")]))


class TokenFilterSet(django_filters.FilterSet):
    usable = django_filters.BooleanFilter(method="filter_usable", label="Usable now")
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=["create_at", "expires_at", "last_used_at", "revoked_at"]
    )

    class Meta:
        model = Token
        fields = []

    def filter_usable(self, queryset, name, value):
        usable = Token.objects.usable()
        return queryset.filter(pk__in=usable) if value else queryset.exclude(pk__in=usable)
