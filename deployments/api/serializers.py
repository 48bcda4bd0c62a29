from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from catalog.validators import validate_http_url
from deployments import services
from deployments.choices import DeploymentMethod, DeploymentStatus, RollingStrategy, describe
from deployments.models import (
    Deployment,
    StatusChange,
    deprecation_warnings,
    serving_endpoints,
)
from deployments.validators import validate_variable_name
from mlportal.api.base import PortalModelSerializer, Timestamp
from registry.api.serializers import ModelVersionSerializer
from registry.services import find_version

TRAFFIC_PERCENT_MESSAGE = "A traffic percent is between 1 and 100."


def choice_field(choices, what, **kwargs):
    return serializers.ChoiceField(
        choices=choices.choices,
        error_messages={"invalid_choice": f'"{{input}}" is not {what}; choose one of '
                                          f"{describe(choices)}."},
        **kwargs,
    )


class EnvironmentVariableSerializer(serializers.Serializer):
    """{"name", "value", "secret"}. A secret reads as masked; `secret` is left out when false,
    so that the user's documents (which do not mention it) read back as they were written."""

    name = serializers.CharField(max_length=255, validators=[validate_variable_name])
    value = serializers.CharField(allow_blank=True, trim_whitespace=False)
    secret = serializers.BooleanField(required=False, default=False)

    def to_representation(self, variable):
        document = {"name": variable.name, "value": variable.shown_value}
        if variable.secret:
            document["secret"] = True
        return document


class StatusChangeSerializer(PortalModelSerializer):
    user = serializers.CharField(source="user_name", read_only=True)

    class Meta:
        model = StatusChange
        fields = ["status", "traffic_percent", "at", "user", "principal", "reason"]
        read_only_fields = fields


class DeploymentSerializer(PortalModelSerializer):
    """The user's deployment document (examples/deployment.json) plus id and what the server
    keeps: status, when it served (active_from, active_until), what replaced it, its status
    history and update_at. The version is addressed by namespace, model_name, model_version."""

    namespace = serializers.CharField(source="catalog_model.namespace.path", max_length=255)
    model_name = serializers.CharField(source="catalog_model.model_name", max_length=200)
    model_version = serializers.IntegerField(source="model_version.model_version", min_value=1)
    deployment_id = serializers.IntegerField(
        min_value=1, required=False,
        help_text="1, 2, 3, ... per model; assigned by the server when left out.",
    )
    create_at = Timestamp(required=False)
    endpoint = serializers.CharField(max_length=2000, validators=[validate_http_url])
    environment = serializers.CharField(max_length=50, required=False, allow_blank=True)
    environment_variables = EnvironmentVariableSerializer(many=True, required=False)
    deployment_method = choice_field(DeploymentMethod, "a deployment method")
    rolling_strategy = choice_field(RollingStrategy, "a rolling strategy")
    traffic_percent = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100,
        error_messages={"min_value": TRAFFIC_PERCENT_MESSAGE,
                        "max_value": TRAFFIC_PERCENT_MESSAGE},
        help_text="A canary's share of the endpoint's traffic; only for canaries.",
    )
    status = choice_field(DeploymentStatus, "a deployment status", required=False)
    status_history = StatusChangeSerializer(many=True, read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id", "namespace", "model_name", "model_version", "deployment_id", "create_at",
            "endpoint", "environment", "environment_variables", "deployment_method",
            "rolling_strategy", "traffic_percent", "status", "active_from", "active_until",
            "replaced_by", "status_history", "update_at",
        ]
        read_only_fields = ["active_from", "active_until", "replaced_by", "update_at"]

    def validate(self, attrs):
        catalog_model = attrs.pop("catalog_model", {})
        number = attrs.pop("model_version", {}).get("model_version")
        address = {
            "namespace": catalog_model.get("namespace", {}).get("path"),
            "model_name": catalog_model.get("model_name"),
            "model_version": number,
        }
        if self.instance is not None and any(value is None for value in address.values()):
            stored = self.instance
            address = {
                "namespace": address["namespace"] or stored.catalog_model.namespace.path,
                "model_name": address["model_name"] or stored.catalog_model.model_name,
                "model_version": address["model_version"] or stored.model_version.model_version,
            }
        if all(value is not None for value in address.values()):
            attrs["model_version"] = find_version(**address)
        return attrs

    def _actor(self):
        return self.context["request"].user

    def create(self, validated_data):
        return services.record_deployment(user=self._actor(), **validated_data)

    def update(self, instance, validated_data):
        return services.update_deployment(deployment=instance, user=self._actor(),
                                          **validated_data)


class DeploymentSummarySerializer(PortalModelSerializer):
    """Where a version is deployed, for the version's own document:
    `deployments = DeploymentSummarySerializer(many=True, read_only=True)` with the version
    queryset prefetching `DEPLOYMENTS_OF_VERSION`."""

    class Meta:
        model = Deployment
        fields = [
            "id", "deployment_id", "endpoint", "environment", "deployment_method",
            "rolling_strategy", "traffic_percent", "status", "active_from", "active_until",
        ]
        read_only_fields = fields


DEPLOYMENTS_OF_VERSION = Prefetch(
    "deployments", queryset=Deployment.objects.order_by("-create_at", "-id")
)


@extend_schema_serializer(component_name="ModelVersion")
class DeployedVersionSerializer(ModelVersionSerializer):
    """The user's version document (examples/model_version.json) plus id and server fields."""

    # The registry's version document with where the version is deployed: the document
    # /api/v1/versions/ serves.
    deployments = DeploymentSummarySerializer(
        many=True, read_only=True, help_text="Where this version is or was deployed, newest first."
    )
    serving = serializers.SerializerMethodField(
        help_text="The endpoints this version serves now.")
    warnings = serializers.SerializerMethodField(
        help_text="Risky states, one sentence each: a deprecated version that still serves an "
        "endpoint, or that an alias still points at. Empty when there is none.")

    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields[:-1], "deployments", "serving", "warnings",
                  "update_at"]

    def get_serving(self, version) -> list[str]:
        return serving_endpoints(version)

    def get_warnings(self, version) -> list[str]:
        return deprecation_warnings(version)
