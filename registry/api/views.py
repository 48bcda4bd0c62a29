from django.db import transaction
from django.db.models import F
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from mlportal import access
from mlportal.api.base import PortalViewSet
from mlportal.api.parsers import JSONParser
from mlportal.context import set_principal
from registry import services
from registry.api import uploads
from registry.api.serializers import (
    AliasSerializer,
    ArtifactSerializer,
    ModelTagSerializer,
    ModelVersionSerializer,
    with_documents,
)
from registry.filtersets import (
    AliasFilterSet,
    ArtifactFilterSet,
    ModelTagFilterSet,
    ModelVersionFilterSet,
)
from registry.models import Alias, Artifact, ModelTag, ModelVersion

# What a version's document and the access rule read (list and retrieve load only these).
VERSION_COLUMNS = tuple(field.name for field in ModelVersion._meta.concrete_fields)
DOCUMENT_COLUMNS = (*VERSION_COLUMNS, "catalog_model__model_name",
                    "catalog_model__namespace__path", "registered_by__username")
# A page's versions carry the names their documents read as plain values of the version's
# own row: joined objects would be a model, a namespace and a user built for every version
# of a page (a quarter of its cost), and a query of their own would slow a lookup of one.
PAGE_NAMES = {
    "document_namespace": F("catalog_model__namespace__path"),
    "document_model_name": F("catalog_model__model_name"),
    "document_registered_by": F("registered_by__username"),
}


class ArtifactStoreUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The artifact store is unreachable; try again later."
    default_code = "artifact_store_unavailable"


