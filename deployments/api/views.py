from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from deployments import services
from deployments.api.serializers import (
    DEPLOYMENTS_OF_VERSION,
    DeployedVersionSerializer,
    DeploymentSerializer,
)
from deployments.filtersets import DeploymentFilterSet
from deployments.models import Deployment
from mlportal.api.base import PortalViewSet
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


class DeployedVersionViewSet(ModelVersionViewSet):
    """Versions of catalog models. Never deleted: deprecate one instead."""

    # The registry's version endpoint, each document with where the version is deployed.
    queryset = ModelVersionViewSet.queryset.prefetch_related(DEPLOYMENTS_OF_VERSION)
    serializer_class = DeployedVersionSerializer
