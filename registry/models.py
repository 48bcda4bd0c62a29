from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models import CatalogModel
from registry.choices import VersionStatus


class ModelVersion(models.Model):
    """A trained version of a catalog model, numbered 1, 2, 3, ... per model by the server."""

    audited = True
    namespace_lookup = "catalog_model__namespace__path"

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

    class Meta:
        ordering = ["catalog_model", "-model_version"]
        constraints = [
            models.UniqueConstraint(
                fields=["catalog_model", "model_version"], name="registry_version_unique_number"
            )
        ]

    def __str__(self):
        return f"{self.catalog_model} v{self.model_version}"
