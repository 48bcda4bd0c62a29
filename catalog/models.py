import hashlib
import hmac

import markdown
import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, CharField, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Concat, Replace, Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from catalog.validators import (
    validate_connection,
    validate_http_url,
    validate_json_schema,
    validate_model_name,
    validate_namespace_path,
    validate_ref,
    validate_repository,
    validate_subdirectory,
)
from mlportal.fields import EncryptedJSONField, EncryptedTextField
from mlportal.secrets import mask

# What a catalog model's MLflow name is made of.
MLFLOW_NAME_PARTS = frozenset({"namespace", "namespace_id", "model_name"})


def mlflow_name(namespace_path, model_name):
    """A catalog model's name in MLflow's registry API (registry.mlflow.names):
    `abc_corp.claim.doc_classification` for the model doc_classification in /abc_corp/claim,
    the model name alone in the namespace settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE."""
    if namespace_path == settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE:
        return model_name
    return f"{namespace_path[1:].replace('/', '.')}.{model_name}"


def refresh_mlflow_names(queryset):
    """Store the MLflow name of each catalog model of `queryset` whose stored one is out of
    date (its namespace's path, or the default namespace setting, changed), in one UPDATE; the
    number of rows changed. Takes the migrations' historical models too."""
    namespaces = queryset.model._meta.get_field("namespace").related_model
    path = Subquery(namespaces._base_manager.filter(pk=OuterRef("namespace_id"))
                    .values("path")[:1])
    expected = Concat(Replace(Substr(path, 2), Value("/"), Value(".")), Value("."),
                      F("model_name"), output_field=CharField())
    default = namespaces._base_manager.filter(
        path=settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE).values_list("pk", flat=True).first()
    if default is not None:
        expected = Case(When(namespace_id=default, then=F("model_name")), default=expected,
                        output_field=CharField())
    return queryset.exclude(mlflow_name=expected).update(mlflow_name=expected)


class MlflowNameField(models.CharField):
    """The row's MLflow name, stored so that an index orders and filters MLflow's searches by
    it; written from the namespace and model_name whenever the row is (save, bulk_create, a
    COPY through pre_save). Writes that bypass pre_save refresh it: CatalogModelQuerySet,
    Namespace.save, and migrate for a changed default namespace (CatalogConfig)."""

    def pre_save(self, model_instance, add):
        if model_instance.namespace_id is None:  # the database refuses the row anyway
            return super().pre_save(model_instance, add)
        value = mlflow_name(model_instance.namespace.path, model_instance.model_name)
        setattr(model_instance, self.attname, value)
        return value


class NamespaceQuerySet(models.QuerySet):
    def update(self, **kwargs):
        with transaction.atomic(using=self.db):
            count = super().update(**kwargs)
            if "path" in kwargs:
                refresh_mlflow_names(CatalogModel._base_manager.using(self.db))
        return count


