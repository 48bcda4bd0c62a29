from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from catalog.validators import (
    validate_http_url,
    validate_json_schema,
    validate_model_name,
    validate_namespace_path,
)
from mlportal.fields import EncryptedJSONField
from mlportal.secrets import mask


class Namespace(models.Model):
    """A path such as /abc_corp/claim. Namespaces nest: /abc_corp contains /abc_corp/claim."""

    audited = True
    namespace_lookup = "path"

    path = models.CharField(max_length=255, unique=True, validators=[validate_namespace_path])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        editable=False,
    )
    description = models.TextField(blank=True)
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]

    def __str__(self):
        return self.path

    @property
    def parent_path(self):
        head, _, _ = self.path.rpartition("/")
        return head or None

    def ancestor_paths(self):
        """/a/b/c -> ["/a", "/a/b"]."""
        segments = self.path.strip("/").split("/")
        return ["/" + "/".join(segments[:i]) for i in range(1, len(segments))]


class DataSource(models.Model):
    """A source of data, shared between the models it feeds."""

    audited = True

    name = models.CharField(max_length=200, unique=True)
    type = models.CharField(
        max_length=50, blank=True, help_text="snowflake, s3, postgres, bigquery, kafka, ..."
    )
    description = models.TextField(blank=True)
    owner = models.EmailField(blank=True)
    connection = EncryptedJSONField(
        default=dict, blank=True,
        help_text="How to reach it (JSON). Encrypted at rest; values under secret-looking keys "
        "(password, token, key, ...) are never shown.",
    )
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("pages:data-source", args=[self.name])

    def clean(self):
        if not isinstance(self.connection, dict):
            raise ValidationError({"connection": "The connection is a JSON object."})

    def audit_data(self):
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "owner": self.owner,
            "connection": mask(self.connection),
        }


class CatalogModel(models.Model):
    """A model the organisation has: who owns it, what feeds it, what it takes and returns."""

    audited = True
    namespace_lookup = "namespace__path"

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="models")
    model_name = models.CharField(max_length=200, validators=[validate_model_name])
    description = models.TextField(blank=True)
    owner = models.EmailField(blank=True)
    url = models.CharField(max_length=2000, blank=True, validators=[validate_http_url])
    data_sources = models.ManyToManyField(
        DataSource, through="ModelDataSource", related_name="models", blank=True
    )
    inference_input_description = models.TextField(blank=True)
    inference_input_schema = models.JSONField(
        default=dict, blank=True, validators=[validate_json_schema]
    )
    inference_output_description = models.TextField(blank=True)
    inference_output_schema = models.JSONField(
        default=dict, blank=True, validators=[validate_json_schema]
    )
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__path", "model_name"]
        verbose_name = "catalog model"
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "model_name"], name="catalog_model_unique_name"
            )
        ]

    def __str__(self):
        return f"{self.namespace.path}/{self.model_name}"

    def get_absolute_url(self):
        # The natural key: /models/abc_corp/claim/doc_classification/
        return reverse("pages:model", args=[f"{self.namespace.path[1:]}/{self.model_name}"])

    def audit_data(self):
        return {
            "namespace": self.namespace.path,
            "model_name": self.model_name,
            "description": self.description,
            "owner": self.owner,
            "url": self.url,
            "data_sources": sorted(source.name for source in self.data_sources.all())
            if self.pk
            else [],
            "inference": self.inference,
        }

    @property
    def inference(self):
        return {
            "input": {
                "description": self.inference_input_description,
                "schema": self.inference_input_schema,
            },
            "output": {
                "description": self.inference_output_description,
                "schema": self.inference_output_schema,
            },
        }


class ModelDataSource(models.Model):
    """Link of a model to a data source; a data source in use cannot be deleted."""

    catalog_model = models.ForeignKey(CatalogModel, on_delete=models.CASCADE)
    data_source = models.ForeignKey(DataSource, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["catalog_model", "data_source"], name="catalog_model_data_source_unique"
            )
        ]
        verbose_name = "data source of a model"

    def __str__(self):
        return f"{self.catalog_model} uses {self.data_source}"
