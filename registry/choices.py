from django.db import models


class VersionStatus(models.TextChoices):
    READY = "ready", "Ready"
    DEPRECATED = "deprecated", "Deprecated"
