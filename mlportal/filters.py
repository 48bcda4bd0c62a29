"""Filters that the FilterSets of every app share."""

import copy
import datetime
from functools import reduce
from operator import or_

import django_filters
from django import forms
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField

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


# PostgreSQL refuses UTC offsets of 16 hours or more ("time zone displacement out of range");
# the Earth's time zones span -12:00 to +14:00.
MAX_UTC_OFFSET = datetime.timedelta(hours=15, minutes=59)
OFFSET_MESSAGE = "A UTC offset is between -15:59 and +15:59 (such as +02:00, or Z for UTC)."
OUT_OF_RANGE_MESSAGE = "A date and time between the years 1 and 9999 (UTC)."


def to_utc(moment):
    """An aware datetime in UTC (naive: taken as UTC); a ValidationError for an offset that
    no time zone has or a moment that is out of range once in UTC."""
    if timezone.is_naive(moment):
        return moment.replace(tzinfo=datetime.UTC)
    if abs(moment.utcoffset()) > MAX_UTC_OFFSET:
        raise forms.ValidationError(OFFSET_MESSAGE, code="invalid_offset")
    try:
        return moment.astimezone(datetime.UTC)
    except OverflowError as exc:
        raise forms.ValidationError(OUT_OF_RANGE_MESSAGE, code="out_of_range") from exc


class MomentField(IsoDateTimeField):
    """An ISO 8601 date and time (2024-01-31T12:00:00Z; UTC if no offset), cleaned to UTC."""

    default_error_messages = {
        "invalid": "Give a date and time in ISO 8601, such as 2024-01-31T12:00:00Z.",
    }

    def to_python(self, value):
        moment = super().to_python(value)
        return None if moment is None else to_utc(moment)


class MomentFilter(django_filters.IsoDateTimeFilter):
    """A date and time filter (`lookup_expr` gte, lte, ...) on `field_name`; every date and
    time filter of the API is one, so that bad input is a 400 keyed by its own name."""

    field_class = MomentField


def moment_range(field_name):
    """`<name>_after` and `<name>_before` (inclusive) for a FilterSet:
    `create_at_after, create_at_before = moment_range("create_at")`. Two filters rather than
    django-filter's range filter, whose errors are keyed `create_at` for either parameter."""
    return (
        MomentFilter(field_name=field_name, lookup_expr="gte",
                     label=f"{field_name} at or after (ISO 8601)"),
        MomentFilter(field_name=field_name, lookup_expr="lte",
                     label=f"{field_name} at or before (ISO 8601)"),
    )


MAX_INTEGER = 2_147_483_647  # PostgreSQL's integer; the numbers the portal assigns fit in it


class NumberField(forms.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_INTEGER)
        super().__init__(**kwargs)


class NumberFilter(django_filters.NumberFilter):
    """A whole number from 1 to 2147483647 (version numbers, deployment ids): anything else
    is a 400 naming the parameter."""

    field_class = NumberField


class PortalFilterSet(django_filters.FilterSet):
    """Base of the FilterSets of every resource: the `create_at` and `update_at` ranges
    (`?create_at_after=...&create_at_before=...`). A resource whose rows are not filtered by
    update time sets `update_at_after = update_at_before = None`."""

    create_at_after, create_at_before = moment_range("create_at")
    update_at_after, update_at_before = moment_range("update_at")
