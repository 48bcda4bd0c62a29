from types import SimpleNamespace

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import JSONField, Prefetch
from django.db.models.expressions import RawSQL
from django.urls import reverse
from rest_framework import serializers

from catalog.validators import validate_model_name, validate_namespace_path
from mlportal.api.base import NumberField, PortalModelSerializer, Timestamp
from registry import services
from registry.api.uploads import StreamedFile
from registry.choices import VersionStatus
from registry.models import Alias, Artifact, ModelTag, ModelVersion, Tag
from registry.validators import (
    validate_alias_name,
    validate_artifact_name,
    validate_link_uri,
    validate_tag_key,
)


def download_path(artifact):
    return reverse("artifact-download", kwargs={
        "version_pk": artifact.version_id, "name": artifact.name})


# What a version's document reads, each in its order within one version: by id (the order
# they were given in), by key. (The deployments app adds where the version is deployed:
# deployments.api.serializers.with_deployments.) Ordering by the version too (the
# models' Meta.ordering) would join the versions' table into every prefetch for nothing, and
# plain lists (to_attr) spare a queryset per version and relation.
DOCUMENT_PREFETCHES = (
    Prefetch("artifacts", queryset=Artifact.objects.order_by("version_id", "id"),
             to_attr="document_artifacts"),
    Prefetch("tags", queryset=Tag.objects.order_by("version_id", "key"),
             to_attr="document_tags"),
    Prefetch("aliases", queryset=Alias.objects.order_by(), to_attr="document_aliases"),
)


def json_array(table, link, build, order=""):
    """SQL: the rows of `table` whose `link` is the version, as a JSON array of `build`."""
    order = f" ORDER BY {order}" if order else ""
    return RawSQL(
        # As text: JSONField parses it (psycopg2 would parse json itself, differently).
        f"SELECT COALESCE(json_agg({build}{order})::text, '[]') FROM {table} "
        f'WHERE {table}.{link} = "registry_modelversion"."id"', (), output_field=JSONField())


def _document_arrays():
    """The annotations of with_documents (PostgreSQL), written in SQL once: the ORM would
    compile the subqueries on every request, which costs more than the queries they save."""
    return {
        "document_artifacts_json": json_array(
            "registry_artifact", "version_id",
            "json_build_object('name', name, 'uri', uri, 'storage_key', storage_key, "
            "'size', size, 'sha256', sha256)", "id"),
        "document_tags_json": json_array(
            "registry_tag", "version_id", "json_build_object('key', key, 'value', value)",
            "key"),
        "document_aliases_json": json_array("registry_alias", "version_id", "name"),
    }


DOCUMENT_ARRAYS = _document_arrays()


def with_documents(queryset):
    """`queryset` of versions with what their documents read besides the version's row.

    On PostgreSQL, in the same query: each relation as a JSON array built by the database
    (one round trip for a version or a page of them, instead of four). Elsewhere with
    DOCUMENT_PREFETCHES (one query per relation).
    """
    if connection.vendor != "postgresql":
        return queryset.prefetch_related(*DOCUMENT_PREFETCHES)
    return queryset.annotate(**DOCUMENT_ARRAYS)


class _ArtifactRow(SimpleNamespace):
    is_stored = Artifact.is_stored


def _from_json(name, values):
    """Rows of the relation `name` from with_documents' arrays, with the attributes the
    document reads (model instances would cost more than the rest of a page's documents)."""
    if name == "artifacts":
        return [_ArtifactRow(**value) for value in values]
    if name == "tags":
        return [SimpleNamespace(**value) for value in values]
    if name == "aliases":
        return [SimpleNamespace(name=value) for value in values]
    return values


def related(version, name, from_json=_from_json):
    """The version's `name` rows (artifacts, tags, aliases; deployments for the deployments
    app, with its own `from_json`): as with_documents fetched them, else from its related
    manager."""
    fields = version.__dict__
    rows = fields.get(f"document_{name}")
    if rows is not None:
        return rows
    values = fields.get(f"document_{name}_json")
    if values is not None:
        return from_json(name, values)
    return getattr(version, name).all()


def forget_documents(version):
    """Drop what with_documents fetched: stale once the version changed."""
    for key in [key for key in version.__dict__ if key.startswith("document_")]:
        del version.__dict__[key]


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
        return artifact_document(artifact)


def artifact_document(artifact):
    document = {"name": artifact.name, "uri": artifact.uri}
    if artifact.is_stored:
        document |= {"size": artifact.size, "sha256": artifact.sha256}
    return document


timestamp = Timestamp().to_representation


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
    model_version = NumberField(
        required=False,
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
    registered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
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
        return sorted(alias.name for alias in related(version, "aliases"))

    def to_representation(self, version):
        """The document, built directly rather than field by field: the same keys in the same
        order, the same values as the declared fields give (tests/registry/
        test_document_stability.py), at a fraction of the cost per version of a list."""
        names = version.__dict__
        if "document_model_name" in names:  # a page's versions (ModelVersionViewSet)
            namespace, model_name = names["document_namespace"], names["document_model_name"]
            registered_by = names["document_registered_by"]
        else:
            model = version.catalog_model
            namespace, model_name = model.namespace.path, model.model_name
            registered_by = (version.registered_by.username
                             if version.registered_by is not None else None)
        return {
            "id": version.pk,
            "namespace": namespace,
            "model_name": model_name,
            "model_version": version.model_version,
            "description": version.description,
            "artifacts": [artifact_document(artifact)
                          for artifact in related(version, "artifacts")],
            "create_at": timestamp(version.create_at),
            "created_by": version.created_by,
            "status": str(version.status),
            "tags": {tag.key: tag.value for tag in related(version, "tags")},
            "aliases": self.get_aliases(version),
            "registered_by": registered_by,
            "update_at": timestamp(version.update_at),
        }

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
        # What was prefetched for the document before the change is stale after it (as
        # DRF's UpdateModelMixin drops the prefetch cache).
        forget_documents(instance)
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
    registered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True)
    sha256 = serializers.CharField(read_only=True, allow_null=True,
                                   help_text="Hex digest (uploads); null for links.")

    class Meta:
        model = Artifact
        fields = ["name", "uri", "file", "size", "sha256", "stored", "download_url",
                  "registered_by", "create_at"]
        read_only_fields = ["size", "create_at"]

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
            if isinstance(upload, StreamedFile):  # stored while the request was read
                return upload.record(name=validated_data["name"], user=user)
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
    model_version = NumberField(source="version.model_version")
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
