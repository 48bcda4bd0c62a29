"""Drift checks: compare each active deployment that names its resource with what runs there
(deployments.aws), and keep the differences as DriftFinding rows.

For each enabled cloud account and region:

- each active deployment whose `resource` lives there is compared with it: the resource is
  missing; none of its units runs an artifact of the recorded version (the finding says which
  registered version runs instead, if any); a SageMaker variant's share of the traffic is not
  the recorded one (a canary's percent; what a full rollout keeps beside its canaries); an
  environment variable was added, removed or changed (secrets compared by a keyed hash, never
  kept or shown);
- each SageMaker endpoint, and each ECS service or Lambda function running a registered
  artifact, that no active deployment names is "unrecorded";
- an account whose role is refused, or that cannot be reached, is a finding of its own; its
  other findings stay as they were, since nothing could be checked.

A finding opens the first time a check sees it, stays open while checks see it, and is
resolved by the first check that does not. Opening and resolving go to the audit trail.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.aws import AccountError, AccountReader
from deployments.choices import DeploymentMethod, DriftKind, RollingStrategy
from deployments.models import CloudAccount, Deployment, DriftFinding
from deployments.validators import parse_resource
from mlportal import audit
from mlportal.fields import keyed_digest
from mlportal.secrets import MASK, is_secret_key
from registry.models import Artifact

# Shares are weights turned into percents: half a percent apart is the same share.
TRAFFIC_TOLERANCE = 0.5
DIGEST_PURPOSE = "drift-environment"
NOT_SET = "(not set)"
NOT_RECORDED = "(not recorded)"
READABLE_METHODS = (DeploymentMethod.SAGEMAKER, DeploymentMethod.ECS, DeploymentMethod.LAMBDA)


@dataclass
class Observation:
    """A difference a check saw; becomes (or keeps open) a DriftFinding."""

    kind: str
    resource: str
    deployment: Deployment | None = None
    subject: str = ""
    expected: str = ""
    found: str = ""
    found_version: object = None

    @property
    def key(self):
        return DriftFinding.key_of(kind=self.kind, resource=self.resource, subject=self.subject,
                                   deployment_id=getattr(self.deployment, "pk", None))


@dataclass
class Report:
    """What a run did, for the command's summary and the task's log."""

    accounts: int = 0
    regions: int = 0
    deployments_checked: int = 0
    resources_listed: int = 0
    not_checked: list = field(default_factory=list)  # (deployment, why)
    observations: list = field(default_factory=list)
    opened: list = field(default_factory=list)
    kept_open: int = 0
    resolved: list = field(default_factory=list)
    account_errors: list = field(default_factory=list)  # (account, message)
    operations: set = field(default_factory=set)  # the IAM actions called

    @property
    def drift(self):
        return bool(self.observations)

    def by_kind(self):
        counts = defaultdict(int)
        for observation in self.observations:
            counts[observation.kind] += 1
        return dict(sorted(counts.items()))


def normalise_arn(arn):
    """The ARN as AWS lists it: SageMaker names are case-insensitive (ARNs carry them in
    lower case); a Lambda function is listed without the alias or version a deployment may
    name."""
    method, parts = parse_resource(arn)
    if method == DeploymentMethod.SAGEMAKER:
        return arn.lower()
    if method == DeploymentMethod.LAMBDA and parts.get("qualifier"):
        return arn[:-(len(parts["qualifier"]) + 1)]
    return arn


def _in(account, region):
    return Q(resource__contains=f":{region}:{account.account_id}:")


def active_with_resources():
    return (Deployment.objects.active().exclude(resource="")
            .select_related("model_version__catalog_model__namespace",
                            "catalog_model__namespace")
            .prefetch_related("environment_variables", "model_version__artifacts")
            .order_by("resource", "id"))


def plan(accounts):
    """[(account, region, [deployments])] for the accounts' regions, and the active
    deployments with a resource that no account covers (or that are not read: EKS)."""
    deployments = list(active_with_resources())
    steps, covered = [], set()
    for account in accounts:
        for region in account.region_list:
            here = [d for d in deployments
                    if f":{region}:{account.account_id}:" in d.resource
                    and d.deployment_method in READABLE_METHODS]
            covered.update(d.pk for d in here)
            steps.append((account, region, here))
    left = []
    for deployment in deployments:
        if deployment.pk in covered:
            continue
        if deployment.deployment_method not in READABLE_METHODS:
            left.append((deployment, "EKS deployments are not read (see the README)"))
        else:
            _, parts = parse_resource(deployment.resource)
            left.append((deployment, f"no enabled cloud account covers account "
                                     f"{parts.get('account')} in {parts.get('region')}"))
    return steps, left


IMAGE_SCHEME = "oci://"


def plain(uri):
    """An artifact URI as AWS shows it: a container image registered as oci://<image> is
    run as <image>."""
    return uri[len(IMAGE_SCHEME):] if uri.startswith(IMAGE_SCHEME) else uri


def _candidates(uris):
    return set(uris) | {IMAGE_SCHEME + uri for uri in uris if "://" not in uri}


class ArtifactIndex:
    """Which registered versions an artifact URI or digest belongs to, looked up once per run
    for all the URIs a region runs."""

    def __init__(self, running):
        uris = {uri for item in running for unit in item.units for uri in unit.uris}
        digests = {unit.sha256 for item in running for unit in item.units if unit.sha256}
        rows = Artifact.objects.filter(
            Q(uri__in=_candidates(uris)) | Q(sha256__in=digests)
        ).select_related("version__catalog_model__namespace")
        self.versions = defaultdict(list)
        for row in rows.order_by("id") if uris or digests else []:
            if plain(row.uri) in uris:
                self.versions[plain(row.uri)].append(row.version)
            if row.sha256 and row.sha256 in digests:
                self.versions[row.sha256].append(row.version)

    def version_of(self, unit, prefer=None):
        """The registered version `unit` runs, preferring one of `prefer`'s model."""
        found = [version for key in [*unit.uris, unit.sha256] if key
                 for version in self.versions.get(key, [])]
        if prefer is not None:
            found.sort(key=lambda version: version.catalog_model_id != prefer.catalog_model_id)
        return found[0] if found else None


