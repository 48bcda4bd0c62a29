from django.urls import reverse
from rest_framework import serializers

from catalog import services
from catalog.models import CatalogModel, CatalogSource, CatalogSync, DataSource, Namespace
from catalog.validators import (
    validate_http_url,
    validate_json_schema,
    validate_model_name,
    validate_namespace_path,
)
from mlportal.api.base import ModelSerializer
from mlportal.secrets import mask


class NamespaceSerializer(ModelSerializer):
    path = serializers.CharField(max_length=255, validators=[validate_namespace_path])
    parent = serializers.CharField(source="parent.path", read_only=True, default=None)

    class Meta:
        model = Namespace
        fields = ["id", "path", "parent", "description", "create_at", "update_at"]

    def validate_path(self, value):
        if self.instance is not None and value != self.instance.path:
            raise serializers.ValidationError(
                "A namespace's path cannot change: the models in it are addressed by it."
            )
        return value

    def create(self, validated_data):
        return services.create_namespace(**validated_data)

    def update(self, instance, validated_data):
        return services.ensure_namespace(
            instance.path, description=validated_data.get("description", instance.description)
        )


class ConnectionField(serializers.JSONField):
    """A data source's connection: a JSON object whose secret-looking values read as masked."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("The connection is a JSON object.")
        return value

    def to_representation(self, value):
        return mask(value)


class DataSourceSerializer(ModelSerializer):
    connection = ConnectionField(required=False)
    models = serializers.SerializerMethodField()

    class Meta:
        model = DataSource
        fields = [
            "id", "name", "type", "description", "owner", "connection", "models",
            "create_at", "update_at",
        ]
        extra_kwargs = {"name": {"validators": []}}

    def get_models(self, source) -> list[str]:
        return [str(model) for model in source.models.all()]

    def create(self, validated_data):
        return services.save_data_source(**validated_data)

    def update(self, instance, validated_data):
        return services.save_data_source(instance=instance, **validated_data)


class DataSourceReferenceSerializer(serializers.Serializer):
    """A data source inside a model's document: its name, and optionally what it is."""

    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=50, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.EmailField(required=False, allow_blank=True)
    connection = ConnectionField(required=False)

    def to_representation(self, source):
        document = {
            "name": source.name,
            "type": source.type,
            "description": source.description,
            "owner": source.owner,
            "connection": mask(source.connection),
        }
        # Only what is set, so that a document posted as {"name": ...} reads back as it was.
        return {key: value for key, value in document.items() if value or key == "name"}


class SchemaPartSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, default="")
    schema = serializers.JSONField(required=False, default=dict, validators=[validate_json_schema])


class InferenceSerializer(serializers.Serializer):
    input = SchemaPartSerializer(required=False)
    output = SchemaPartSerializer(required=False)


class GitSourceSerializer(serializers.Serializer):
    """Where a model's card is kept in Git (read-only; null for a model never in Git)."""

    repository = serializers.CharField(source="git_repository")
    path = serializers.CharField(source="git_path")
    commit = serializers.CharField(
        source="git_commit", help_text="The commit whose version of the card was applied.")
    in_git = serializers.BooleanField(help_text="False once the card is removed from Git.")
    managed_fields = serializers.ListField(
        child=serializers.CharField(), source="git_managed_fields",
        help_text="Document fields the card sets: read-only here while the card is in Git.")

    def to_representation(self, model):
        return super().to_representation(model) if model.git_repository else None


class CatalogModelSerializer(ModelSerializer):
    """The user's catalog document (examples/catalog_model.json) plus id and timestamps."""

    namespace = serializers.CharField(
        source="namespace.path", max_length=255, validators=[validate_namespace_path]
    )
    model_name = serializers.CharField(max_length=200, validators=[validate_model_name])
    owner = serializers.EmailField(required=False, allow_blank=True)
    url = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, validators=[validate_http_url]
    )
    data_sources = DataSourceReferenceSerializer(many=True, required=False)
    inference = InferenceSerializer(required=False)
    source = GitSourceSerializer(source="*", read_only=True)

    class Meta:
        model = CatalogModel
        fields = [
            "id", "namespace", "model_name", "description", "owner", "url", "data_sources",
            "inference", "source", "model_card", "create_at", "update_at",
        ]
        read_only_fields = ["model_card"]

    @staticmethod
    def service_arguments(validated_data):
        """The validated document as save_catalog_model takes it (namespace as a path)."""
        arguments = dict(validated_data)
        arguments["namespace"] = arguments.pop("namespace", {}).get("path")
        return arguments

    def _save(self, instance, validated_data):
        return services.save_catalog_model(
            instance=instance, **self.service_arguments(validated_data))

    def create(self, validated_data):
        return self._save(None, validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class ValidateInputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.DictField())


class CatalogSourceSerializer(ModelSerializer):
    """A Git repository whose catalog documents are loaded into the catalog."""

    webhook_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500,
        help_text="Shared secret of the push webhook; never returned. Empty disables the "
        "webhook; leave it out to keep the current one.",
    )
    has_webhook_secret = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()
    latest_sync = serializers.SerializerMethodField(
        help_text="The latest sync (queued, running or done); all of them: /syncs/.")

    class Meta:
        model = CatalogSource
        fields = [
            "id", "repository", "ref", "subdirectory", "webhook_secret", "has_webhook_secret",
            "webhook_url", "last_synced_commit", "last_synced_at", "last_result", "latest_sync",
            "create_at", "update_at",
        ]
        read_only_fields = ["last_synced_commit", "last_synced_at", "last_result"]
        validators = []  # uniqueness is checked by the service, as a 409

    def get_latest_sync(self, source) -> dict | None:
        syncs = getattr(source, "latest_syncs", None)
        latest = syncs[0] if syncs else (
            None if syncs is not None else source.syncs.order_by("-queued_at", "-id").first())
        return CatalogSyncSerializer(latest).data if latest is not None else None

    def get_has_webhook_secret(self, source) -> bool:
        return bool(source.webhook_secret)

    def get_webhook_url(self, source) -> str:
        path = reverse("catalogsource-webhook", args=[source.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def create(self, validated_data):
        return services.save_catalog_source(**validated_data)

    def update(self, instance, validated_data):
        return services.save_catalog_source(instance=instance, **validated_data)


class CatalogSyncSerializer(ModelSerializer):
    """One sync of a catalog source: queued, running, succeeded or failed, and what it did."""

    source = serializers.PrimaryKeyRelatedField(read_only=True)
    repository = serializers.CharField(source="source.repository", read_only=True)
    ref = serializers.CharField(source="source.ref", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True,
                                         default=None)

    class Meta:
        model = CatalogSync
        fields = ["id", "source", "repository", "ref", "status", "trigger", "requested_by",
                  "queued_at", "started_at", "finished_at", "commit", "message", "result"]
        read_only_fields = fields
