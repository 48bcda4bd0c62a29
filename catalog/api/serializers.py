from django.urls import reverse
from rest_framework import serializers

from catalog import services
from catalog.documents import ConnectionField
from catalog.models import CatalogSource, DataSource, Namespace
from catalog.validators import validate_namespace_path
from mlportal.api.base import ModelSerializer


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

    class Meta:
        model = CatalogSource
        fields = [
            "id", "repository", "ref", "subdirectory", "webhook_secret", "has_webhook_secret",
            "webhook_url", "last_synced_commit", "last_synced_at", "last_result", "create_at",
            "update_at",
        ]
        read_only_fields = ["last_synced_commit", "last_synced_at", "last_result"]
        validators = []  # uniqueness is checked by the service, as a 409

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
