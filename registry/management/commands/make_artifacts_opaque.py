"""Rewrite the headers of artifacts stored on S3 before they were stored as opaque bytes."""

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError

from registry.models import Artifact
from registry.storage import ArtifactS3Storage


class Command(BaseCommand):
    help = (
        "Give every uploaded artifact on S3 the headers uploads get now: "
        "Content-Type application/octet-stream, no Content-Encoding (a .tar.gz stored with "
        "`gzip` is unpacked by the clients that download it), Content-Disposition naming the "
        "file. The bytes do not change. Safe to run again."
    )

    def handle(self, **options):
        storage = storages["artifacts"]
        if not isinstance(storage, ArtifactS3Storage):
            raise CommandError("The artifacts are not on S3 (ARTIFACT_STORAGE=s3): nothing to "
                               "rewrite.")
        changed = checked = 0
        for key in Artifact.objects.exclude(storage_key="").values_list(
                "storage_key", flat=True).iterator():
            checked += 1
            if storage.make_opaque(key):
                changed += 1
                self.stdout.write(f"rewrote the headers of {key}")
        self.stdout.write(f"{changed} of {checked} stored artifacts rewritten.")