def describe_version(version):
    if version is None:
        return "no registered version"
    model = version.catalog_model
    return f"version {version.model_version} of {model.namespace.path}/{model.model_name}"


def _runs(unit, artifacts):
    uris = {plain(artifact.uri) for artifact in artifacts}
    digests = {artifact.sha256 for artifact in artifacts if artifact.sha256}
    return bool(uris.intersection(unit.uris)) or (unit.sha256 and unit.sha256 in digests)


def _unit_text(unit):
    what = list(unit.uris) + ([f"sha256:{unit.sha256}"] if unit.sha256 else [])
    return f"{unit.name}: {', '.join(what) or '(nothing)'}"


def _secret(name, recorded):
    return is_secret_key(name) or (recorded is not None and recorded.secret)


def _shown(name, value, recorded=None):
    return MASK if _secret(name, recorded) else value


def compare(deployment, running, *, beside, index):
    """The observations for one deployment and its running resource. `beside`: the other
    active deployments naming the same resource (a canary and what it runs beside)."""
    resource = deployment.resource
    if running is None:
        return [Observation(DriftKind.MISSING, resource, deployment,
                            expected=f"{resource} exists", found="not found")]
    artifacts = list(deployment.model_version.artifacts.all())
    matching = [unit for unit in running.units if _runs(unit, artifacts)]
    observations = []
    if matching:
        unit = matching[0]
    else:
        claimed = {id(unit) for other in beside for unit in running.units
                   if _runs(unit, other.model_version.artifacts.all())}
        free = [unit for unit in running.units if id(unit) not in claimed]
        unit = (free or running.units or [None])[0]
        if artifacts:
            runs = [f"{_unit_text(u)} ({describe_version(index.version_of(u, deployment))})"
                    for u in running.units]
            found_version = next((index.version_of(u, deployment) for u in running.units
                                  if index.version_of(u, deployment)), None)
            observations.append(Observation(
                DriftKind.ARTIFACT, resource, deployment,
                expected=(f"{describe_version(deployment.model_version)}: "
                          + ", ".join(sorted(a.uri for a in artifacts))),
                found="; ".join(runs) or "no model", found_version=found_version))
    if unit is None:
        return observations
    if unit.share is not None:
        if deployment.rolling_strategy == RollingStrategy.CANARY:
            expected = deployment.traffic_percent or 0
        else:
            expected = 100 - sum(other.traffic_percent or 0 for other in beside
                                 if other.rolling_strategy == RollingStrategy.CANARY)
        if abs(unit.share - expected) > TRAFFIC_TOLERANCE:
            observations.append(Observation(
                DriftKind.TRAFFIC, resource, deployment, subject=unit.name,
                expected=f"{expected}%", found=f"{round(unit.share, 1):g}%"))
    observations += compare_environment(deployment, unit.environment)
    return observations


