"""Deployment workflows: recording a rollout, its status changes, promotion and rollback.

The API, the admin actions and the demo loader call these; none repeats their rules:

- A deployment is recorded `active` (from its `create_at`) or `pending`.
- When a blue-green or rolling deployment becomes active, the deployments active at its
  endpoint retire at that moment. A canary runs beside them until it is promoted (then
  they retire) or rolled back.
- The deployments of an endpoint are recorded in time order, so its history never has to
  be rewritten.
- Every status change (and every change of a canary's traffic share) is kept, with who and
  when, in the deployment's status history.
- An endpoint belongs to the namespace that first recorded a deployment at it (an
  `Endpoint` row, unique per URL, so that of two namespaces racing to claim a new endpoint
  one wins). Every write at an endpoint (recording, status changes, promotion, rollback,
  changes of a recorded deployment) needs the editor role on the endpoint's namespace as
  well as on the deployment's own.
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from catalog.models import CatalogModel
from deployments.aws import AccountError, AccountReader
from deployments.choices import (
    FINAL_STATUSES,
    RECORDABLE_STATUSES,
    DeploymentMethod,
    DeploymentStatus,
    DriftKind,
    RollingStrategy,
)
from deployments.models import (
    CloudAccount,
    Deployment,
    DriftFinding,
    Endpoint,
    EnvironmentVariable,
    StatusChange,
)
from deployments.validators import parse_resource
from mlportal import access, events
from mlportal.context import acting_user, current_context
from mlportal.secrets import MASK, is_secret_key, merge_masked_text

# A client's clock may run a little ahead of ours; further ahead, its create_at is a mistake.
CLOCK_SKEW = timedelta(minutes=5)

# The event a status change emits.
STATUS_EVENTS = {
    DeploymentStatus.ACTIVE: events.DEPLOYMENT_ACTIVATED,
    DeploymentStatus.RETIRED: events.DEPLOYMENT_RETIRED,
    DeploymentStatus.FAILED: events.DEPLOYMENT_FAILED,
}

# Fields that say what was deployed where: a recorded deployment keeps them.
RECORDED_FIELDS = ("model_version", "deployment_id", "create_at", "endpoint",
                   "deployment_method", "rolling_strategy")


def _actor(user, principal):
    """Who makes a change: the given user and principal, else the audit context's."""
    context = current_context()
    if principal is None:
        principal = context.principal if context is not None else ""
    if user is not None and not user.is_authenticated:
        user = None
    return user, principal or ""


def endpoint_namespace(endpoint):
    """The path of the namespace `endpoint` belongs to; None for an endpoint never used."""
    return Endpoint.objects.filter(url=endpoint).values_list("namespace__path", flat=True).first()


def _require_endpoint(endpoint, namespace, user):
    user = user if user is not None else acting_user()
    if user is None or namespace is None:  # the system itself (a command, a migration)
        return
    if not access.can_write_namespace(user, namespace):
        raise PermissionDenied(
            f"The endpoint {endpoint} belongs to {namespace}, the namespace that first "
            f"deployed there: deploying at it needs the editor role on {namespace} too (a "
            "grant there or above).")


def check_endpoint(*, endpoint, user):
    """PermissionDenied unless `user` may act at `endpoint` (free, or its namespace's editor).
    For forms that want to say so before recording; the services check it themselves."""
    _require_endpoint(endpoint, endpoint_namespace(endpoint), user)


def _claim_endpoint(deployment, user):
    """The endpoint of a deployment being recorded, claimed for its namespace if new;
    PermissionDenied if it belongs to a namespace the user may not write in."""
    endpoint, _ = Endpoint.objects.get_or_create(
        url=deployment.endpoint, defaults={"namespace": deployment.catalog_model.namespace})
    _require_endpoint(deployment.endpoint, endpoint.namespace.path, user)


def _add_status_change(deployment, *, at, user, principal, reason=""):
    StatusChange.objects.create(
        deployment=deployment, status=deployment.status,
        traffic_percent=deployment.traffic_percent, at=at, user=user,
        user_name=user.get_username() if user else "", principal=principal, reason=reason[:255],
    )


