"""Filters that the FilterSets of every app share."""

from functools import reduce
from operator import or_

import django_filters
from django.db.models import Q
from django_filters.constants import EMPTY_VALUES

from mlportal.access import within_q


class TextSearchFilter(django_filters.CharFilter):
    """`q`: the rows where any of `search_fields` contains the text, ignoring case."""

    def __init__(self, *, search_fields, **kwargs):
        kwargs.setdefault("label", "Search")
        super().__init__(**kwargs)
        self.search_fields = search_fields

    def filter(self, queryset, value):
        if value in EMPTY_VALUES:
            return queryset
        return queryset.filter(
            reduce(or_, (Q(**{f"{field}__icontains": value}) for field in self.search_fields))
        )


class WithinNamespaceFilter(django_filters.CharFilter):
    """The rows whose namespace path (`field_name`) is the given namespace or below it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Namespace and below")
        super().__init__(**kwargs)

    def filter(self, queryset, value):
        if value in EMPTY_VALUES:
            return queryset
        return queryset.filter(within_q(self.field_name, [value.rstrip("/")]))


class PortalFilterSet(django_filters.FilterSet):
    """Base of the FilterSets of every resource: the `create_at` and `update_at` ranges
    (`?create_at_after=...&create_at_before=...`). A resource whose rows are not filtered by
    one of them sets it to None."""

    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    update_at = django_filters.IsoDateTimeFromToRangeFilter()
