import datetime

from django.db import connection
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from catalog.validators import validate_http_url
from deployments import services
from deployments.choices import DeploymentMethod, DeploymentStatus, RollingStrategy, describe
from deployments.models import (
    CloudAccount,
    Deployment,
    DriftFinding,
    StatusChange,
    deprecation_warnings,
)
from deployments.validators import validate_variable_name
from mlportal.api.base import NumberField, PortalModelSerializer, Timestamp
from registry.api.serializers import ModelVersionSerializer, json_array, related
from registry.models import version_label
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
    model_version = NumberField(source="model_version.model_version")
    deployment_id = NumberField(
        required=False,
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
    resource = serializers.CharField(
        max_length=2048, required=False, allow_blank=True,
        help_text="The ARN of what serves it: a SageMaker endpoint, an ECS service, a Lambda "
                  "function; for EKS the cluster's ARN + /namespaces/<namespace>/deployments/"
                  "<name>. Checked against the deployment method.",
    )
    status = choice_field(DeploymentStatus, "a deployment status", required=False)
    status_history = StatusChangeSerializer(many=True, read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id", "namespace", "model_name", "model_version", "deployment_id", "create_at",
            "endpoint", "environment", "environment_variables", "deployment_method",
            "rolling_strategy", "traffic_percent", "resource", "status", "active_from",
            "active_until", "replaced_by", "status_history", "update_at",
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
            "rolling_strategy", "traffic_percent", "resource", "status", "active_from",
            "active_until",
        ]
        read_only_fields = fields


DEPLOYMENTS_OF_VERSION = Prefetch(
    "deployments", queryset=Deployment.objects.order_by("-create_at", "-id")
)

DEPLOYMENT_TIMES = ("active_from", "active_until")


def _deployments_array():
    """The version's deployments as a JSON array in the version's own query (PostgreSQL),
    written in SQL once (as registry.api.serializers.with_documents' arrays)."""
    fields = ", ".join(f"'{field}', {field}" for field in DeploymentSummarySerializer.Meta.fields)
    return json_array("deployments_deployment", "model_version_id",
                      f"json_build_object({fields})", "create_at DESC, id DESC")


DEPLOYMENTS_ARRAY = _deployments_array()


def with_deployments(queryset):
    """`queryset` of versions (registry.api.serializers.with_documents) with where each is
    deployed: in the same query on PostgreSQL, else one prefetch query."""
    if connection.vendor != "postgresql":
        return queryset.prefetch_related(Prefetch(
            "deployments", queryset=DEPLOYMENTS_OF_VERSION.queryset,
            to_attr="document_deployments"))
    return queryset.annotate(document_deployments_json=DEPLOYMENTS_ARRAY)


def _deployments_from_json(name, values):
    for value in values:  # timestamps as datetimes, for the serializer's format
        for field in DEPLOYMENT_TIMES:
            if isinstance(value[field], str):  # read twice: converted the first time
                value[field] = datetime.datetime.fromisoformat(value[field])
    return values


class CloudAccountSerializer(PortalModelSerializer):
    """An AWS account the drift checks read, through a role: never keys. `external_id` is
    write-only (it reads as masked); sending the mask back keeps it."""

    regions = serializers.ListField(
        child=serializers.CharField(max_length=30), allow_empty=False,
        help_text="Such as [\"us-east-1\", \"eu-west-1\"].")
    external_id = serializers.CharField(required=False, allow_blank=True, write_only=True,
                                        trim_whitespace=False)
    has_external_id = serializers.SerializerMethodField()

    class Meta:
        model = CloudAccount
        fields = ["id", "name", "account_id", "regions", "role_arn", "external_id",
                  "has_external_id", "endpoint_url", "enabled", "last_checked_at", "create_at",
                  "update_at"]
        read_only_fields = ["last_checked_at", "create_at", "update_at"]

    def get_has_external_id(self, account) -> bool:
        return bool(account.external_id)

    def to_representation(self, account):
        document = super().to_representation(account)
        document["regions"] = account.region_list
        return document

    def validate_regions(self, regions):
        return ",".join(region.strip() for region in regions)

    def create(self, validated_data):
        return services.save_cloud_account(**validated_data)

    def update(self, instance, validated_data):
        return services.save_cloud_account(instance=instance, **validated_data)


@extend_schema_field({"type": "object", "nullable": True, "properties": {
    "id": {"type": "integer"}, "namespace": {"type": "string"},
    "model_name": {"type": "string"}, "model_version": {"type": "integer"}}})
class FoundVersionField(serializers.Field):
    """The registered version whose artifact runs there, by its natural key."""

    def to_representation(self, version):
        model = version.catalog_model
        return {"id": version.pk, "namespace": model.namespace.path,
                "model_name": model.model_name, "model_version": version.model_version}


class DriftFindingSerializer(PortalModelSerializer):
    """A difference between a deployment's record and what runs in AWS. Secrets never appear:
    a secret variable's expected and found values read as masked."""

    account = serializers.CharField(source="account.name", read_only=True)
    namespace = serializers.CharField(source="deployment.catalog_model.namespace.path",
                                      read_only=True, default=None)
    model_name = serializers.CharField(source="deployment.catalog_model.model_name",
                                       read_only=True, default=None)
    deployment_id = serializers.IntegerField(source="deployment.deployment_id", read_only=True,
                                             default=None)
    endpoint = serializers.CharField(source="deployment.endpoint", read_only=True, default=None)
    found_version = FoundVersionField(read_only=True)
    state = serializers.SerializerMethodField()
    last_checked_at = Timestamp(source="account.last_checked_at", read_only=True, allow_null=True)

    class Meta:
        model = DriftFinding
        fields = ["id", "kind", "state", "account", "deployment", "namespace", "model_name",
                  "deployment_id", "endpoint", "resource", "subject", "expected", "found",
                  "found_version", "opened_at", "last_seen_at", "resolved_at", "resolution",
                  "last_checked_at"]
        read_only_fields = fields

    def get_state(self, finding) -> str:
        return "open" if finding.is_open else "resolved"


class RecordFindingSerializer(serializers.Serializer):
    """What recording an unrecorded resource may add to what the finding saw: the version
    (when no registered artifact runs there), the endpoint (an ECS service's), the strategy
    and the environment's name."""

    namespace = serializers.CharField(required=False, max_length=255)
    model_name = serializers.CharField(required=False, max_length=200)
    model_version = serializers.IntegerField(required=False, min_value=1)
    endpoint = serializers.CharField(required=False, max_length=2000,
                                     validators=[validate_http_url])
    rolling_strategy = choice_field(RollingStrategy, "a rolling strategy", required=False)
    environment = serializers.CharField(required=False, allow_blank=True, max_length=50)

    def validate(self, attrs):
        address = [attrs.pop(name, None) for name in ("namespace", "model_name",
                                                      "model_version")]
        if any(value is not None for value in address):
            if any(value is None for value in address):
                raise serializers.ValidationError({"model_version": (
                    "Name the version by namespace, model_name and model_version together.")})
            attrs["model_version"] = find_version(
                namespace=address[0], model_name=address[1], model_version=address[2])
        return attrs


@extend_schema_serializer(component_name="ModelVersion")
class DeployedVersionSerializer(ModelVersionSerializer):
    """The user's version document (examples/model_version.json) plus id and server fields."""

    # The registry's version document with where the version is deployed: the document
    # /api/v1/versions/ serves.
    deployments = DeploymentSummarySerializer(
        many=True, read_only=True, help_text="Where this version is or was deployed, newest first."
    )
    serving = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="The endpoints this version serves now.")
    warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Risky states, one sentence each: a deprecated version that still serves an "
        "endpoint, or that an alias still points at. Empty when there is none.")

    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields[:-1], "deployments", "serving", "warnings",
                  "update_at"]

    def to_representation(self, version):
        # The registry's document (built directly), then where the version runs, before
        # update_at.
        document = super().to_representation(version)
        update_at = document.pop("update_at")
        deployments = DEPLOYMENT_SUMMARIES.to_representation(
            related(version, "deployments", _deployments_from_json))
        serving = sorted({deployment["endpoint"] for deployment in deployments
                          if deployment["active_from"] and not deployment["active_until"]})
        document["deployments"] = deployments
        document["serving"] = serving
        document["warnings"] = deprecation_warnings(
            version, endpoints=serving, aliases=document["aliases"],
            label=version_label(document["model_name"], document["model_version"]))
        document["update_at"] = update_at
        return document


# Shared by every document: the summaries need no request, and building a serializer's
# fields (deep copies of the declared ones) would cost more than the rows themselves.
DEPLOYMENT_SUMMARIES = DeploymentSummarySerializer(many=True, read_only=True)