def _check_in_time_order(deployment, at, *, field="create_at"):
    later = (
        Deployment.objects.filter(endpoint=deployment.endpoint)
        .filter(Q(active_from__gt=at) | Q(active_until__gt=at))
        .exclude(pk=deployment.pk).order_by("-active_from").first()
    )
    if later is not None:
        raise ValidationError({field: (
            f"The deployments of an endpoint are recorded in time order: {later} served "
            f"{deployment.endpoint} after {at.isoformat()}, when this one would start."
        )})


def _stop(deployment, *, status, at, user, principal, reason, replaced_by=None):
    deployment.status = status
    deployment.active_until = at if deployment.active_from is not None else None
    if replaced_by is not None:
        deployment.replaced_by = replaced_by
    deployment.save()
    _add_status_change(deployment, at=at, user=user, principal=principal, reason=reason)


def _retire_others(deployment, *, at, user, principal, reason):
    others = (
        Deployment.objects.active().filter(endpoint=deployment.endpoint)
        .exclude(pk=deployment.pk).select_related("model_version", "catalog_model__namespace")
        .select_for_update(of=("self",))
    )
    retired = []
    for other in others:
        _stop(other, status=DeploymentStatus.RETIRED, at=at, user=user, principal=principal,
              reason=reason, replaced_by=deployment)
        events.emit(events.DEPLOYMENT_RETIRED, other)
        retired.append(other)
    return retired


def _activate(deployment, *, at, user, principal, reason):
    if deployment.rolling_strategy != RollingStrategy.CANARY:
        _retire_others(deployment, at=at, user=user, principal=principal,
                       reason=f"replaced by {deployment}")
    deployment.status = DeploymentStatus.ACTIVE
    deployment.active_from = at
    deployment.save()
    _add_status_change(deployment, at=at, user=user, principal=principal, reason=reason)


