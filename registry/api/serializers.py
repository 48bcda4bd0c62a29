from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers

from catalog.validators import validate_model_name, validate_namespace_path
from mlportal.api.base import PortalModelSerializer, Timestamp
from registry import services
from registry.choices import VersionStatus
from registry.models import Alias, Artifact, ModelTag, ModelVersion
from registry.validators import (
    validate_alias_name,
    validate_artifact_name,
    validate_link_uri,
    validate_tag_key,
)


def download_path(artifact):
    return reverse("artifact-download", kwargs={
        "version_pk": artifact.version_id, "name": artifact.name})


class ArtifactLinkSerializer(serializers.Serializer):
    """An artifact inside a version's document: {"name", "uri"}, plus size and sha256 for
    uploads, so that a document posted with links reads back as it was."""

    name = serializers.CharField(max_length=100, validators=[validate_artifact_name])
    uri = serializers.CharField(max_length=2000)

    def validate_uri(self, uri):
        # A registered version's document sent back holds its uploads' URIs too; there the
        # version compares the list with what is stored instead.
        if self.root.instance is None:
            try:
                validate_link_uri(uri)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc
        return uri

    def to_representation(self, artifact):
        document = {"name": artifact.name, "uri": artifact.uri}
        if artifact.is_stored:
            document |= {"size": artifact.size, "sha256": artifact.sha256}
        return document


class TagsField(serializers.DictField):
    """Tags as one object, {"framework": "sklearn"}."""

    child = serializers.CharField(max_length=500, allow_blank=True)

    def to_internal_value(self, data):
        tags = super().to_internal_value(data)
        errors = []
        for key in tags:
            try:
                validate_tag_key(key)
            except DjangoValidationError as exc:
                errors.append(f"{key}: {' '.join(exc.messages)}")
        if errors:
            raise serializers.ValidationError(errors)
        return tags

    def to_representation(self, manager):
        return {tag.key: tag.value for tag in manager.all()}


# Fixed at registration: an update may send them back unchanged, never change them.
IMMUTABLE = ("namespace", "model_name", "model_version", "create_at", "created_by")


# The API serves it with where the version is deployed added
# (deployments.api.serializers.DeployedVersionSerializer): deployments build on the registry,
# never the other way round.
class ModelVersionSerializer(PortalModelSerializer):
    """The user's version document (examples/model_version.json) plus id and server fields."""

    namespace = serializers.CharField(
        source="catalog_model.namespace.path", max_length=255,
        validators=[validate_namespace_path],
    )
    model_name = serializers.CharField(
        source="catalog_model.model_name", max_length=200, validators=[validate_model_name]
    )
    model_version = serializers.IntegerField(
        min_value=1, max_value=2_147_483_647, required=False,
        help_text="Assigned by the server (the next number) unless given.",
    )
    artifacts = ArtifactLinkSerializer(many=True, required=False)
    create_at = Timestamp(required=False)
    created_by = serializers.CharField(
        max_length=255, required=False, allow_blank=True,
        help_text="The principal registering the version, such as an IAM ARN; by default "
        "the authenticated user's name.",
    )
    status = serializers.ChoiceField(choices=VersionStatus.choices, required=False)
    tags = TagsField(required=False)
    aliases = serializers.SerializerMethodField()
    registered_by = serializers.CharField(
        source="registered_by.username", read_only=True, default=None,
        help_text="The portal user who registered it.",
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id", "namespace", "model_name", "model_version", "description", "artifacts",
            "create_at", "created_by", "status", "tags", "aliases", "registered_by",
            "update_at",
        ]

    def get_aliases(self, version) -> list[str]:
        return sorted(alias.name for alias in version.aliases.all())

    def validate(self, attrs):
        if self.instance is None:
            if attrs.get("status", VersionStatus.READY) != VersionStatus.READY:
                raise serializers.ValidationError(
                    {"status": "A version is registered ready; deprecate it afterwards."})
            return attrs
        current = self.to_representation(self.instance)
        given = self.to_representation_of(attrs)
        errors = {
            field: f"The {field} of a registered version cannot change."
            for field in IMMUTABLE if field in given and given[field] != current[field]
        }
        if "artifacts" in attrs:
            stored = {(a["name"], a["uri"]) for a in current["artifacts"]}
            if {(a.get("name"), a.get("uri")) for a in attrs["artifacts"]} != stored:
                errors["artifacts"] = (
                    "Registered artifacts are never replaced or removed; add new ones at "
                    f"/api/v1/versions/{self.instance.pk}/artifacts/."
                )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_representation_of(self, attrs):
        """The immutable fields of `attrs` as they read in a document."""
        model = attrs.get("catalog_model", {})
        given = {"namespace": model.get("namespace", {}).get("path"),
                 "model_name": model.get("model_name"),
                 "model_version": attrs.get("model_version"),
                 "created_by": attrs.get("created_by")}
        if "create_at" in attrs:
            given["create_at"] = Timestamp().to_representation(attrs["create_at"])
        return {field: value for field, value in given.items() if value is not None}

    def create(self, validated_data):
        model = validated_data.pop("catalog_model")
        validated_data.pop("status", None)  # "ready", checked in validate()
        return services.register_version(
            namespace=model["namespace"]["path"], model_name=model["model_name"],
            user=self.context["request"].user, **validated_data,
        )

    def update(self, instance, validated_data):
        return services.update_version(
            version=instance,
            description=validated_data.get("description"),
            status=validated_data.get("status"),
            tags=validated_data.get("tags"),
        )


