from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from jsonschema import validators as jsonschema_validators
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.api.serializers import (
    CatalogModelSerializer,
    DataSourceSerializer,
    NamespaceSerializer,
    ValidateInputSerializer,
)
from catalog.filtersets import CatalogModelFilterSet, DataSourceFilterSet, NamespaceFilterSet
from catalog.models import CatalogModel, DataSource, Namespace
from mlportal.api.base import PortalViewSet


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
