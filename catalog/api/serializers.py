from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework import serializers

from catalog import services
from catalog.documents import ConnectionField
from catalog.models import CatalogSource, CatalogSync, DataSource, Namespace
from catalog.validators import validate_namespace_path
from mlportal.api.base import PortalModelSerializer
from mlportal.choices import Role
from mlportal.models import Grant


class NamespaceSerializer(PortalModelSerializer):
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


class DataSourceSerializer(PortalModelSerializer):
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


class CatalogSourceSerializer(PortalModelSerializer):
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


class GrantSerializer(PortalModelSerializer):
    """{"namespace": "/team_a", "user": "alice", "role": "editor"} (or "group" for "user")."""

    namespace = serializers.CharField(
        source="namespace.path", max_length=255, validators=[validate_namespace_path]
    )
    user = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), required=False,
        allow_null=True,
    )
    group = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True
    )
    role = serializers.ChoiceField(choices=Role.choices, required=False, default=Role.EDITOR)

    class Meta:
        model = Grant
        fields = ["id", "namespace", "user", "group", "role", "create_at", "update_at"]

    def validate(self, attrs):
        user = attrs.get("user", self.instance.user if self.instance else None)
        group = attrs.get("group", self.instance.group if self.instance else None)
        if (user is None) == (group is None):
            raise serializers.ValidationError(
                {"user": ["Grant to a user or to a group: give exactly one of \"user\" and "
                          "\"group\"."]}
            )
        return attrs

    def _save(self, instance, validated_data):
        namespace = validated_data.pop("namespace", {}).get("path")
        return services.save_grant(instance=instance, namespace=namespace, **validated_data)

    def create(self, validated_data):
        return self._save(None, validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class CatalogSyncSerializer(PortalModelSerializer):
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