class CatalogModelQuerySet(models.QuerySet):
    """Bulk writes of a name's parts keep the stored MLflow name in step."""

    def update(self, **kwargs):
        with transaction.atomic(using=self.db):
            count = super().update(**kwargs)
            if not MLFLOW_NAME_PARTS.isdisjoint(kwargs):
                refresh_mlflow_names(self.model._base_manager.using(self.db))
        return count

    def bulk_update(self, objs, fields, batch_size=None):
        if not MLFLOW_NAME_PARTS.isdisjoint(fields):
            objs = list(objs)
            for obj in objs:
                obj.mlflow_name = mlflow_name(obj.namespace.path, obj.model_name)
            fields = [*fields, "mlflow_name"]
        return super().bulk_update(objs, fields, batch_size=batch_size)


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

    objects = NamespaceQuerySet.as_manager()

    class Meta:
        ordering = ["path"]

    def __str__(self):
        return self.path

    def save(self, *args, **kwargs):
        adding = self._state.adding
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if not adding:  # a new path renames the models in it, for MLflow
                refresh_mlflow_names(CatalogModel._base_manager.filter(namespace=self))

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
    # Changing one needs a grant on every namespace whose models it feeds (mlportal.access).
    shared_namespaces_lookup = "models__namespace__path"

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
        try:
            validate_connection(self.connection)
        except ValidationError as exc:
            raise ValidationError({"connection": exc.messages}) from exc

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
    audit_parent = ""  # the history of a catalog model is its own

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
    # Where the model's card is kept in Git (set by sync_catalog only; see catalog.services).
    git_repository = models.CharField("Git repository", max_length=500, blank=True,
                                      editable=False)
    git_path = models.CharField("file in Git", max_length=1000, blank=True, editable=False)
    git_commit = models.CharField(
        "commit", max_length=64, blank=True, editable=False,
        help_text="The commit whose version of the card was last applied.",
    )
    in_git = models.BooleanField(
        "in Git", default=False, editable=False, db_index=True,
        help_text="Off for a model whose card was removed from Git (or that never had one).",
    )
    git_managed_fields = models.JSONField(
        default=list, blank=True, editable=False,
        help_text="Document fields the card sets; read-only in the portal while in Git.",
    )
    model_card = models.TextField(
        blank=True, editable=False, help_text="The card's Markdown body, from Git.")
    mlflow_name = MlflowNameField(
        "MLflow name", max_length=455, editable=False, default="",
        help_text="The name MLflow's client knows the model by (registry.mlflow.names).")
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    objects = CatalogModelQuerySet.as_manager()

    class Meta:
        ordering = ["namespace__path", "model_name"]
        verbose_name = "catalog model"
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "model_name"], name="catalog_model_unique_name"
            )
        ]
        indexes = [
            # MLflow's searches in their default order (by name, then id), and name = ...
            models.Index(fields=["mlflow_name", "id"], name="catalog_model_mlflow_name"),
        ]

    def __str__(self):
        return f"{self.namespace.path}/{self.model_name}"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not MLFLOW_NAME_PARTS.isdisjoint(update_fields):
            kwargs["update_fields"] = {*update_fields, "mlflow_name"}
        super().save(*args, **kwargs)

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
            "source": self.git_source,
            "model_card": self.model_card,
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

    @property
    def git_source(self):
        """Where the card is in Git: {repository, path, commit, in_git}; None if never from Git."""
        if not self.git_repository:
            return None
        return {"repository": self.git_repository, "path": self.git_path,
                "commit": self.git_commit, "in_git": self.in_git}

    @property
    def git_status(self):
        if not self.git_repository:
            return ""
        return "in Git" if self.in_git else "no longer in Git"

    def model_card_html(self):
        """The model card as HTML, sanitized (no scripts, styles or javascript: links)."""
        html = markdown.markdown(self.model_card, extensions=["extra", "sane_lists"])
        return mark_safe(nh3.clean(html))  # safe: nh3 has just sanitized it

    def managed_in_git(self, field):
        """Is document `field` ("owner", "inference.input.schema", ...) set by a card in Git?"""
        return self.in_git and field in self.git_managed_fields

    def document_changes(self, *, namespace=None, data_sources=None, inference=None, **fields):
        """Names of the document fields that saving these parts (as save_catalog_model takes
        them) would change; inference parts are named "inference.input.schema"."""
        changed = []
        if namespace is not None and namespace != self.namespace.path:
            changed.append("namespace")
        changed += [name for name, value in fields.items() if getattr(self, name) != value]
        if data_sources is not None:
            linked = sorted(source.name for source in self.data_sources.all())
            if sorted(document["name"] for document in data_sources) != linked:
                changed.append("data_sources")
        for direction, part in (inference or {}).items():
            changed += [
                f"inference.{direction}.{key}" for key, value in part.items()
                if getattr(self, f"inference_{direction}_{key}") != value
            ]
        return changed

    def refuse_changes_managed_in_git(self, changed):
        """Raise a ValidationError for the `changed` document fields a card in Git sets."""
        errors = {}
        for field in changed:
            if self.managed_in_git(field):
                errors.setdefault(field.split(".")[0], []).append(ValidationError(
                    f"{field} is managed in Git: change it in {self.git_path} "
                    f"({self.git_repository}).", code="managed_in_git"))
        if errors:
            raise ValidationError(errors)


