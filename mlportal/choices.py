from django.db import models


class ChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"


class Role(models.TextChoices):
    """What a grant allows on a namespace and below (see mlportal.access)."""

    EDITOR = "editor", "Editor: writes models, versions, artifacts, deployments, sub-namespaces"
    OWNER = "owner", "Owner: an editor who also manages the grants"