def _save_variables(deployment, variables, stored=None):
    """Make the deployment's variables those of `variables` ({"name", "value", "secret"} each):
    matched by name, added, or removed.

    A value equal to the mask stands for the stored value of that name (clients send back what
    they read) and keeps it as secret as it was: a secret cannot be revealed by unflagging it.
    `stored`: the deployment's variables, when the caller knows them (none for a new one).
    """
    if not isinstance(variables, list | tuple) or not all(
        isinstance(variable, dict) for variable in variables
    ):
        raise ValidationError({"environment_variables": (
            'A list of variables, each {"name": ..., "value": ..., "secret": true|false}.'
        )})
    names = [variable.get("name") for variable in variables]
    repeated = sorted({str(name) for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationError({"environment_variables": (
            f"Each name appears once; listed more than once: {', '.join(repeated)}."
        )})
    if stored is None:
        stored = deployment.environment_variables.all()
    stored = {row.name: row for row in stored}
    rows, errors = [], []
    for variable in variables:
        name, value = variable.get("name", ""), variable.get("value", "")
        row = stored.get(name) or EnvironmentVariable(deployment=deployment, name=name)
        secret = bool(variable.get("secret", False))
        if value == MASK:
            if row.pk is None:
                errors.append(f"{name}: {MASK} stands for a stored value, and this deployment "
                              "has no variable of that name.")
                continue
            secret = secret or row.secret
        else:
            # A URL read with its password masked keeps the stored password.
            row.value = merge_masked_text(value, row.value) if row.pk else value
        row.secret = secret
        try:
            row.full_clean(exclude=["deployment"], validate_unique=False,
                           validate_constraints=False)
        except ValidationError as exc:
            errors.extend(f"{name or '(no name)'}: {message}" for message in exc.messages)
        rows.append(row)
    if errors:
        raise ValidationError({"environment_variables": errors})
    kept = {row.name for row in rows}
    for name, row in stored.items():
        if name not in kept:
            row.delete()
    for row in rows:
        row.save()


def _id_taken(deployment):
    return Deployment.objects.filter(
        catalog_model_id=deployment.catalog_model_id, deployment_id=deployment.deployment_id
    ).exclude(pk=deployment.pk).exists()


def _id_taken_error(deployment):
    return ValidationError({"deployment_id": ValidationError(
        f"{deployment.catalog_model} already has a deployment {deployment.deployment_id}.",
        code="unique")})


def validate_new_deployment(deployment, *, status):
    """What a deployment must meet, beyond its own fields, to be recorded with `status`:
    a create_at that has happened, a recordable status, a free deployment_id, and (when it is
    recorded active) its place at the end of its endpoint's history."""
    now = timezone.now()
    if deployment.create_at > now + CLOCK_SKEW:
        raise ValidationError({"create_at": "A deployment is recorded once it has happened: "
                                            "create_at is in the future."})
    if status not in RECORDABLE_STATUSES:
        raise ValidationError({"status": (
            f"A deployment is recorded as {' or '.join(RECORDABLE_STATUSES)}; "
            "it reaches the other statuses later."
        )})
    if deployment.deployment_id is not None and _id_taken(deployment):
        raise _id_taken_error(deployment)
    if status == DeploymentStatus.ACTIVE:
        _check_in_time_order(deployment, min(deployment.create_at, now))


def _assign_deployment_id(deployment):
    # Lock the model's row: concurrent recordings for one model take their numbers in turn.
    CatalogModel.objects.select_for_update().filter(pk=deployment.catalog_model_id).first()
    if deployment.deployment_id is not None:
        if _id_taken(deployment):
            raise _id_taken_error(deployment)
        return
    last = Deployment.objects.filter(catalog_model_id=deployment.catalog_model_id).aggregate(
        last=Max("deployment_id"))["last"]
    deployment.deployment_id = (last or 0) + 1


@transaction.atomic
def record_deployment(*, model_version, endpoint, deployment_method, rolling_strategy,
                      environment="", environment_variables=(), traffic_percent=None,
                      status=DeploymentStatus.ACTIVE, deployment_id=None, create_at=None,
                      resource="", user=None, principal=None, reason="recorded"):
    """Record a rollout of `model_version` at `endpoint`; active from `create_at` (default:
    now) unless `status` is pending. `reason` goes into its status history. Returns the saved
    Deployment."""
    user, principal = _actor(user, principal)
    now = timezone.now()
    deployment = Deployment(
        model_version=model_version, catalog_model=model_version.catalog_model,
        endpoint=endpoint, deployment_method=deployment_method,
        rolling_strategy=rolling_strategy, environment=environment,
        traffic_percent=traffic_percent, create_at=create_at or now,
        status=DeploymentStatus.PENDING, deployment_id=deployment_id, resource=resource or "",
    )
    # The version and its model are rows already: no need to look them up again.
    deployment.full_clean(exclude=["deployment_id", "model_version", "catalog_model"],
                          validate_constraints=False, validate_unique=False)
    validate_new_deployment(deployment, status=status)
    _claim_endpoint(deployment, user)
    _assign_deployment_id(deployment)
    deployment.save()
    _save_variables(deployment, list(environment_variables), stored=())
    if status == DeploymentStatus.ACTIVE:
        _activate(deployment, at=min(deployment.create_at, now), user=user,
                  principal=principal, reason=reason)
    else:
        _add_status_change(deployment, at=deployment.create_at, user=user, principal=principal,
                           reason=reason)
    events.emit(events.DEPLOYMENT_RECORDED, deployment)
    return deployment


def _locked(deployment, user):
    """The deployment, locked, once `user` may act at its endpoint."""
    deployment = (Deployment.objects.select_for_update(of=("self",))
                  .select_related("model_version", "catalog_model__namespace")
                  .get(pk=deployment.pk))
    check_endpoint(endpoint=deployment.endpoint, user=user)
    return deployment


@transaction.atomic
def change_status(*, deployment, status, at=None, user=None, principal=None, reason=""):
    """Move a deployment to `status`: pending -> active, failed or retired; active -> failed or
    retired (rolled_back is what `rollback` does). Setting the current status changes nothing.
    """
    user, principal = _actor(user, principal)
    deployment = _locked(deployment, user)
    at = at or timezone.now()
    if status == deployment.status:
        return deployment
    if status not in DeploymentStatus.values:
        raise ValidationError({"status": f"Choose one of {', '.join(DeploymentStatus.values)}."})
    if status == DeploymentStatus.ROLLED_BACK:
        raise ValidationError({"status": (
            "A deployment is rolled back with the rollback action (POST "
            f"/api/v1/deployments/{deployment.pk}/rollback/), which restores what ran before."
        )})
    if deployment.status in FINAL_STATUSES:
        raise ValidationError({"status": (
            f"{deployment} is {deployment.get_status_display()}, which is final; "
            "record a new deployment instead."
        )})
    if status == DeploymentStatus.PENDING:
        raise ValidationError({"status": f"{deployment} is active already; it cannot "
                                         "become pending again."})
    if status == DeploymentStatus.ACTIVE:
        _check_in_time_order(deployment, at, field="status")
        _activate(deployment, at=at, user=user, principal=principal, reason=reason or "activated")
    else:
        _stop(deployment, status=status, at=at, user=user, principal=principal,
              reason=reason or ("failed" if status == DeploymentStatus.FAILED else "retired"))
    events.emit(STATUS_EVENTS[status], deployment)
    return deployment


@transaction.atomic
def promote(*, deployment, at=None, user=None, principal=None):
    """An active canary takes all the traffic: the others at its endpoint retire."""
    user, principal = _actor(user, principal)
    deployment = _locked(deployment, user)
    at = at or timezone.now()
    if deployment.rolling_strategy != RollingStrategy.CANARY:
        raise ValidationError({"rolling_strategy": (
            f"Only a canary is promoted; {deployment} is a "
            f"{deployment.get_rolling_strategy_display()} deployment."
        )})
    if deployment.status != DeploymentStatus.ACTIVE:
        raise ValidationError({"status": (
            f"Only an active canary is promoted; {deployment} is "
            f"{deployment.get_status_display()}."
        )})
    retired = _retire_others(deployment, at=at, user=user, principal=principal,
                             reason=f"replaced by {deployment} (promoted canary)")
    if retired or deployment.traffic_percent != 100:
        deployment.traffic_percent = 100
        deployment.save()
        _add_status_change(deployment, at=at, user=user, principal=principal, reason="promoted")
        events.emit(events.DEPLOYMENT_PROMOTED, deployment)
    return deployment


def _predecessor(deployment):
    """The deployment that served the endpoint before `deployment` took it over: of those it
    replaced, the one that carried the most traffic, then the latest."""
    replaced = list(deployment.replaced.select_related("model_version"))
    if not replaced:
        return None
    return max(replaced, key=lambda d: (d.traffic_percent or 100, d.active_from, d.pk))


@transaction.atomic
def rollback(*, deployment, at=None, user=None, principal=None):
    """Undo an active deployment. A canary that was not promoted just stops (what it ran
    beside keeps serving); otherwise the version that served the endpoint before is deployed
    again, as a new deployment, and this one is marked rolled back.

    Returns the new deployment, or None when a canary was withdrawn.
    """
    user, principal = _actor(user, principal)
    deployment = _locked(deployment, user)
    at = at or timezone.now()
    if deployment.status != DeploymentStatus.ACTIVE:
        raise ValidationError({"status": (
            f"Only an active deployment is rolled back; {deployment} is "
            f"{deployment.get_status_display()}."
        )})
    previous = _predecessor(deployment)
    if previous is None and deployment.rolling_strategy == RollingStrategy.CANARY:
        _stop(deployment, status=DeploymentStatus.ROLLED_BACK, at=at, user=user,
              principal=principal, reason="canary rolled back")
        events.emit(events.DEPLOYMENT_ROLLED_BACK, deployment)
        return None
    if previous is None:
        raise ValidationError({"endpoint": (
            f"Nothing served {deployment.endpoint} before {deployment}, so there is no "
            "version to roll back to; retire it instead."
        )})
    _stop(deployment, status=DeploymentStatus.ROLLED_BACK, at=at, user=user,
          principal=principal,
          reason=f"rolled back to version {previous.model_version.model_version}")
    strategy = (previous.rolling_strategy if previous.rolling_strategy != RollingStrategy.CANARY
                else RollingStrategy.BLUE_GREEN)
    restored = record_deployment(
        model_version=previous.model_version, endpoint=deployment.endpoint,
        deployment_method=previous.deployment_method, rolling_strategy=strategy,
        environment=previous.environment, create_at=at, user=user, principal=principal,
        reason=f"rollback of {deployment}", resource=previous.resource,
        environment_variables=[
            {"name": v.name, "value": v.value, "secret": v.secret}
            for v in previous.environment_variables.all()
        ],
    )
    deployment.replaced_by = restored
    deployment.save()
    events.emit(events.DEPLOYMENT_ROLLED_BACK, deployment)
    return restored


@transaction.atomic
def update_deployment(*, deployment, user=None, principal=None, **fields):
    """Change what may change on a recorded deployment: environment, environment variables,
    a canary's traffic percent, the resource that serves it and the status. The fields that
    say what was deployed where may be sent again unchanged; a different value is refused."""
    user, principal = _actor(user, principal)
    deployment = _locked(deployment, user)
    errors = {
        name: (f"A recorded deployment's {name} does not change; record a new deployment "
               "instead.")
        for name in RECORDED_FIELDS
        if name in fields and fields[name] is not None and fields[name] != getattr(deployment, name)
    }
    if errors:
        raise ValidationError(errors)
    if "environment" in fields:
        deployment.environment = fields["environment"]
    if "resource" in fields:
        deployment.resource = fields["resource"] or ""
    traffic_changed = (
        "traffic_percent" in fields and fields["traffic_percent"] != deployment.traffic_percent
    )
    if traffic_changed and deployment.status in FINAL_STATUSES:
        raise ValidationError({"traffic_percent": (
            f"{deployment} is {deployment.get_status_display()}: its traffic share is history."
        )})
    if traffic_changed:
        deployment.traffic_percent = fields["traffic_percent"]
    deployment.full_clean(validate_constraints=False, validate_unique=False)
    deployment.save()
    if traffic_changed:
        _add_status_change(deployment, at=timezone.now(), user=user, principal=principal,
             reason=f"traffic {deployment.traffic_percent}%")
    if "environment_variables" in fields:
        _save_variables(deployment, list(fields["environment_variables"]))
    if "status" in fields:
        deployment = change_status(deployment=deployment, status=fields["status"], user=user,
                                   principal=principal)
    return deployment


def endpoint_of(running, parts):
    """The invocation URL AWS gives a SageMaker endpoint or a Lambda function; None for an
    ECS service (its load balancer's address is the owner's to say)."""
    region, name = parts.get("region"), parts.get("name")
    if running.method == DeploymentMethod.SAGEMAKER:
        return f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{name}/invocations"
    if running.method == DeploymentMethod.LAMBDA:
        return (f"https://lambda.{region}.amazonaws.com/2015-03-31/functions/{name}"
                "/invocations")
    return None


@transaction.atomic
def record_unrecorded(*, finding, model_version=None, endpoint=None,
                      rolling_strategy=RollingStrategy.BLUE_GREEN, environment="", user=None,
                      principal=None):
    """Record what an open "unrecorded" finding saw running as a deployment, in one step:
    the resource is read again (read-only), its version is the one whose artifact it runs
    (or `model_version`), its variables are those it runs with (secret-looking names kept
    secret), and the finding is resolved by the new deployment. Returns the deployment."""
    user, principal = _actor(user, principal)
    finding = DriftFinding.objects.select_for_update().select_related("account").get(
        pk=finding.pk)
    if finding.kind != DriftKind.UNRECORDED:
        raise ValidationError({"kind": (
            f"Only an unrecorded resource is recorded as a deployment; this finding is "
            f"{finding.get_kind_display()}.")})
    if not finding.is_open:
        raise ValidationError({"resolved_at": (
            f"This finding was resolved at {finding.resolved_at.isoformat()} "
            f"({finding.resolution}).")})
    model_version = model_version or finding.found_version
    if model_version is None:
        raise ValidationError({"model_version": (
            "What runs there is no registered version's artifact: name the version to record.")})
    method, parts = parse_resource(finding.resource)
    try:
        running = AccountReader(finding.account, parts["region"]).read(finding.resource)
    except AccountError as exc:
        raise ValidationError({"resource": f"It could not be read again: {exc.message}"}) from exc
    if running is None:
        raise ValidationError({"resource": f"{finding.resource} no longer exists."})
    endpoint = endpoint or endpoint_of(running, parts)
    if not endpoint:
        raise ValidationError({"endpoint": (
            "An ECS service has no address AWS gives it: name the endpoint its clients call.")})
    variables = {}
    for unit in running.units:
        variables.update(unit.environment)
    deployment = record_deployment(
        model_version=model_version, endpoint=endpoint, deployment_method=method,
        rolling_strategy=rolling_strategy, environment=environment, resource=finding.resource,
        environment_variables=[
            {"name": name, "value": str(value), "secret": is_secret_key(name)}
            for name, value in sorted(variables.items())],
        user=user, principal=principal, reason=f"recorded from drift finding {finding.pk}",
    )
    finding.deployment = deployment
    finding.resolved_at = timezone.now()
    finding.resolution = f"recorded as {deployment}"
    finding.save()
    return deployment


@transaction.atomic
def save_cloud_account(*, instance=None, **fields):
    """Create or change a cloud account (superusers: the access guard checks the save). An
    `external_id` equal to the mask, or left out, keeps the stored one."""
    account = instance or CloudAccount()
    if fields.get("external_id") == MASK:
        fields.pop("external_id")
    for name, value in fields.items():
        setattr(account, name, value)
    account.full_clean()
    account.save()
    if account.enabled:
        from deployments.tasks import schedule_drift_check

        # The periodic check starts with the first account (one run is queued at a time).
        transaction.on_commit(schedule_drift_check)
    return account
class _PreviewDone(Exception):
    """Raised inside a preview's savepoint to roll it back."""


def serving(endpoint):
    """What serves `endpoint` now: its active deployments, the full rollout first, then
    canaries by traffic."""
    return sorted(
        Deployment.objects.active().filter(endpoint=endpoint)
        .select_related("model_version__catalog_model__namespace"),
        key=lambda d: (d.rolling_strategy == RollingStrategy.CANARY, -(d.traffic_percent or 100)),
    )


OPERATIONS = {"rollback": rollback, "promote": promote}


def preview(*, deployment, operation, user=None, principal=None):
    """What would serve the deployment's endpoint after `operation` ("rollback" or
    "promote"), without doing it: the operation runs, through this module's own workflow, in
    a savepoint that is then rolled back (with the audit records and events it made).

    Returns {"before": [...], "after": [...]}, each a list of unsaved-looking descriptions
    {"version", "deployment_id" (None for a deployment the operation would record),
    "rolling_strategy", "traffic_percent", "deployment_method", "environment"}. Raises the
    ValidationError the operation would raise.
    """
    def describe(deployments, new=()):
        return [{
            "version": d.model_version.label, "model": str(d.catalog_model),
            "deployment_id": None if d.pk in new else d.deployment_id,
            "rolling_strategy": d.get_rolling_strategy_display(),
            "traffic_percent": d.traffic_percent,
            "deployment_method": d.get_deployment_method_display(),
            "environment": d.environment,
        } for d in deployments]

    before = serving(deployment.endpoint)
    known = set(Deployment.objects.filter(endpoint=deployment.endpoint)
                .values_list("pk", flat=True))
    result = {"before": describe(before)}
    try:
        with transaction.atomic():
            OPERATIONS[operation](deployment=deployment, user=user, principal=principal)
            after = serving(deployment.endpoint)
            new = {d.pk for d in after} - known
            result["after"] = describe(after, new)
            raise _PreviewDone
    except _PreviewDone:
        pass
    deployment.refresh_from_db()
    return result