class ArtifactSerializer(PortalModelSerializer):
    """An artifact of a version: a link ({"name", "uri"}) or, sent as multipart with `file`,
    an upload."""

    name = serializers.CharField(max_length=100, validators=[validate_artifact_name])
    uri = serializers.CharField(
        max_length=2000, required=False, validators=[validate_link_uri],
        help_text="For a link: where the object is (s3, gs, https, hdfs, abfss, wasbs). For "
        "an upload, set by the server: s3://bucket/key on S3, mlportal://artifacts/key on "
        "local storage (served at download_url).",
    )
    file = serializers.FileField(write_only=True, required=False, use_url=False)
    stored = serializers.BooleanField(source="is_stored", read_only=True)
    download_url = serializers.SerializerMethodField()
    registered_by = serializers.CharField(
        source="registered_by.username", read_only=True, default=None)

    class Meta:
        model = Artifact
        fields = ["name", "uri", "file", "size", "sha256", "stored", "download_url",
                  "registered_by", "create_at"]
        read_only_fields = ["size", "sha256", "create_at"]

    def to_representation(self, artifact):
        document = super().to_representation(artifact)
        document["sha256"] = document["sha256"] or None  # null for links, like size
        return document

    def get_download_url(self, artifact) -> str | None:
        if not artifact.is_stored:
            return None
        return self.context["request"].build_absolute_uri(download_path(artifact))

    def validate(self, attrs):
        if ("file" in attrs) == ("uri" in attrs):
            raise serializers.ValidationError({"file": (
                "Send either a file (multipart upload) or a uri (a link), not both or neither."
            )})
        return attrs

    def create(self, validated_data):
        version = self.context["version"]
        user = self.context["request"].user
        if "file" in validated_data:
            upload = validated_data["file"]
            return services.upload_artifact(
                version=version, name=validated_data["name"], file=upload,
                filename=upload.name, user=user,
            )
        return services.link_artifact(
            version=version, name=validated_data["name"], uri=validated_data["uri"], user=user
        )


class AliasSerializer(PortalModelSerializer):
    """An alias of a model, set by natural key: setting one that exists moves it."""

    namespace = serializers.CharField(
        source="catalog_model.namespace.path", max_length=255,
        validators=[validate_namespace_path],
    )
    model_name = serializers.CharField(
        source="catalog_model.model_name", max_length=200, validators=[validate_model_name]
    )
    alias = serializers.CharField(source="name", max_length=50, validators=[validate_alias_name])
    model_version = serializers.IntegerField(source="version.model_version", min_value=1)
    version = serializers.IntegerField(source="version_id", read_only=True,
                                       help_text="The id of the version it points at.")

    class Meta:
        model = Alias
        fields = ["id", "namespace", "model_name", "alias", "model_version", "version",
                  "create_at", "update_at"]


class ModelTagSerializer(PortalModelSerializer):
    """A tag of a catalog model as a whole (MLflow's registered-model tags), by natural key;
    once set, only its value changes."""

    namespace = serializers.CharField(
        source="catalog_model.namespace.path", max_length=255,
        validators=[validate_namespace_path],
    )
    model_name = serializers.CharField(
        source="catalog_model.model_name", max_length=200, validators=[validate_model_name]
    )
    key = serializers.CharField(max_length=100, validators=[validate_tag_key])
    value = serializers.CharField(max_length=500, allow_blank=True, required=False, default="")

    class Meta:
        model = ModelTag
        fields = ["id", "namespace", "model_name", "key", "value"]

    def validate(self, attrs):
        if self.instance is not None:
            named = attrs.get("catalog_model", {})
            kept = {
                "namespace": named.get("namespace", {}).get(
                    "path", self.instance.catalog_model.namespace.path),
                "model_name": named.get("model_name", self.instance.catalog_model.model_name),
                "key": attrs.get("key", self.instance.key),
            }
            stored = {"namespace": self.instance.catalog_model.namespace.path,
                      "model_name": self.instance.catalog_model.model_name,
                      "key": self.instance.key}
            changed = sorted(field for field in kept if kept[field] != stored[field])
            if changed:
                raise serializers.ValidationError({field: [
                    "A tag keeps its model and key; set a new tag instead."] for field in changed})
        return attrs

    def create(self, validated_data):
        named = validated_data["catalog_model"]
        catalog_model = services.find_catalog_model(named["namespace"]["path"],
                                                    named["model_name"])
        if ModelTag.objects.filter(catalog_model=catalog_model,
                                   key=validated_data["key"]).exists():
            raise DjangoValidationError({"key": DjangoValidationError(
                f"{catalog_model} has a tag {validated_data['key']} already; change its value.",
                code="unique")})
        return services.set_model_tag(catalog_model=catalog_model, key=validated_data["key"],
                                      value=validated_data.get("value", ""))

    def update(self, instance, validated_data):
        return services.set_model_tag(catalog_model=instance.catalog_model, key=instance.key,
                                      value=validated_data.get("value", instance.value))