class ArtifactStoreRefused(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The artifact store refused the request."
    default_code = "artifact_store_refused"


def store_error(exc):
    return (ArtifactStoreUnavailable if exc.unreachable else ArtifactStoreRefused)(str(exc))


# Routed by deployments.api.urls as deployments.api.views.DeployedVersionViewSet, which adds
# where each version is deployed to its document.
class ModelVersionViewSet(PortalViewSet):
    """Versions of catalog models. Never deleted: deprecate one instead."""

    # The rest of each document: with_documents (get_queryset).
    queryset = ModelVersion.objects.select_related("catalog_model__namespace", "registered_by")
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        queryset = with_documents(super().get_queryset())
        # Only what the documents and the access rule read: a page of versions would
        # otherwise carry (and parse) its model's card and schemas once per version.
        if self.action == "list":
            queryset = (queryset.select_related(None).only(*VERSION_COLUMNS)
                        .annotate(**PAGE_NAMES))
        elif self.action == "retrieve":
            queryset = queryset.only(*DOCUMENT_COLUMNS)
        return queryset

    def filter_queryset(self, queryset):
        # A version by id with no filter in its query string: the FilterSet (built and
        # validated on every request) would not change the answer.
        if self.action == "retrieve" and not self.request.query_params:
            return queryset
        return super().filter_queryset(queryset)

    def create(self, request, *args, **kwargs):
        # The model's counter row stays locked until the commit: answer after it, not inside.
        # register_version is the transaction (no savepoint inside another one).
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def perform_create(self, serializer):
        # The principal the client names (such as an IAM ARN) is also the audit's principal.
        set_principal(serializer.validated_data.get("created_by"))
        serializer.save()

    # The answer is the view's own version document (get_serializer).
    @extend_schema(request=None)
    @action(detail=True, methods=["post"], access_action="change")
    def deprecate(self, request, pk=None):
        """Mark the version deprecated: it stays, with its artifacts, but is no longer to be
        used."""
        version = services.deprecate_version(version=self.get_object())
        return Response(self.get_serializer(version).data)


class ArtifactViewSet(PortalViewSet):
    """Artifacts of one version: link one (JSON {"name", "uri"}) or upload one (multipart
    `name` and `file`). Never replaced or removed."""

    queryset = Artifact.objects.select_related("registered_by")
    serializer_class = ArtifactSerializer
    filterset_class = ArtifactFilterSet
    parser_classes = [JSONParser, uploads.MultiPartParser, FormParser]
    lookup_field = "name"
    http_method_names = ["get", "post", "head", "options"]

    def get_version(self):
        if not hasattr(self, "_version"):
            versions = access.restrict(
                ModelVersion.objects.select_related("catalog_model__namespace"),
                self.request.user, "view",
            )
            self._version = get_object_or_404(versions, pk=self.kwargs["version_pk"])
        return self._version

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Artifact.objects.none()
        return super().get_queryset().filter(version=self.get_version())

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "version_pk" in self.kwargs:
            context["version"] = self.get_version()
        return context

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.streaming_handler = None
        if self.action == "create":
            handler = uploads.StreamingArtifactHandler(request._request, view=self)
            try:
                request._request.upload_handlers = [handler, *request._request.upload_handlers]
            except AttributeError:
                return  # the body was read already (a session's CSRF check): spooled
            # The body is read in chunks of the smallest size a handler asks for; Django's own
            # ask for 64 KiB, 16,384 rounds through the parser for 1 GiB.
            for fallback in request._request.upload_handlers[1:]:
                fallback.chunk_size = max(fallback.chunk_size, handler.chunk_size)
            self.streaming_handler = handler

    def create(self, request, *args, **kwargs):
        # Not in a transaction: an upload streams for as long as it takes, holding no
        # database lock; the service writes the row once the file is stored.
        try:
            return ModelViewSet.create(self, request, *args, **kwargs)
        except services.ArtifactStoreError as exc:
            raise store_error(exc) from exc
        finally:
            if self.streaming_handler is not None:
                self.streaming_handler.close()

    @extend_schema(responses={
        (200, "application/octet-stream"): OpenApiResponse(description="The file (local)."),
        302: OpenApiResponse(description="Redirect to a short-lived presigned URL (S3)."),
        404: OpenApiResponse(description="No such artifact, or a link (fetch its uri)."),
    })
    @action(detail=True, methods=["get"])
    def download(self, request, *args, **kwargs):
        """The uploaded file: a redirect to a short-lived presigned URL on S3, the file itself
        from local storage."""
        artifact = self.get_object()
        if not artifact.is_stored:
            raise exceptions.NotFound(
                f"{artifact.name} is a link, not stored in the portal: fetch {artifact.uri}."
            )
        try:
            url = services.artifact_download_url(artifact)
            if url:
                return HttpResponseRedirect(url)
            file = services.open_artifact(artifact)
        except services.ArtifactStoreError as exc:
            raise store_error(exc) from exc
        filename = artifact.name + services.artifact_extension(artifact.storage_key)
        return FileResponse(file, as_attachment=True, filename=filename)


class AliasViewSet(PortalViewSet):
    """Aliases such as champion: each points at one version of a model at a time. POST sets
    one by natural key (201 when new, 200 when moved); DELETE removes it."""

    queryset = Alias.objects.select_related("catalog_model__namespace", "version")
    serializer_class = AliasSerializer
    filterset_class = AliasFilterSet
    http_method_names = ["get", "post", "delete", "head", "options"]

    @transaction.atomic
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = services.find_version(
            namespace=data["catalog_model"]["namespace"]["path"],
            model_name=data["catalog_model"]["model_name"],
            model_version=data["version"]["model_version"],
        )
        existing = Alias.objects.filter(
            catalog_model=version.catalog_model, name=data["name"]).first()
        if existing is not None and not access.can(request.user, "change", existing):
            raise exceptions.PermissionDenied("You may not move an existing alias.")
        alias, created = services.set_alias(version=version, name=data["name"])
        return Response(self.get_serializer(alias).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance):
        services.remove_alias(alias=instance)



class ModelTagViewSet(PortalViewSet):
    """Tags of catalog models as a whole (what MLflow calls registered-model tags), such as
    team=claims: set one by natural key, change its value, remove it."""

    queryset = ModelTag.objects.select_related("catalog_model__namespace")
    serializer_class = ModelTagSerializer
    filterset_class = ModelTagFilterSet

    def perform_destroy(self, instance):
        services.remove_model_tag(tag=instance)
