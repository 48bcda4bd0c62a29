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


# DRF's ModelSerializer with the portal's timestamps and its access check on save. (A comment,
# not a docstring: the OpenAPI schema would describe every resource without one by it.)
class PortalModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: Timestamp,
    }

    def save(self, **kwargs):
        """Refuse (403) data that puts the row in a namespace outside the requesting user's
        grants, before create() or update() does anything: the namespace a model's document
        names, a version's catalog model, the version an artifact is uploaded to (from the
        context), ... (mlportal.access.target_namespaces)."""
        request = self.context.get("request")
        if request is not None:
            rows = {name: value for name, value in self.context.items()
                    if isinstance(value, models.Model)}
            access.require_target(request.user, self.Meta.model,
                                  {**rows, **self.validated_data, **kwargs})
        return super().save(**kwargs)


# The docstring describes every resource without one in the OpenAPI schema: the serializer's
# save it names is PortalModelSerializer.save.
class PortalViewSet(viewsets.ModelViewSet):
    """Base of every API resource: rows pass through the access rule; writes are atomic.

    Who may write what is checked three times, all by mlportal.access: the method on the
    resource (PortalPermission.has_permission), the row as it is (has_object_permission),
    and the namespace the validated data names (ModelSerializer.save), before anything is
    saved. The access guard on every save is the backstop.
    """

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
    access_action = None

    def get_queryset(self):
        return access.restrict(super().get_queryset(), self.request.user, "view")