class CatalogSource(models.Model):
    """A Git repository (at a ref, in a subdirectory) whose catalog documents are loaded
    into the catalog by sync_catalog, on demand or on a push webhook."""

    audited = True

    repository = models.CharField(
        max_length=500, validators=[validate_repository],
        help_text="URL git can fetch (https://, ssh://, git@host:org/repo.git) or a path on "
        "the server. No credentials in it.",
    )
    ref = models.CharField(
        max_length=200, default="HEAD", validators=[validate_ref],
        help_text="Branch, tag or commit to read; HEAD is the default branch.",
    )
    subdirectory = models.CharField(
        max_length=500, blank=True, validators=[validate_subdirectory],
        help_text="Folder of the catalog documents; empty for the whole repository.",
    )
    webhook_secret = EncryptedTextField(
        blank=True, help_text="Shared secret of the push webhook (HMAC-SHA256). Never shown.")
    last_synced_commit = models.CharField(max_length=64, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_result = models.JSONField(default=dict, blank=True, editable=False)
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["repository", "ref", "subdirectory"]
        verbose_name = "catalog source"
        constraints = [
            models.UniqueConstraint(fields=["repository", "ref", "subdirectory"],
                                    name="catalog_source_unique")
        ]

    def __str__(self):
        where = f":{self.subdirectory}" if self.subdirectory else ""
        return f"{self.repository}@{self.ref}{where}"

    def clean(self):
        self.subdirectory = self.subdirectory.strip("/")

    def signature_matches(self, body, signature):
        """Does `signature` ("sha256=<hex>", GitHub's X-Hub-Signature-256) sign `body` (bytes)
        with this source's webhook secret? Compared in constant time."""
        if not self.webhook_secret or not signature:
            return False
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"sha256={digest}".encode(), signature.encode())

    def follows(self, pushed_ref, default_branch=None):
        """Does a push to `pushed_ref` (such as refs/heads/main) change what this source reads?
        HEAD follows the repository's default branch; a commit id follows nothing."""
        ref = default_branch if self.ref == "HEAD" else self.ref
        if not ref or not pushed_ref:
            return True
        return pushed_ref in {ref, f"refs/heads/{ref}", f"refs/tags/{ref}"}

    def audit_data(self):
        # Sync bookkeeping (last_*) is left out: each sync's changes are recorded on the models.
        return {
            "repository": self.repository,
            "ref": self.ref,
            "subdirectory": self.subdirectory,
            "webhook_secret": mask({"secret": self.webhook_secret})["secret"],
        }


class SyncStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class CatalogSync(models.Model):
    """One sync of a catalog source, run by a worker (catalog.tasks): asked for by the push
    webhook, the API or the admin; queued, then running, then succeeded or failed. Two syncs
    of one source never run at once (the constraint below)."""

    source = models.ForeignKey(CatalogSource, on_delete=models.CASCADE, related_name="syncs")
    status = models.CharField(max_length=10, choices=SyncStatus.choices,
                              default=SyncStatus.QUEUED, db_index=True)
    trigger = models.CharField(max_length=20, blank=True,
                               help_text="What asked for it: webhook, api or admin.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+")
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        verbose_name = "catalog sync"
        constraints = [
            models.UniqueConstraint(
                fields=["source"], condition=models.Q(status="running"),
                name="catalog_sync_one_running_per_source",
                violation_error_message="A sync of this source is running already."),
        ]

    def __str__(self):
        return f"sync {self.pk} of {self.source}: {self.status}"


class PushDelivery(models.Model):
    """A signed push webhook delivery that a catalog source took. The signature covers the
    body only, so a replay is recognised by its body (and by its delivery id, when the
    sender gives one): each is taken once."""

    source = models.ForeignKey(CatalogSource, on_delete=models.CASCADE,
                               related_name="push_deliveries")
    body_sha256 = models.CharField(max_length=64)
    delivery_id = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "push deliveries"
        constraints = [
            models.UniqueConstraint(fields=["source", "body_sha256"],
                                    name="push_delivery_body_once"),
            models.UniqueConstraint(fields=["source", "delivery_id"],
                                    condition=~models.Q(delivery_id=""),
                                    name="push_delivery_id_once"),
        ]

    def __str__(self):
        return f"{self.source} {self.delivery_id or self.body_sha256[:12]}"


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
