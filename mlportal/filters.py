"""Filters that the FilterSets of every app share."""

import copy
from functools import reduce
from operator import or_

import django_filters
from django.db.models import Q
from django.http import QueryDict
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


class LeanFilterSetMixin:
    """For a FilterSet on a hot path: filters copied shallowly (django-filter deep-copies
    every filter with its arguments on each request) and the form class built once per
    FilterSet class (django-filter builds a new class on each request). Only for FilterSets
    whose filters do not depend on the request (no callable querysets or choices)."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        # django_filters.FilterSet.__init__, with copy.copy for copy.deepcopy.
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(filter_) for name, filter_ in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self
            if filter_.method is not None:
                filter_.method = filter_.method  # bound to the copy, not to the class's filter

    def get_form_class(self):
        cls = type(self)
        form = cls.__dict__.get("_lean_form_class")
        if form is None:
            form = super().get_form_class()
            cls._lean_form_class = form
        return form
