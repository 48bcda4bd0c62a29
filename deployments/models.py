from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from catalog.models import CatalogModel, Namespace
from catalog.validators import validate_http_url
from deployments.choices import DeploymentMethod, DeploymentStatus, RollingStrategy
from deployments.validators import TRAFFIC_PERCENT_VALIDATORS, validate_variable_name
from mlportal.fields import EncryptedTextField
from mlportal.secrets import MASK, is_secret_key, mask_text
from registry.models import ModelVersion

# What runs now: it started and has not stopped.
ACTIVE = Q(active_from__isnull=False, active_until__isnull=True)


class DeploymentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(ACTIVE)

    def active_at(self, moment):
        """What ran at `moment`: active from then or before, and not stopped by then."""
        return self.filter(active_from__lte=moment).filter(
            Q(active_until__isnull=True) | Q(active_until__gt=moment)
        )


class Endpoint(models.Model):
    """An endpoint belongs to the namespace that first recorded a deployment at it: acting
    there (recording, promoting, rolling back, retiring) needs the editor role on that
    namespace too, besides the deployment's own (deployments.services)."""

    audited = True
    namespace_lookup = "namespace__path"

    url = models.CharField(max_length=2000, unique=True, validators=[validate_http_url])
    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="endpoints",
                                  help_text="The team whose endpoint it is.")
    create_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]

    def __str__(self):
        return self.url

    def audit_data(self):
        return {"url": self.url, "namespace": self.namespace.path}


