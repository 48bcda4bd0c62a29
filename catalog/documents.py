"""The catalog model document (examples/catalog_model.json), read and written as it is: one
reader for the API (catalog.api) and for the model cards in Git (catalog.sync), so that the
Git sync does not depend on the API layer."""

from rest_framework import serializers

from catalog import services
from catalog.models import CatalogModel
from catalog.validators import (
    validate_http_url,
    validate_json_schema,
    validate_model_name,
    validate_namespace_path,
)
from mlportal.api.base import PortalModelSerializer
from mlportal.secrets import mask


class ConnectionField(serializers.JSONField):
    """A data source's connection: a JSON object whose secret-looking values read as masked."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("The connection is a JSON object.")
        return value

    def to_representation(self, value):
        return mask(value)


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


class CatalogModelSerializer(PortalModelSerializer):
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
