import datetime

import django_filters
from django import forms
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from mlportal.choices import ChangeAction
from mlportal.filters import PortalFilterSet, TextSearchFilter, WithinNamespaceFilter
from mlportal.models import (
    DeliveryStatus,
    ObjectChange,
    Token,
    WebhookDelivery,
    WebhookSubscription,
)


def audited_models():
    return sorted((m for m in apps.get_models() if getattr(m, "audited", False)),
                  key=lambda model: model._meta.label_lower)


class DateOrDateTimeField(forms.Field):
    """An ISO 8601 date (2024-01-31) or date and time (2024-01-31T12:00:00Z; UTC if no zone).

    Cleans to (aware datetime, whether only a date was given)."""

    default_error_messages = {
        "invalid": "Give a date (2024-01-31) or a date and time (2024-01-31T12:00:00Z)."
    }

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return None
        try:
            day = parse_date(value)
            moment = None if day else parse_datetime(value)
        except ValueError:
            day = moment = None
        if day is not None:
            return datetime.datetime.combine(day, datetime.time(), datetime.UTC), True
        if moment is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment, False


class SinceFilter(django_filters.Filter):
    """From this moment on (a date: from the start of that day, UTC)."""

    field_class = DateOrDateTimeField

    def filter(self, qs, value):
        if not value:
            return qs
        moment, _ = value
        return qs.filter(**{f"{self.field_name}__gte": moment})


class UntilFilter(django_filters.Filter):
    """Up to this moment (a date: up to the end of that day, UTC)."""

    field_class = DateOrDateTimeField

    def filter(self, qs, value):
        if not value:
            return qs
        moment, date_only = value
        if date_only:
            return qs.filter(**{f"{self.field_name}__lt": moment + datetime.timedelta(days=1)})
        return qs.filter(**{f"{self.field_name}__lte": moment})


class ObjectTypeField(forms.CharField):
    """An audited model, as "app_label.model" (catalog.catalogmodel) or as its model name
    (catalogmodel); cleans to its ContentType."""

    def to_python(self, value):
        value = (super().to_python(value) or "").strip().lower()
        if not value:
            return None
        for model in audited_models():
            if value in (model._meta.label_lower, model._meta.model_name):
                return ContentType.objects.get_for_model(model)
        allowed = ", ".join(model._meta.label_lower for model in audited_models())
        raise forms.ValidationError(f"Unknown object type {value!r}; one of: {allowed}.",
                                    code="invalid_choice")


@extend_schema_field(OpenApiTypes.STR)
class ObjectTypeFilter(django_filters.Filter):
    field_class = ObjectTypeField

    def filter(self, qs, value):
        return qs.filter(content_type=value) if value else qs


class ObjectChangeFilterSet(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="user_name", label="User name")
    principal = django_filters.CharFilter()
    action = django_filters.ChoiceFilter(
        choices=ChangeAction.choices,
        error_messages={"invalid_choice": "Not an action; one of: "
                        + ", ".join(ChangeAction.values) + "."},
    )
    source = django_filters.CharFilter()
    object_type = ObjectTypeFilter(label="Object type (e.g. catalog.catalogmodel)")
    object_id = django_filters.CharFilter()
    namespace = WithinNamespaceFilter(field_name="namespace", label="Namespace (and below)")
    since = SinceFilter(field_name="time", label="Since (date or date and time, UTC)")
    until = UntilFilter(field_name="time", label="Until (date or date and time, UTC)")
    request_id = django_filters.UUIDFilter()

    class Meta:
        model = ObjectChange
        fields = []


class TokenFilterSet(PortalFilterSet):
    usable = django_filters.BooleanFilter(method="filter_usable", label="Usable now")
    ordering = django_filters.OrderingFilter(
        fields=["create_at", "expires_at", "last_used_at", "revoked_at"]
    )
    update_at = None  # not filtered by update time

    class Meta:
        model = Token
        fields = []

    def filter_usable(self, queryset, name, value):
        usable = Token.objects.usable()
        return queryset.filter(pk__in=usable) if value else queryset.exclude(pk__in=usable)


class WebhookSubscriptionFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="namespace__path")
    within = WithinNamespaceFilter(field_name="namespace__path")
    active = django_filters.BooleanFilter()
    q = TextSearchFilter(search_fields=["url", "description"])
    create_at = django_filters.IsoDateTimeFromToRangeFilter()
    ordering = django_filters.OrderingFilter(
        fields=[("namespace__path", "namespace"), "url", "create_at", "update_at"])

    class Meta:
        model = WebhookSubscription
        fields = []


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter(field_name="event__type")
    event = django_filters.UUIDFilter(field_name="event_id")
    create_at = django_filters.IsoDateTimeFromToRangeFilter()

    class Meta:
        model = WebhookDelivery
        fields = []