class Deployment(models.Model):
    """A version of a model running at an endpoint: recorded once, then only its status,
    traffic share, environment and variables change (through deployments.services).

    `active_from` and `active_until` bound the time it served its endpoint, so that "what
    served this endpoint at that time" is one indexed query.
    """

    audited = True
    namespace_lookup = "catalog_model__namespace__path"
    audit_parent = "catalog_model"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    # The version's model, kept here so that deployment_id is unique per model.
    catalog_model = models.ForeignKey(
        CatalogModel, on_delete=models.PROTECT, related_name="deployments", editable=False
    )
    deployment_id = models.PositiveIntegerField(
        blank=True, help_text="1, 2, 3, ... per model; assigned when left empty."
    )
    create_at = models.DateTimeField(default=timezone.now, db_index=True)
    update_at = models.DateTimeField(auto_now=True)
    endpoint = models.CharField(max_length=2000, validators=[validate_http_url])
    environment = models.CharField(
        max_length=50, blank=True, help_text="Such as dev, staging, prod."
    )
    deployment_method = models.CharField(max_length=20, choices=DeploymentMethod.choices)
    rolling_strategy = models.CharField(max_length=20, choices=RollingStrategy.choices)
    traffic_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=TRAFFIC_PERCENT_VALIDATORS,
        help_text="A canary's share of the endpoint's traffic (1..100); empty otherwise.",
    )
    status = models.CharField(
        max_length=20, choices=DeploymentStatus.choices, default=DeploymentStatus.ACTIVE,
        editable=False,
    )
    active_from = models.DateTimeField(null=True, blank=True, editable=False)
    active_until = models.DateTimeField(null=True, blank=True, editable=False)
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced",
        editable=False, help_text="The deployment whose activation (or rollback) ended this one.",
    )

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-create_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["catalog_model", "deployment_id"], name="deployment_unique_id_per_model"
            ),
            # Blue-green and rolling deployments replace what ran before them, so at most one
            # of them serves an endpoint at a time (canaries run beside it).
            models.UniqueConstraint(
                fields=["endpoint"],
                condition=ACTIVE & ~Q(rolling_strategy=RollingStrategy.CANARY),
                name="deployment_one_full_rollout_per_endpoint",
            ),
            models.CheckConstraint(
                condition=Q(active_until__isnull=True) | Q(active_from__isnull=False),
                name="deployment_stops_after_it_starts",
            ),
        ]
        indexes = [
            # ?endpoint=...&active_at=...: a range scan over one endpoint's history.
            models.Index(fields=["endpoint", "active_from"], name="deployment_endpoint_time"),
            # ?active=true, and the deployments an activation retires.
            models.Index(fields=["endpoint"], condition=ACTIVE, name="deployment_active"),
        ]

    def __str__(self):
        model = self.catalog_model if self.catalog_model_id else "?"
        return f"{model} deployment {self.deployment_id or '(new)'}"

    def save(self, *args, **kwargs):
        self.catalog_model_id = self.model_version.catalog_model_id
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        """Its endpoint's page: what served it, when (the admin's "view on site")."""
        return reverse("pages:endpoint") + "?" + urlencode({"url": self.endpoint})

    def clean(self):
        if self.model_version_id is not None:
            self.catalog_model_id = self.model_version.catalog_model_id
        errors = {}
        if self.rolling_strategy == RollingStrategy.CANARY and self.traffic_percent is None:
            errors["traffic_percent"] = "A canary deployment names its traffic percent (1..100)."
        if self.rolling_strategy != RollingStrategy.CANARY and self.traffic_percent is not None:
            errors["traffic_percent"] = (
                "Only a canary deployment has a traffic percent: a "
                f"{self.get_rolling_strategy_display()} deployment takes all the traffic."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def is_active(self):
        return self.active_from is not None and self.active_until is None

    def audit_data(self):
        return {
            "namespace": self.catalog_model.namespace.path,
            "model_name": self.catalog_model.model_name,
            "model_version": self.model_version.model_version,
            "deployment_id": self.deployment_id,
            "create_at": self.create_at,
            "endpoint": self.endpoint,
            "environment": self.environment,
            "deployment_method": self.deployment_method,
            "rolling_strategy": self.rolling_strategy,
            "traffic_percent": self.traffic_percent,
            "status": self.status,
            "active_from": self.active_from,
            "active_until": self.active_until,
            "replaced_by": self.replaced_by_id,
        }


class EnvironmentVariable(models.Model):
    """A variable a deployment runs with. Values are encrypted at rest; secret ones are never
    shown. A name that looks like a credential (PASSWORD, TOKEN, ..._KEY) is always secret."""

    audited = True
    namespace_lookup = "deployment__catalog_model__namespace__path"
    audit_parent = "deployment__catalog_model"

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="environment_variables"
    )
    name = models.CharField(max_length=255, validators=[validate_variable_name])
    value = EncryptedTextField(blank=True)
    secret = models.BooleanField(
        default=False, help_text="A secret value is never shown again once saved."
    )

    class Meta:
        # The order the client listed them in.
        ordering = ["deployment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "name"], name="environment_variable_unique_name"
            )
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.secret = self.secret or is_secret_key(self.name)
        super().save(*args, **kwargs)

    @property
    def shown_value(self):
        # A value in clear may still hold a URL with a password (DATABASE_URL): masked too.
        return MASK if self.secret else mask_text(self.value)

    def get_value_display(self):
        # Encrypted at rest always, but masked only when secret.
        return self.shown_value

    get_value_display.short_description = "value"

    def audit_data(self):
        return {
            "deployment": str(self.deployment),
            "name": self.name,
            "value": self.shown_value,
            "secret": self.secret,
        }


class StatusChange(models.Model):
    """One step of a deployment's status history: what it became, when, and who said so.

    Written by deployments.services only and never changed. Not audited itself: each step
    is also the audited change of its deployment's status.
    """

    namespace_lookup = "deployment__catalog_model__namespace__path"

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="status_history"
    )
    status = models.CharField(max_length=20, choices=DeploymentStatus.choices)
    traffic_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    user_name = models.CharField(max_length=150, blank=True)
    principal = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["deployment", "at", "id"]
        verbose_name = "status change"

    def __str__(self):
        return f"{self.deployment}: {self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


def serving_endpoints(version):
    """The endpoints `version` serves now (its deployments that started and have not
    stopped), sorted; uses a prefetch of `version.deployments` when there is one."""
    return sorted({deployment.endpoint for deployment in version.deployments.all()
                   if deployment.active_from is not None and deployment.active_until is None})


def deprecation_warnings(version, *, deprecated=None):
    """Why deprecating `version` is risky, one sentence each: the endpoints it still serves,
    then the aliases that still name it (ModelVersion.in_use_warnings). Empty when nothing
    relies on it, or when it is not (to be) deprecated (`deprecated`, default: its status)."""
    state = version.deprecation_state(deprecated)
    if state is None:
        return []
    return [*(f"{version.label} is {state} but still serves {endpoint}."
              for endpoint in serving_endpoints(version)),
            *version.in_use_warnings(deprecated=deprecated)]
