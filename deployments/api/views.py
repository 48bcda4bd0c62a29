from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from deployments import services
from deployments.api.serializers import (
    CloudAccountSerializer,
    DeployedVersionSerializer,
    DeploymentSerializer,
    DriftFindingSerializer,
    RecordFindingSerializer,
    with_deployments,
)
from deployments.filtersets import (
    CloudAccountFilterSet,
    DeploymentFilterSet,
    DriftFindingFilterSet,
)
from deployments.models import CloudAccount, Deployment, DriftFinding
from mlportal import access
from mlportal.api.base import PortalViewSet, ReadOnlyPortalViewSet
from registry.api.views import ModelVersionViewSet


class DeploymentViewSet(PortalViewSet):
    """Deployments: what runs where, since when, and what ran before.

    A deployment is history, so it is never deleted: it is retired, fails, or is rolled back.
    """

    queryset = Deployment.objects.select_related(
        "model_version", "catalog_model__namespace"
    ).prefetch_related("environment_variables", "status_history")
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilterSet
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def _document(self, deployment, status_code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=deployment.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    @extend_schema(request=None, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"], access_action="change")
    def promote(self, request, pk=None):
        """A canary takes all the traffic; the deployments it ran beside retire."""
        deployment = services.promote(deployment=self.get_object(), user=request.user)
        return self._document(deployment)

    @extend_schema(request=None, responses={
        201: OpenApiResponse(DeploymentSerializer, description="The version that served the "
                             "endpoint before, deployed again."),
        200: OpenApiResponse(DeploymentSerializer, description="A canary that was not "
                             "promoted, now rolled back: what it ran beside serves on."),
    })
    @action(detail=True, methods=["post"], access_action="change")
    def rollback(self, request, pk=None):
        """Mark this deployment rolled back and deploy again what served the endpoint before."""
        current = self.get_object()
        restored = services.rollback(deployment=current, user=request.user)
        if restored is None:
            return self._document(current)
        return self._document(restored, status.HTTP_201_CREATED)


class CloudAccountViewSet(PortalViewSet):
    """AWS accounts the drift checks read through a role (never keys). Every signed-in user
    reads them; superusers manage them. One with findings is disabled, not deleted (409)."""

    queryset = CloudAccount.objects.all()
    serializer_class = CloudAccountSerializer
    filterset_class = CloudAccountFilterSet


class DriftFindingViewSet(ReadOnlyPortalViewSet):
    """Drift between the deployments' records and what runs in AWS, found by
    `manage.py reconcile_deployments` (and its periodic task). Read-only, except recording an
    unrecorded resource as a deployment."""

    queryset = DriftFinding.objects.select_related(
        "account", "deployment__catalog_model__namespace",
        "found_version__catalog_model__namespace",
    )
    serializer_class = DriftFindingSerializer
    filterset_class = DriftFindingFilterSet

    @extend_schema(request=RecordFindingSerializer, responses={201: DeploymentSerializer})
    @action(detail=True, methods=["post"], access_action="add")
    def record(self, request, pk=None):
        """Record what an open "unrecorded" finding saw as a deployment, in one step: its
        version (the one whose artifact runs there, unless named), resource, variables; the
        finding is resolved by it. Needs a grant on the version's namespace."""
        # Not get_object(): an unrecorded resource has no namespace yet; the version names it.
        finding = get_object_or_404(self.get_queryset(), pk=pk)
        payload = RecordFindingSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields = dict(payload.validated_data)
        version = fields.get("model_version") or finding.found_version
        if version is not None:
            access.require_target(request.user, Deployment, {"model_version": version})
        deployment = services.record_unrecorded(finding=finding, user=request.user, **fields)
        document = DeploymentViewSet.queryset.get(pk=deployment.pk)
        return Response(DeploymentSerializer(document, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)
class DeployedVersionViewSet(ModelVersionViewSet):
    """Versions of catalog models. Never deleted: deprecate one instead."""

    # The registry's version endpoint, each document with where the version is deployed.
    serializer_class = DeployedVersionSerializer

    def get_queryset(self):
        return with_deployments(super().get_queryset())
