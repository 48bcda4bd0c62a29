import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import CatalogModel
from registry.choices import VersionStatus
from registry.validators import (
    validate_alias_name,
    validate_artifact_name,
    validate_link_uri,
    validate_tag_key,
)

VERSION_NUMBER = re.compile(r"^v?(\d{1,9})$", re.IGNORECASE)


class ModelVersionQuerySet(models.QuerySet):
    def matching(self, text):
        """The versions a person means by `text`, each word narrowing: a number (`2`, `v2`)
        is the version number itself (never a digit inside an ARN or a description); a path
        (`/abc_corp/claim/doc_classification`, or a namespace) names the model or its
        namespace; `model@alias` or a bare word names a model, a namespace, an alias or a
        tag. So `doc_classification v2`, `/abc_corp/claim/doc_classification v2` (the labels
        the admin shows), `champion` and `fraud_scoring@champion` all find what they say."""
        queryset = self
        for word in text.split():
            queryset = queryset.filter(self._word(word))
        return queryset

    @staticmethod
    def _word(word):
        number = VERSION_NUMBER.match(word)
        if number:
            return Q(model_version=int(number.group(1)))
        if "@" in word:
            model_name, _, alias = word.partition("@")
            condition = Q(pk__in=Alias.objects.filter(name__iexact=alias).values("version"))
            return condition & (Q(catalog_model__model_name__iexact=model_name)
                                if model_name else Q())
        if word.startswith("/"):
            namespace, _, model_name = word.rstrip("/").rpartition("/")
            return (Q(catalog_model__namespace__path__iexact=namespace,
                      catalog_model__model_name__istartswith=model_name)
                    | Q(catalog_model__namespace__path__istartswith=word.rstrip("/")))
        return (Q(catalog_model__model_name__icontains=word)
                | Q(catalog_model__namespace__path__icontains=word)
                | Q(pk__in=Alias.objects.filter(name__iexact=word).values("version"))
                | Q(pk__in=Tag.objects.filter(Q(key__iexact=word) | Q(value__iexact=word))
                    .values("version")))


def version_label(model_name, number):
    return f"{model_name} v{number}"


class ModelVersion(models.Model):
    """A trained version of a catalog model, numbered 1, 2, 3, ... per model by the server.

    Never deleted (nothing references it through CASCADE, and no page or endpoint deletes
    it): a version that should no longer be used is marked deprecated.
    """

    audited = True
    namespace_lookup = "catalog_model__namespace__path"
    audit_parent = "catalog_model"

    catalog_model = models.ForeignKey(
        CatalogModel, on_delete=models.PROTECT, related_name="versions"
    )
    model_version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=VersionStatus.choices, default=VersionStatus.READY
    )
    created_by = models.CharField(
        max_length=255, blank=True,
        help_text="The principal the client names, such as an IAM ARN; else the user.",
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    create_at = models.DateTimeField(default=timezone.now)
    update_at = models.DateTimeField(auto_now=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["catalog_model", "-model_version"]
        constraints = [
            models.UniqueConstraint(
                fields=["catalog_model", "model_version"], name="registry_version_unique_number"
            )
        ]

    def __str__(self):
        return f"{self.catalog_model} v{self.model_version}"

    def get_absolute_url(self):
        """The version on its model's page (the admin's "view on site")."""
        return f"{self.catalog_model.get_absolute_url()}#version-{self.model_version}"

    @property
    def label(self):
        """How people name a version: the model's name and the number (`fraud_scoring v2`)."""
        return version_label(self.catalog_model.model_name, self.model_version)

    def alias_names(self):
        return sorted(alias.name for alias in self.aliases.all())

    def deprecation_state(self, deprecated=None):
        """"deprecated" or "being deprecated" when (about to be) deprecated, else None."""
        if deprecated is None:
            deprecated = self.status == VersionStatus.DEPRECATED
        if not deprecated:
            return None
        return "deprecated" if self.status == VersionStatus.DEPRECATED else "being deprecated"

    def in_use_warnings(self, *, deprecated=None, aliases=None, label=None):
        """Why deprecating this version is risky, as far as the registry knows, one sentence
        each: the aliases that still name it (`aliases`, their names, and `label`, when the
        caller has them). Empty when nothing does, or when it is not (to be) deprecated
        (`deprecated`, default: its status). deployments.models adds the endpoints it still
        serves (deprecation_warnings)."""
        state = self.deprecation_state(deprecated)
        if state is None:
            return []
        label = label or self.label
        return [f"{label} is {state} but the alias {name} still points at it."
                for name in (sorted(aliases) if aliases is not None else self.alias_names())]

    def audit_data(self):
        return {
            "model": str(self.catalog_model),
            "model_version": self.model_version,
            "description": self.description,
            "status": self.status,
            "created_by": self.created_by,
            "registered_by": self.registered_by.get_username() if self.registered_by else None,
            "create_at": self.create_at,
        }


class Artifact(models.Model):
    """A file of a version: uploaded through the portal (size and sha256 known, stored under
    `storage_key` in the artifact storage) or linked to an object that exists elsewhere.

    Never replaced or removed: the name is unique per version and no page or endpoint
    changes or deletes an artifact.
    """

    audited = True
    namespace_lookup = "version__catalog_model__namespace__path"
    audit_parent = "version__catalog_model"

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="artifacts")
    name = models.CharField(max_length=100, validators=[validate_artifact_name])
    uri = models.CharField(max_length=2000)
    storage_key = models.CharField(
        max_length=1024, blank=True, editable=False,
        help_text="Key in the portal's artifact storage; empty for a link.",
    )
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes (uploads).")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Hex digest (uploads).")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    create_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version", "id"]  # the order they were given in
        constraints = [
            models.UniqueConstraint(
                fields=["version", "name"], name="registry_artifact_unique_name"
            )
        ]

    def __str__(self):
        return f"{self.version} {self.name}"

    @property
    def is_stored(self):
        """Uploaded through the portal (as opposed to linked)."""
        return bool(self.storage_key)

    def clean(self):
        if not self.is_stored:
            try:
                validate_link_uri(self.uri)
            except ValidationError as exc:
                raise ValidationError({"uri": exc.messages}) from exc

    def audit_data(self):
        return {
            "version": str(self.version),
            "name": self.name,
            "uri": self.uri,
            "size": self.size,
            "sha256": self.sha256,
            "create_at": self.create_at,
        }


