"""What every API resource shares: timestamps and the base viewsets."""

import datetime

from django.db import models, transaction
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from mlportal import access


class Timestamp(serializers.DateTimeField):
    """ISO 8601 in UTC with milliseconds, as in the user's documents: 2023-01-01T00:00:00.000Z."""

    def to_representation(self, value):
        if not value:
            return None
        value = self.enforce_timezone(value).astimezone(datetime.UTC)
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: Timestamp,
    }


class PortalViewSet(viewsets.ModelViewSet):
    """Base of every API resource: rows pass through the access rule; writes are atomic.

    Who may write what is checked three times, all by mlportal.access: the method on the
    resource (PortalPermission.has_permission), the row as it is (has_object_permission),
    and the namespace the validated data names (`check_write_target`), before anything
    is saved. The access guard on every save is the backstop.
    """

    # An @action may name the access it needs, e.g. access_action="view" for a POST that reads.
    access_action = None

    def get_queryset(self):
        return access.restrict(super().get_queryset(), self.request.user, "view")

    def check_write_target(self, serializer):
        """403 for data that names a namespace outside the user's grants (e.g. a model's
        "namespace", a version's catalog model). An @action that writes from a serializer
        calls this between is_valid() and save()."""
        model = getattr(getattr(serializer, "Meta", None), "model", None) or self.queryset.model
        access.require_target(self.request.user, model, serializer.validated_data)

    @transaction.atomic
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_write_target(serializer)
        self.perform_create(serializer)
        headers = self.get_success_headers(serializer.data)
        return Response(serializer.data, status=status.HTTP_201_CREATED, headers=headers)

    @transaction.atomic
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.check_write_target(serializer)
        self.perform_update(serializer)
        if getattr(instance, "_prefetched_objects_cache", None):
            instance._prefetched_objects_cache = {}
        return Response(serializer.data)

    @transaction.atomic
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        self.perform_destroy(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadOnlyPortalViewSet(viewsets.ReadOnlyModelViewSet):
    access_action = None

    def get_queryset(self):
        return access.restrict(super().get_queryset(), self.request.user, "view")
