"""Helpers the tests share (fixtures live in the conftest modules; plain values and functions
live here, so that no test imports a conftest module)."""

import datetime
import subprocess
import textwrap

import boto3
from django.conf import settings

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"
STAGING = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_staging"


def day(month, number):
    return datetime.datetime(2023, month, number, tzinfo=datetime.UTC)


# Deployments

ENDPOINT = PROD  # the example deployment's endpoint


def at(text):
    """A moment in the example's January 2023, e.g. at("01-15 12:00")."""
    return datetime.datetime.strptime(f"2023-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=datetime.UTC)


# The catalog's Git cards

class GitRepo:
    """A real git repository in a temporary folder, to commit catalog documents into."""

    def __init__(self, path):
        self.path = path
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args):
        return subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
            cwd=self.path, check=True, capture_output=True, text=True,
        ).stdout.strip()

    @property
    def url(self):
        return f"file://{self.path}"

    def write(self, relative, text):
        file = self.path / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(text).lstrip("\n"))

    def move(self, source, destination):
        (self.path / destination).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", source, destination)

    def remove(self, relative):
        self.git("rm", "--quiet", relative)

    def commit(self, message="Change the cards"):
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


# S3 through moto's server

S3_CREDENTIALS = {"access_key": "testing", "secret_key": "testing", "region_name": "us-east-1"}


def s3_client(endpoint):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=S3_CREDENTIALS["access_key"],
        aws_secret_access_key=S3_CREDENTIALS["secret_key"],
        region_name=S3_CREDENTIALS["region_name"],
    )


def s3_storage_settings(endpoint, bucket, **options):
    """The settings' S3 artifact storage, pointed at `endpoint` and `bucket`."""
    return {
        "BACKEND": "registry.storage.ArtifactS3Storage",
        "OPTIONS": {
            "bucket_name": bucket, "endpoint_url": endpoint, "file_overwrite": False,
            "default_acl": None, "querystring_expire": 300,
            "transfer_config": settings.ARTIFACT_TRANSFER_CONFIG, **S3_CREDENTIALS, **options,
        },
    }