class ArtifactUpload(models.Model):
    """An upload under way: holds the artifact's name for one uploader while its file
    streams, so that a concurrent upload (or link) under that name is refused before it
    touches the store. Removed once the artifact is recorded or the upload fails; one older
    than registry.services.UPLOAD_ABANDONED_AFTER was abandoned (its process died) and a new
    upload takes the name over.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    start_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "name"],
                                    name="registry_artifact_upload_unique_name")
        ]

    def __str__(self):
        return f"upload of {self.name} to {self.version_id} since {self.start_at}"


class Alias(models.Model):
    """A name such as `champion` that points at one version of a model at a time."""

    audited = True
    namespace_lookup = "catalog_model__namespace__path"
    audit_parent = "catalog_model"

    catalog_model = models.ForeignKey(
        CatalogModel, on_delete=models.PROTECT, related_name="aliases"
    )
    name = models.CharField(max_length=50, validators=[validate_alias_name])
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["catalog_model", "name"]
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(fields=["catalog_model", "name"], name="registry_alias_unique")
        ]

    def __str__(self):
        return f"{self.catalog_model}@{self.name}"

    def clean(self):
        if self.version_id and self.catalog_model_id and (
            self.version.catalog_model_id != self.catalog_model_id
        ):
            raise ValidationError({"version": "The version is not a version of this model."})

    def audit_data(self):
        return {
            "model": str(self.catalog_model),
            "name": self.name,
            "model_version": self.version.model_version,
        }


class Tag(models.Model):
    """A key/value label on a version, such as framework=sklearn."""

    audited = True
    namespace_lookup = "version__catalog_model__namespace__path"
    audit_parent = "version__catalog_model"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=100, validators=[validate_tag_key])
    value = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["version", "key"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="registry_tag_unique_key")
        ]
        # MLflow's search filters versions by tag (tags.key = 'value'): registry.mlflow; and
        # ?tag=key=value across models.
        indexes = [models.Index(fields=["key", "value"], name="registry_tag_key_value")]

    def __str__(self):
        return f"{self.key}={self.value}"

    def audit_data(self):
        return {"version": str(self.version), "key": self.key, "value": self.value}


class ModelTag(models.Model):
    """A key/value label on a catalog model as a whole (MLflow's registered-model tags), such
    as team=claims; a version's labels are its Tags."""

    audited = True
    namespace_lookup = "catalog_model__namespace__path"
    audit_parent = "catalog_model"

    catalog_model = models.ForeignKey(
        CatalogModel, on_delete=models.CASCADE, related_name="model_tags"
    )
    key = models.CharField(max_length=100, validators=[validate_tag_key])
    value = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["catalog_model", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["catalog_model", "key"], name="registry_model_tag_unique_key"
            )
        ]
        indexes = [models.Index(fields=["key", "value"], name="registry_model_tag_key_value")]

    def __str__(self):
        return f"{self.key}={self.value}"

    def audit_data(self):
        return {"model": str(self.catalog_model), "key": self.key, "value": self.value}


class VersionCounter(models.Model):
    """The highest version number handed out for a catalog model: registering takes the next
    one with a single upsert (registry.services.next_version_number), whose row lock queues
    concurrent registrations of that model, instead of locking the catalog model and reading
    the highest number of its versions."""

    catalog_model = models.OneToOneField(
        CatalogModel, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_number = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.catalog_model_id}: {self.last_number}"
