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
    """Base of every API resource: rows pass through the access rule; writes are atomic."""

    # An @action may name the access it needs, e.g. access_action="view" for a POST that reads.
    access_action = None

    def get_queryset(self):
        return access.restrict(super().get_queryset(), self.request.user, "view")

    @transaction.atomic
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @transaction.atomic
    def update(self, request, *args, **kwargs):
        return super().update(request, *args, **kwargs)

    @transaction.atomic
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        self.perform_destroy(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadOnlyPortalViewSet(viewsets.ReadOnlyModelViewSet):
    def get_queryset(self):
        return access.restrict(super().get_queryset(), self.request.user, "view")
