from django.db import models


class DeploymentMethod(models.TextChoices):
    ECS = "ecs", "self hosted ECS"
    EKS = "eks", "self hosted EKS"
    LAMBDA = "lambda", "AWS Lambda"
    SAGEMAKER = "sagemaker", "AWS SageMaker"


class RollingStrategy(models.TextChoices):
    BLUE_GREEN = "blue_green", "blue-green"
    CANARY = "canary", "canary"
    ROLLING = "rolling", "rolling"


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "pending"
    ACTIVE = "active", "active"
    FAILED = "failed", "failed"
    ROLLED_BACK = "rolled_back", "rolled back"
    RETIRED = "retired", "retired"


# A deployment is recorded in one of these; the others are reached through the services.
RECORDABLE_STATUSES = (DeploymentStatus.PENDING, DeploymentStatus.ACTIVE)
# Statuses a deployment never leaves.
FINAL_STATUSES = (DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK, DeploymentStatus.RETIRED)


def describe(choices):
    """`ecs` (self hosted ECS), `eks` (...): what error messages list as allowed."""
    return ", ".join(f"{value} ({label})" if label != value else value
                     for value, label in choices.choices)


class DriftKind(models.TextChoices):
    """What a drift check finds: a deployment's record disagrees with what runs, something
    runs that no deployment records, or the account could not be read."""

    MISSING = "missing", "resource missing"
    ARTIFACT = "artifact", "different model artifact"
    TRAFFIC = "traffic", "different traffic share"
    ENV_ADDED = "env_added", "environment variable added"
    ENV_REMOVED = "env_removed", "environment variable removed"
    ENV_CHANGED = "env_changed", "environment variable changed"
    UNRECORDED = "unrecorded", "unrecorded resource"
    ACCESS_DENIED = "access_denied", "access denied"
    UNREACHABLE = "unreachable", "account unreachable"


# Findings about an account rather than about what runs in it.
ACCOUNT_KINDS = (DriftKind.ACCESS_DENIED, DriftKind.UNREACHABLE)