def compare_environment(deployment, running):
    """Variables added, removed or changed; a secret's values compared by keyed hash."""
    resource = deployment.resource
    recorded = {variable.name: variable for variable in deployment.environment_variables.all()}
    observations = []
    for name in sorted(set(recorded) | set(running)):
        stored = recorded.get(name)
        if stored is None:
            observations.append(Observation(
                DriftKind.ENV_ADDED, resource, deployment, subject=name,
                expected=NOT_RECORDED, found=_shown(name, running[name])))
        elif name not in running:
            observations.append(Observation(
                DriftKind.ENV_REMOVED, resource, deployment, subject=name,
                expected=_shown(name, stored.value, stored), found=NOT_SET))
        elif _secret(name, stored):
            if (keyed_digest(stored.value, purpose=DIGEST_PURPOSE)
                    != keyed_digest(str(running[name]), purpose=DIGEST_PURPOSE)):
                observations.append(Observation(
                    DriftKind.ENV_CHANGED, resource, deployment, subject=name,
                    expected=MASK, found=f"{MASK} (a different value)"))
        elif stored.value != str(running[name]):
            observations.append(Observation(
                DriftKind.ENV_CHANGED, resource, deployment, subject=name,
                expected=stored.value, found=str(running[name])))
    return observations


def unrecorded(running, index):
    """An observation when `running` (named by no active deployment) looks like model
    serving: any SageMaker endpoint; an ECS service or Lambda function running a registered
    artifact. Else None."""
    versions = [index.version_of(unit) for unit in running.units]
    if running.method != DeploymentMethod.SAGEMAKER and not any(versions):
        return None
    found = "; ".join(f"{_unit_text(unit)} ({describe_version(version)})"
                      for unit, version in zip(running.units, versions, strict=True))
    return Observation(DriftKind.UNRECORDED, running.arn, None,
                       expected="a deployment naming this resource",
                       found=f"{running.method}: {found or 'no model'}",
                       found_version=next((v for v in versions if v is not None), None))


def check_region(account, region, deployments, *, recorded_arns, report, progress=None):
    """Observations for one account and region. Raises AccountError."""
    reader = AccountReader(account, region)
    try:
        return _check_region(reader, deployments, recorded_arns=recorded_arns, report=report,
                             progress=progress)
    finally:
        report.operations |= reader.operations


def _check_region(reader, deployments, *, recorded_arns, report, progress):
    observations, cache = [], {}
    by_resource = defaultdict(list)
    for deployment in deployments:
        method, _ = parse_resource(deployment.resource)
        same = (deployment.resource.lower() if method == DeploymentMethod.SAGEMAKER
                else deployment.resource)
        by_resource[same].append(deployment)
    for arn, group in by_resource.items():
        cache[arn] = reader.read(group[0].resource)
    listed = [arn for arn in reader.list_resources() if normalise_arn(arn) not in recorded_arns]
    report.resources_listed += len(listed)
    unrecorded_running = [item for item in (reader.read(arn) for arn in listed) if item]
    index = ArtifactIndex([item for item in cache.values() if item] + unrecorded_running)
    for arn, group in by_resource.items():
        for deployment in group:
            beside = [other for other in group if other.pk != deployment.pk]
            observations += compare(deployment, cache[arn], beside=beside, index=index)
            report.deployments_checked += 1
            if progress:
                progress(deployment)
    for item in unrecorded_running:
        observation = unrecorded(item, index)
        if observation is not None:
            observations.append(observation)
    return observations


