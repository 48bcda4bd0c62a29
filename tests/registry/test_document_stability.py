"""A version's document stays exactly what it was: the performance work (fast serialisation,
fewer queries, bulk inserts) must not change one byte of it. The expected documents were
written by the serializer as it was before that work (tests/registry/data/)."""

import datetime
import json
from pathlib import Path

import pytest

from deployments.services import record_deployment
from registry import services
from registry.models import Artifact, ModelVersion

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
AT = datetime.datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=datetime.UTC)


@pytest.fixture
def fixed_version(catalog_model, superuser):
    """A version with link and uploaded artifacts, tags, two aliases and two deployments, all
    at fixed times."""
    services.register_version(namespace="/abc_corp/claim", model_name="doc_classification",
                              description="first", user=superuser)
    version = services.register_version(
        namespace="/abc_corp/claim", model_name="doc_classification",
        description="the one", created_by="arn:aws:iam::123456789012:role/train",
        create_at=AT, user=superuser,
        artifacts=[{"name": "model", "uri": "s3://bucket/claim/model.tar.gz"},
                   {"name": "metrics", "uri": "https://example.com/metrics.json"}],
        tags={"framework": "sklearn", "team": "claims", "empty": ""},
    )
    Artifact.objects.create(version=version, name="weights", uri="mlportal://artifacts/w.bin",
                            storage_key="w.bin", size=1234, sha256="ab" * 32,
                            registered_by=superuser, create_at=AT)
    services.set_alias(version=version, name="champion")
    services.set_alias(version=version, name="blessed")
    for number, (endpoint, when) in enumerate([
        ("https://claims.example.com/v1", AT + datetime.timedelta(days=1)),
        ("https://claims-canary.example.com/v1", AT + datetime.timedelta(days=2)),
    ], start=1):
        record_deployment(model_version=version, endpoint=endpoint, deployment_method="ecs",
                          rolling_strategy="canary", environment="production",
                          traffic_percent=10 * number, create_at=when, user=superuser)
    ModelVersion.objects.filter(pk=version.pk).update(update_at=AT)
    return version


def normalised(document, version):
    """The document with the ids a database assigns replaced by names."""
    document = json.loads(json.dumps(document))
    assert document.pop("id") == version.pk
    for deployment in document["deployments"]:
        deployment["id"] = f"deployment {deployment['deployment_id']}"
    return document


DOCUMENT_KEYS = ["id", "namespace", "model_name", "model_version", "description", "artifacts",
                 "create_at", "created_by", "status", "tags", "aliases", "registered_by",
                 "deployments", "serving", "warnings", "update_at"]
DEPLOYMENT_KEYS = ["id", "deployment_id", "endpoint", "environment", "deployment_method",
                   "rolling_strategy", "traffic_percent", "resource", "status", "active_from",
                   "active_until"]


def expected(name):
    return json.loads((DATA / name).read_text())


def test_a_versions_document_reads_as_before(admin_api, fixed_version):
    document = admin_api.get(f"/api/v1/versions/{fixed_version.pk}/").json()
    assert normalised(document, fixed_version) == expected("version_document.json")
    # The keys come in the same order, too.
    assert list(document) == DOCUMENT_KEYS
    assert [list(deployment) for deployment in document["deployments"]] == [DEPLOYMENT_KEYS] * 2
    assert [list(artifact) for artifact in document["artifacts"]] == [
        ["name", "uri"], ["name", "uri"], ["name", "uri", "size", "sha256"]]


def test_a_versions_document_in_a_list_reads_as_before(admin_api, fixed_version):
    listed = admin_api.get("/api/v1/versions/", {
        "namespace": "/abc_corp/claim", "model_name": "doc_classification",
        "model_version": fixed_version.model_version}).json()
    assert listed["count"] == 1
    assert normalised(listed["results"][0], fixed_version) == expected("version_document.json")


def test_a_new_versions_document_reads_as_before(admin_api, catalog_model):
    response = admin_api.post("/api/v1/versions/", {
        "namespace": "/abc_corp/claim", "model_name": "doc_classification",
        "description": "new", "created_by": "arn:aws:iam::123456789012:role/train",
        "create_at": "2024-03-01T12:30:15.123Z",
        "artifacts": [{"name": "model", "uri": "s3://bucket/claim/model.tar.gz"}],
        "tags": {"framework": "sklearn"},
    }, format="json")
    assert response.status_code == 201, response.content
    document = response.json()
    version = ModelVersion.objects.get(pk=document["id"])
    document["update_at"] = "<update_at>"
    assert normalised(document, version) == expected("new_version_document.json")
    # What the registration answered is what a read answers afterwards.
    read = admin_api.get(f"/api/v1/versions/{version.pk}/").json()
    read["update_at"] = "<update_at>"
    assert normalised(read, version) == normalised(document | {"id": version.pk}, version)
