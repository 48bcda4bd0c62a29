import json

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from jsonschema import validators as jsonschema_validators
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from catalog.api.serializers import (
    CatalogSourceSerializer,
    CatalogSyncSerializer,
    DataSourceSerializer,
    GrantSerializer,
    NamespaceSerializer,
    ValidateInputSerializer,
)
from catalog.documents import CatalogModelSerializer
from catalog.filtersets import (
    CatalogModelFilterSet,
    CatalogSourceFilterSet,
    CatalogSyncFilterSet,
    DataSourceFilterSet,
    GrantFilterSet,
    NamespaceFilterSet,
)
from catalog.models import CatalogModel, CatalogSource, CatalogSync, DataSource, Namespace
from catalog.services import request_sync
from mlportal.api.base import PortalViewSet, ReadOnlyPortalViewSet
from mlportal.models import Grant

LATEST_SYNC = Prefetch("syncs", queryset=CatalogSync.objects.select_related(
    "source", "requested_by").order_by("-queued_at", "-id")[:1], to_attr="latest_syncs")


class NamespaceViewSet(PortalViewSet):
    queryset = Namespace.objects.select_related("parent")
    serializer_class = NamespaceSerializer
    filterset_class = NamespaceFilterSet


class DataSourceViewSet(PortalViewSet):
    queryset = DataSource.objects.prefetch_related(
        Prefetch("models", queryset=CatalogModel.objects.select_related("namespace"))
    )
    serializer_class = DataSourceSerializer
    filterset_class = DataSourceFilterSet


class CatalogModelViewSet(PortalViewSet):
    queryset = CatalogModel.objects.select_related("namespace").prefetch_related("data_sources")
    serializer_class = CatalogModelSerializer
    filterset_class = CatalogModelFilterSet

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT}, responses=ValidateInputSerializer
    )
    @action(detail=True, methods=["post"], url_path="validate-input", access_action="view")
    def validate_input(self, request, pk=None):
        """Check an inference request against the model's input schema, before calling it."""
        schema = self.get_object().inference_input_schema
        validator_class = jsonschema_validators.validator_for(schema)
        errors = [
            {"path": "/".join(str(part) for part in error.absolute_path), "message": error.message}
            for error in sorted(validator_class(schema).iter_errors(request.data), key=str)
        ]
        return Response({"valid": not errors, "errors": errors})


class CatalogSourceViewSet(PortalViewSet):
    queryset = CatalogSource.objects.prefetch_related(LATEST_SYNC)
    serializer_class = CatalogSourceSerializer
    filterset_class = CatalogSourceFilterSet
    lookup_value_regex = r"\d+"

    def _queued(self, sync):
        return Response(CatalogSyncSerializer(sync, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: CatalogSyncSerializer})
    @action(detail=True, methods=["post"], access_action="change")
    def sync(self, request, pk=None):
        """Queue a sync of the source's catalog documents and answer at once (202) with it;
        a worker runs it. Follow it at /api/v1/catalog-syncs/{id}/ or in `latest_sync`."""
        source = self.get_object()
        return self._queued(request_sync(source=source, trigger="api", user=request.user))

    @extend_schema(responses=CatalogSyncSerializer(many=True))
    @action(detail=True, methods=["get"])
    def syncs(self, request, pk=None):
        """The syncs of this source, the latest first."""
        source = self.get_object()
        page = self.paginate_queryset(source.syncs.select_related("source", "requested_by"))
        data = CatalogSyncSerializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter(
            "X-Hub-Signature-256", location=OpenApiParameter.HEADER, required=True,
            description="sha256=<hex HMAC-SHA256 of the raw body with the webhook secret>")],
    )
    @action(detail=True, methods=["post"], authentication_classes=[],
            permission_classes=[AllowAny])
    def webhook(self, request, pk=None):
        """Push webhook (GitHub, Gitea, ... format): signed with the source's webhook secret
        instead of a token. A push to the ref the source reads queues a sync: 202 with it."""
        source = CatalogSource.objects.filter(pk=pk).first()
        if source is None:
            raise exceptions.NotFound()
        signature = request.headers.get("X-Hub-Signature-256", "")
        if not signature:
            return Response(
                {"detail": "Sign the request: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of "
                           "the body with the source's webhook secret>."},
                status=status.HTTP_401_UNAUTHORIZED)
        if not source.webhook_secret:
            return Response({"detail": "This source has no webhook secret; set one first."},
                            status=status.HTTP_403_FORBIDDEN)
        body = request.body
        if not source.signature_matches(body, signature):
            return Response({"detail": "The signature does not match the body and the "
                                       "source's webhook secret."},
                            status=status.HTTP_403_FORBIDDEN)
        if request.headers.get("X-GitHub-Event") == "ping":
            return Response({"detail": "pong"})
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        repository = payload.get("repository")
        default_branch = repository.get("default_branch") if isinstance(repository, dict) else None
        pushed_ref = payload.get("ref") if isinstance(payload.get("ref"), str) else None
        if not source.follows(pushed_ref, default_branch):
            return Response({"detail": f"Ignored: a push to {pushed_ref}; this source reads "
                                       f"{source.ref}."})
        return self._queued(request_sync(source=source, trigger="webhook"))


class CatalogSyncViewSet(ReadOnlyPortalViewSet):
    """Syncs of the catalog sources: queued, running, succeeded or failed."""

    queryset = CatalogSync.objects.select_related("source", "requested_by")
    serializer_class = CatalogSyncSerializer
    filterset_class = CatalogSyncFilterSet


class GrantViewSet(PortalViewSet):
    queryset = Grant.objects.select_related("namespace", "user", "group")
    serializer_class = GrantSerializer
    filterset_class = GrantFilterSet
