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
    DataSourceSerializer,
    GrantSerializer,
    NamespaceSerializer,
    ValidateInputSerializer,
)
from catalog.documents import CatalogModelSerializer
from catalog.filtersets import (
    CatalogModelFilterSet,
    CatalogSourceFilterSet,
    DataSourceFilterSet,
    GrantFilterSet,
    NamespaceFilterSet,
)
from catalog.git import GitError
from catalog.models import CatalogModel, CatalogSource, DataSource, Namespace
from catalog.sync import sync_catalog_source
from mlportal.api.base import PortalViewSet
from mlportal.models import Grant


class RepositoryUnavailable(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The Git repository cannot be read."
    default_code = "repository_unavailable"


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
    queryset = CatalogSource.objects.all()
    serializer_class = CatalogSourceSerializer
    filterset_class = CatalogSourceFilterSet
    lookup_value_regex = r"\d+"

    def _sync(self, source, user=None):
        try:
            return sync_catalog_source(source, user=user)
        except GitError as exc:
            raise RepositoryUnavailable(
                f"Cannot read {source.repository} at {source.ref}: {exc}") from exc

    @extend_schema(request=None, responses=CatalogSourceSerializer)
    @action(detail=True, methods=["post"], access_action="change")
    def sync(self, request, pk=None):
        """Load the source's catalog documents now; the outcome is in `last_result`."""
        source = self.get_object()
        self._sync(source, user=request.user)
        return Response(self.get_serializer(source).data)

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
        instead of a token. A push to the ref the source reads syncs it."""
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
        return Response(self._sync(source).as_result())


class GrantViewSet(PortalViewSet):
    queryset = Grant.objects.select_related("namespace", "user", "group")
    serializer_class = GrantSerializer
    filterset_class = GrantFilterSet
