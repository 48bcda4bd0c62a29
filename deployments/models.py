from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from catalog.models import CatalogModel, Namespace
from catalog.validators import validate_http_url
from deployments.choices import DeploymentMethod, DeploymentStatus, DriftKind, RollingStrategy
from deployments.validators import (
    ROLE_ARN,
    TRAFFIC_PERCENT_VALIDATORS,
    validate_account_id,
    validate_regions,
    validate_resource,
    validate_role_arn,
    validate_variable_name,
)
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
    resource = models.CharField(
        max_length=2048, blank=True, db_index=True,
        help_text="The ARN of what serves it in AWS: a SageMaker endpoint, an ECS service, a "
                  "Lambda function; for EKS the cluster's ARN followed by "
                  "/namespaces/<namespace>/deployments/<name>. Drift checks compare it with "
                  "this record.",
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
        if self.resource:
            try:
                validate_resource(self.deployment_method, self.resource)
            except ValidationError as exc:
                errors["resource"] = exc.messages
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
            "resource": self.resource,
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


class CloudAccountQuerySet(models.QuerySet):
    def last_check(self, deployments=None):
        """When a drift check last read the enabled accounts where `deployments` run (by
        their resources' account ids; default: any account), or None."""
        accounts = self.filter(enabled=True)
        if deployments is not None:
            ids = {resource.split(":")[4] for resource in
                   (d.resource for d in deployments) if resource.count(":") >= 5}
            accounts = accounts.filter(account_id__in=ids)
        return accounts.aggregate(last=models.Max("last_checked_at"))["last"]


class CloudAccount(models.Model):
    """An AWS account (and its regions) where deployments run, read by drift checks through
    an IAM role the portal assumes. The portal holds no AWS keys: its own credentials come
    from the usual chain (instance profile, environment, ...), and the role reads only.

    Managed by superusers (no namespace: the access rule leaves writes to them)."""

    audited = True

    name = models.CharField(max_length=100, unique=True)
    account_id = models.CharField(max_length=12, validators=[validate_account_id])
    regions = models.CharField(
        max_length=500, validators=[validate_regions],
        help_text="Comma-separated, such as us-east-1,eu-west-1.",
    )
    role_arn = models.CharField(
        "role ARN", max_length=2048, validators=[validate_role_arn],
        help_text="The role the portal assumes (STS AssumeRole) to read this account.",
    )
    external_id = EncryptedTextField(
        blank=True, help_text="The external id the role's trust policy asks for, if any. "
                              "Never shown again once saved.",
    )
    endpoint_url = models.CharField(
        "endpoint URL", max_length=2000, blank=True, validators=[validate_http_url],
        help_text="Leave empty for AWS itself; else the one URL that answers every AWS API "
                  "(a proxy, or a local emulator such as moto).",
    )
    enabled = models.BooleanField(default=True, help_text="Off: drift checks skip it.")
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    objects = CloudAccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "cloud account"

    def __str__(self):
        return f"{self.name} ({self.account_id})"

    def clean(self):
        match = ROLE_ARN.match(self.role_arn or "")
        if match and self.account_id and match["account"] != self.account_id:
            raise ValidationError({"role_arn": (
                f"The role to assume lives in the account it reads: {self.account_id}, "
                f"not {match['account']}."
            )})

    @property
    def region_list(self):
        return [region.strip() for region in self.regions.split(",") if region.strip()]

    def audit_data(self):
        return {
            "name": self.name,
            "account_id": self.account_id,
            "regions": self.regions,
            "role_arn": self.role_arn,
            "external_id": MASK if self.external_id else "",
            "endpoint_url": self.endpoint_url,
            "enabled": self.enabled,
        }


class DriftFindingQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_at__isnull=True)

    def resolved(self):
        return self.filter(resolved_at__isnull=False)


class DriftFinding(models.Model):
    """One way a deployment's record and what runs in AWS disagree, from when a check first
    saw it until a check no longer does. Written by deployments.reconcile (and resolved by
    deployments.services when an unrecorded resource is recorded); audited when it opens and
    when it closes.

    A secret variable's values are never stored here: `expected` and `found` mask them."""

    audited = True
    namespace_lookup = "deployment__catalog_model__namespace__path"
    # In its model's history; an unrecorded resource's finding belongs to no model.
    audit_parent = "deployment__catalog_model"

    account = models.ForeignKey(CloudAccount, on_delete=models.PROTECT, related_name="findings")
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.PROTECT, related_name="findings",
        help_text="Empty for what no deployment records, and for the account's own findings.",
    )
    kind = models.CharField(max_length=20, choices=DriftKind.choices)
    resource = models.CharField(max_length=2048, blank=True)
    subject = models.CharField(
        max_length=255, blank=True, help_text="The variable, variant or container concerned."
    )
    expected = models.TextField(blank=True)
    found = models.TextField(blank=True)
    found_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The registered version whose artifact runs there, if any.",
    )
    # What identifies the same finding from one check to the next.
    key = models.CharField(max_length=2400, editable=False)
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolution = models.CharField(max_length=255, blank=True)

    objects = DriftFindingQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = "drift finding"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "key"], condition=Q(resolved_at__isnull=True),
                name="drift_finding_open_once",
            ),
        ]

    def __str__(self):
        about = self.deployment if self.deployment_id else (self.resource or self.account)
        subject = f" {self.subject}" if self.subject else ""
        return f"{self.get_kind_display()}{subject}: {about}"

    @staticmethod
    def key_of(*, kind, deployment_id, resource, subject):
        return f"{kind}|{deployment_id or '-'}|{resource}|{subject}"

    @property
    def is_open(self):
        return self.resolved_at is None

    def audit_data(self):
        # Not last_seen_at: a check that sees it again changes nothing worth recording.
        return {
            "account": str(self.account),
            "deployment": str(self.deployment) if self.deployment_id else None,
            "kind": self.kind,
            "resource": self.resource,
            "subject": self.subject,
            "expected": self.expected,
            "found": self.found,
            "found_version": self.found_version_id,
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
            "resolution": self.resolution,
        }
def serving_endpoints(version):
    """The endpoints `version` serves now (its deployments that started and have not
    stopped), sorted; uses a prefetch of `version.deployments` when there is one."""
    return sorted({deployment.endpoint for deployment in version.deployments.all()
                   if deployment.active_from is not None and deployment.active_until is None})


def deprecation_warnings(version, *, deprecated=None, endpoints=None, aliases=None,
                         label=None):
    """Why deprecating `version` is risky, one sentence each: the endpoints it still serves
    (`endpoints` when the caller has them, else serving_endpoints), then the aliases that
    still name it (ModelVersion.in_use_warnings; `aliases` and the version's `label`
    likewise). Empty when nothing relies on it, or when it is not (to be) deprecated
    (`deprecated`, default: its status)."""
    state = version.deprecation_state(deprecated)
    if state is None:
        return []
    if endpoints is None:
        endpoints = serving_endpoints(version)
    label = label or version.label
    return [*(f"{label} is {state} but still serves {endpoint}." for endpoint in endpoints),
            *version.in_use_warnings(deprecated=deprecated, aliases=aliases, label=label)]