def _finding_fields(observation):
    return {"expected": observation.expected, "found": observation.found,
            "found_version": observation.found_version}


@transaction.atomic
def apply(account, observations, *, now, resolve_unseen, report):
    """Open, keep or resolve the account's findings after a check saw `observations`."""
    # One run at a time applies an account's findings: a second waits, then sees the first's.
    CloudAccount.objects.select_for_update().filter(pk=account.pk).first()
    current = {finding.key: finding for finding in
               DriftFinding.objects.select_for_update().filter(account=account).open()}
    seen, unchanged = set(), []
    for observation in observations:
        key = observation.key
        if key in seen:
            continue
        seen.add(key)
        finding = current.get(key)
        if finding is None:
            finding = DriftFinding.objects.create(
                account=account, deployment=observation.deployment, kind=observation.kind,
                resource=observation.resource, subject=observation.subject, key=key,
                opened_at=now, last_seen_at=now, **_finding_fields(observation))
            report.opened.append(finding)
            continue
        fields = _finding_fields(observation)
        if any(getattr(finding, name) != value for name, value in fields.items()):
            # Seen otherwise than before (another value, another version): an audited update.
            for name, value in fields.items():
                setattr(finding, name, value)
            finding.last_seen_at = now
            finding.save()
        else:
            unchanged.append(finding.pk)
        report.kept_open += 1
    # Seen as before: only when it was last seen changes (not audited: nothing happened).
    DriftFinding.objects.filter(pk__in=unchanged).update(last_seen_at=now)
    if resolve_unseen:
        for key, finding in current.items():
            if key not in seen:
                finding.resolved_at = now
                finding.resolution = "no longer found"
                finding.save()
                report.resolved.append(finding)


def reconcile(*, accounts=None, dry_run=False, progress=None, source="command"):
    """Check `accounts` (default: every enabled one) and return a Report. With `dry_run`,
    nothing is written: the report lists what a run would find. `progress(item)` is called
    once per deployment checked and once per account region."""
    if accounts is None:
        accounts = CloudAccount.objects.filter(enabled=True)
    accounts = list(accounts)
    report = Report(accounts=len(accounts))
    steps, report.not_checked = plan(accounts)
    recorded_arns = {normalise_arn(d.resource)
                     for d in Deployment.objects.active().exclude(resource="").only("resource")}
    by_account = defaultdict(list)
    for account, region, deployments in steps:
        by_account[account.pk].append((account, region, deployments))
    with audit.change_context(principal="reconcile_deployments", source=source):
        for regions in by_account.values():
            account = regions[0][0]
            observations, failed = [], None
            for _, region, deployments in regions:
                report.regions += 1
                try:
                    observations += check_region(account, region, deployments,
                                                 recorded_arns=recorded_arns, report=report,
                                                 progress=progress)
                except AccountError as exc:
                    failed = exc
                    report.account_errors.append((account, exc.message))
                    report.not_checked += [(d, f"{account} could not be read")
                                           for d in deployments]
                    observations.append(Observation(
                        exc.kind, account.role_arn if exc.kind == DriftKind.ACCESS_DENIED
                        else (account.endpoint_url or f"AWS {region}"),
                        expected=f"{account.role_arn} reads {account.account_id} in {region}",
                        found=exc.message))
                if progress:
                    progress(None)
            report.observations += observations
            if dry_run:
                continue
            now = timezone.now()
            apply(account, observations, now=now, resolve_unseen=failed is None, report=report)
            if failed is None:
                CloudAccount.objects.filter(pk=account.pk).update(last_checked_at=now)
    return report
